/**
 * The master's certificate authority: its key and certificate, the TLS server's, and the signing of
 * client certificates (users, compute nodes, instances) that mutual TLS then authenticates.
 * Keys live in DIR (0700) as 0600 PKCS#8 PEM files; see files.ts for the checks on reading them.
 */
import { X509Certificate, createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { Clock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import {
  EC_P256_SHA256,
  certificateValidity,
  generateEcKeyPair,
  privateKeyPem,
  spkiOf,
  x509,
} from '../../lib/x509.ts';
import {
  checkClientIdentity,
  clientIdentity,
  coversNames,
  createCaCertificate,
  createClientCertificate,
  createServerCertificate,
  serverNames,
  type CertificateKind,
  type Issuer,
} from './certificates.ts';
import { checkCertificateRequest } from './csr.ts';
import { CA_FILES, prepareDirectory, readCaFile, writeCaFile } from './files.ts';

export type { CertificateKind } from './certificates.ts';

/** A server certificate with less than this left is replaced at start. */
const SERVER_RENEW_BEFORE_SECONDS = 30 * 86400;

export interface IssuedCertificate {
  certificatePem: string;
  /** Lowercase hex, as node's X509Certificate.serialNumber prints it. */
  serial: string;
  /** Float seconds since the epoch. */
  notAfter: number;
}

export interface IssueOptions {
  kind: CertificateKind;
  /** User name, `COMP-<n>` or `SOFTINST-<n>`: the certificate's CN. */
  id: string;
  validityDays: number;
}

export interface SignRequestOptions extends IssueOptions {
  /** When given, a request with a non-empty subject must name exactly `CN=<expectedCommonName>`. */
  expectedCommonName?: string | undefined;
}

export interface PeerIdentity {
  serial: string;
  kind: CertificateKind;
  id: string;
  notAfter: number;
}

export interface CertificateAuthority {
  readonly caCertificatePem: string;
  readonly serverKeyPem: string;
  readonly serverCertificatePem: string;
  /** Signs the key of a PEM certificate request (checked by csr.ts) with subject `CN=<id>, O=<kind>`. */
  signRequest(csrPem: string, options: SignRequestOptions): Promise<IssuedCertificate>;
  /** A fresh key and its certificate (for instances: the master hands both over and keeps neither key). */
  issueKeyAndCertificate(options: IssueOptions): Promise<IssuedCertificate & { keyPem: string }>;
  /** Who a client certificate names, when this CA signed it with our subject shape; else undefined. */
  inspectPeer(certificate: PeerCertificate | X509Certificate): PeerIdentity | undefined;
}

export interface OpenCertificateAuthorityOptions {
  dir: string;
  /** Names the server is reached by (DNS names or IP addresses); localhost, 127.0.0.1 and ::1 are always added. */
  hostNames: readonly string[];
  clock: Clock;
  logger: Logger;
}

interface KeyAndCertificate {
  keyPem: string;
  key: KeyObject;
  certificate: X509Certificate;
}

function configError(message: string, cause?: unknown): SlapError {
  return new SlapError('SLAP_ERR_CONFIG', message, cause === undefined ? {} : { cause });
}

/** Parses a key and a certificate read from DIR; SLAP_ERR_CONFIG naming the files (never their content). */
function parsePair(
  keyPem: string,
  certificatePem: string,
  keyName: string,
  certificateName: string,
): KeyAndCertificate {
  let key: KeyObject;
  let certificate: X509Certificate;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw configError(`${keyName} is not a PEM private key.`, error);
  }
  try {
    certificate = new X509Certificate(certificatePem);
  } catch (error) {
    throw configError(`${certificateName} is not a PEM certificate.`, error);
  }
  return { keyPem, key, certificate };
}

function keyMatches(pair: KeyAndCertificate): boolean {
  return spkiOf(createPublicKey(pair.key)).equals(spkiOf(pair.certificate.publicKey));
}

function signedBy(certificate: X509Certificate, ca: X509Certificate): boolean {
  return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
}

async function createCa(dir: string, clock: Clock, logger: Logger): Promise<KeyAndCertificate> {
  const keys = await generateEcKeyPair();
  const keyPem = await privateKeyPem(keys.privateKey);
  const certificate = await createCaCertificate(keys, clock.now());
  await writeCaFile(dir, CA_FILES.caKey, keyPem, true);
  await writeCaFile(dir, CA_FILES.caCertificate, certificate.toString('pem') + '\n', false);
  logger.info({ dir, serial: certificate.serialNumber.toLowerCase() }, 'certificate authority created');
  return parsePair(keyPem, certificate.toString('pem'), CA_FILES.caKey, CA_FILES.caCertificate);
}

async function loadOrCreateCa(dir: string, clock: Clock, logger: Logger): Promise<KeyAndCertificate> {
  const keyPem = await readCaFile(dir, CA_FILES.caKey, true);
  const certificatePem = await readCaFile(dir, CA_FILES.caCertificate, false);
  if (keyPem === undefined && certificatePem === undefined) return createCa(dir, clock, logger);
  if (keyPem === undefined || certificatePem === undefined) {
    const missing = keyPem === undefined ? CA_FILES.caKey : CA_FILES.caCertificate;
    throw configError(
      `${dir} has a certificate authority without its ${missing}; restore it, or move both ca.key and ca.crt away to create a new one.`,
    );
  }
  const pair = parsePair(keyPem, certificatePem, CA_FILES.caKey, CA_FILES.caCertificate);
  if (!keyMatches(pair))
    throw configError(`${CA_FILES.caKey} in ${dir} does not match ${CA_FILES.caCertificate}.`);
  if (!pair.certificate.ca) throw configError(`${CA_FILES.caCertificate} in ${dir} is not a CA certificate.`);
  if (certificateValidity(pair.certificate).notAfter <= clock.now()) {
    throw configError(`${CA_FILES.caCertificate} in ${dir} has expired.`);
  }
  return pair;
}

/** Why the server certificate on disk cannot be kept, or undefined when it can. */
function serverReplacementReason(
  pair: KeyAndCertificate,
  ca: X509Certificate,
  hostNames: readonly string[],
  now: number,
): string | undefined {
  if (!signedBy(pair.certificate, ca)) return 'not signed by the certificate authority';
  if (!keyMatches(pair)) return 'does not match server.key';
  if (!coversNames(pair.certificate, hostNames)) return 'does not cover every host name';
  if (certificateValidity(pair.certificate).notAfter - now < SERVER_RENEW_BEFORE_SECONDS)
    return 'expires soon';
  return undefined;
}

async function loadOrIssueServer(
  dir: string,
  issuer: Issuer,
  options: OpenCertificateAuthorityOptions,
): Promise<KeyAndCertificate> {
  const keyPem = await readCaFile(dir, CA_FILES.serverKey, true);
  const certificatePem = await readCaFile(dir, CA_FILES.serverCertificate, false);
  let reason = 'missing';
  if (keyPem !== undefined && certificatePem !== undefined) {
    const pair = parsePair(keyPem, certificatePem, CA_FILES.serverKey, CA_FILES.serverCertificate);
    const why = serverReplacementReason(pair, issuer.certificate, options.hostNames, options.clock.now());
    if (why === undefined) return pair;
    reason = why;
  }
  const keys = await generateEcKeyPair();
  const newKeyPem = await privateKeyPem(keys.privateKey);
  const key = createPrivateKey(newKeyPem);
  const certificate = await createServerCertificate(
    issuer,
    createPublicKey(key),
    options.hostNames,
    options.clock.now(),
  );
  await writeCaFile(dir, CA_FILES.serverKey, newKeyPem, true);
  await writeCaFile(dir, CA_FILES.serverCertificate, certificate.toString(), false);
  options.logger.info(
    {
      reason,
      serial: certificate.serialNumber.toLowerCase(),
      names: serverNames(options.hostNames).map((n) => n.value),
    },
    'server certificate issued',
  );
  return { keyPem: newKeyPem, key, certificate };
}

function issued(certificate: X509Certificate): IssuedCertificate {
  return {
    certificatePem: certificate.toString(),
    serial: certificate.serialNumber.toLowerCase(),
    notAfter: certificateValidity(certificate).notAfter,
  };
}

function checkValidityDays(days: unknown): asserts days is number {
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > 3650) {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      'validityDays must be a number of days above 0 and at most 3650.',
    );
  }
}

/** Opens the CA in `dir`, creating it (and the server certificate) on first start. */
export async function openCertificateAuthority(
  options: OpenCertificateAuthorityOptions,
): Promise<CertificateAuthority> {
  const { dir, clock } = options;
  serverNames(options.hostNames); // refuse bad names before touching the disk
  await prepareDirectory(dir);
  const ca = await loadOrCreateCa(dir, clock, options.logger);
  let signingKey: webcrypto.CryptoKey;
  try {
    const der = ca.key.export({ type: 'pkcs8', format: 'der' });
    signingKey = await webcrypto.subtle.importKey('pkcs8', der, EC_P256_SHA256, false, ['sign']);
  } catch (error) {
    throw configError(`${CA_FILES.caKey} in ${dir} is not an ECDSA P-256 key.`, error);
  }
  const issuer: Issuer = {
    signingKey,
    certificate: ca.certificate,
    asn: new x509.X509Certificate(ca.certificate.raw),
  };
  const server = await loadOrIssueServer(dir, issuer, options);

  const validity = (days: number): { now: number; days: number } => ({ now: clock.now(), days });

  return {
    caCertificatePem: ca.certificate.toString(),
    serverKeyPem: server.keyPem,
    serverCertificatePem: server.certificate.toString(),

    async signRequest(csrPem, { kind, id, expectedCommonName, validityDays }) {
      checkClientIdentity(kind, id);
      checkValidityDays(validityDays);
      const { publicKey } = checkCertificateRequest(csrPem, expectedCommonName);
      return issued(await createClientCertificate(issuer, publicKey, kind, id, validity(validityDays)));
    },

    async issueKeyAndCertificate({ kind, id, validityDays }) {
      checkClientIdentity(kind, id);
      checkValidityDays(validityDays);
      const keys = await generateEcKeyPair();
      const keyPem = await privateKeyPem(keys.privateKey);
      const publicKey = createPublicKey(createPrivateKey(keyPem));
      const certificate = await createClientCertificate(issuer, publicKey, kind, id, validity(validityDays));
      return { ...issued(certificate), keyPem };
    },

    inspectPeer(peer) {
      let certificate: X509Certificate;
      let identity: ReturnType<typeof clientIdentity>;
      try {
        certificate = peer instanceof X509Certificate ? peer : new X509Certificate(peer.raw);
        identity = signedBy(certificate, ca.certificate) ? clientIdentity(certificate) : undefined;
      } catch {
        return undefined;
      }
      if (!identity) return undefined;
      return {
        ...identity,
        serial: certificate.serialNumber.toLowerCase(),
        notAfter: certificateValidity(certificate).notAfter,
      };
    },
  };
}

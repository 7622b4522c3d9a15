/**
 * The three kinds of certificates the master's CA makes: its own (self-signed, 10 years), the TLS
 * server's (serverAuth, SANs), and clients' (clientAuth, subject `CN=<id>, O=<kind>`). Subjects are
 * built as structures, never parsed from strings, so an id cannot add attributes.
 */
import type { webcrypto } from 'node:crypto';
import { X509Certificate, randomBytes, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { SlapError } from '../../core/errors.ts';
import { EC_P256_SHA256, spkiOf, x509 } from '../../lib/x509.ts';

export type CertificateKind = 'user' | 'compute_node' | 'instance';
export const CERTIFICATE_KINDS: readonly CertificateKind[] = ['user', 'compute_node', 'instance'];

const DAY = 86400;
/** Issued certificates start a little in the past, for peers whose clock is behind. */
const BACKDATE_SECONDS = 300;
const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DNS_NAME_PATTERN =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

export const CA_VALIDITY_DAYS = 3650;
export const SERVER_VALIDITY_DAYS = 730;
/** Names every server certificate covers besides the configured host names. */
export const LOOPBACK_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** The CA's key and certificate, in the forms signing and checking need. */
export interface Issuer {
  signingKey: webcrypto.CryptoKey;
  certificate: X509Certificate;
  /** The same certificate as @peculiar/x509 sees it (for the authority key identifier). */
  asn: x509.X509Certificate;
}

export interface Validity {
  /** Float seconds since the epoch. */
  now: number;
  days: number;
}

/** 16 random bytes, first byte 1..127: positive and exactly 16 bytes in DER, as RFC 5280 asks. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = 1 + ((bytes[0] ?? 0) % 127);
  return bytes.toString('hex');
}

function dates({ now, days }: Validity): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: new Date(Math.floor(now - BACKDATE_SECONDS) * 1000),
    notAfter: new Date(Math.floor(now + days * DAY) * 1000),
  };
}

function toNodeCertificate(certificate: x509.X509Certificate): X509Certificate {
  return new X509Certificate(Buffer.from(certificate.rawData));
}

/** A self-signed CA certificate for `keys`, with a random suffix so two masters' CAs never share a name. */
export async function createCaCertificate(
  keys: webcrypto.CryptoKeyPair,
  now: number,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [`SlapOS master CA ${randomBytes(4).toString('hex')}`] }],
    keys,
    signingAlgorithm: EC_P256_SHA256,
    ...dates({ now, days: CA_VALIDITY_DAYS }),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}

async function issue(
  issuer: Issuer,
  publicKey: KeyObject,
  subject: x509.JsonName,
  validity: Validity,
  extensions: x509.Extension[],
): Promise<X509Certificate> {
  const spki = spkiOf(publicKey);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: issuer.asn.subjectName,
    publicKey: spki,
    signingKey: issuer.signingKey,
    signingAlgorithm: EC_P256_SHA256,
    ...dates(validity),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(spki),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.asn),
      ...extensions,
    ],
  });
  return toNodeCertificate(certificate);
}

/** `names` checked and split into the SAN entries a server certificate lists (loopback names added). */
export function serverNames(hostNames: readonly string[]): x509.JsonGeneralName[] {
  const seen = new Set<string>();
  const entries: x509.JsonGeneralName[] = [];
  for (const name of [...hostNames, ...LOOPBACK_NAMES]) {
    if (typeof name !== 'string')
      throw new SlapError('SLAP_ERR_CONFIG', 'A server host name is not a string.');
    const entry: x509.JsonGeneralName | undefined =
      isIP(name) !== 0 && !name.includes('%')
        ? { type: 'ip', value: name }
        : DNS_NAME_PATTERN.test(name)
          ? { type: 'dns', value: name.toLowerCase() }
          : undefined;
    if (!entry) {
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `${JSON.stringify(name)} is neither an IP address nor a DNS host name; the server certificate cannot name it.`,
      );
    }
    if (!seen.has(entry.value)) entries.push(entry);
    seen.add(entry.value);
  }
  return entries;
}

/** True when `certificate` is valid for every name of `hostNames` and the loopback names. */
export function coversNames(certificate: X509Certificate, hostNames: readonly string[]): boolean {
  return serverNames(hostNames).every((entry) =>
    entry.type === 'ip'
      ? certificate.checkIP(entry.value) !== undefined
      : certificate.checkHost(entry.value, { subject: 'never', wildcards: false }) !== undefined,
  );
}

/** A TLS server certificate for `publicKey`, valid for `hostNames` and the loopback names. */
export async function createServerCertificate(
  issuer: Issuer,
  publicKey: KeyObject,
  hostNames: readonly string[],
  now: number,
): Promise<X509Certificate> {
  const names = serverNames(hostNames);
  return issue(
    issuer,
    publicKey,
    [{ CN: [names[0]?.value ?? 'localhost'] }],
    { now, days: SERVER_VALIDITY_DAYS },
    [
      new x509.SubjectAlternativeNameExtension(names),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  );
}

/** Refuses a kind or id that cannot be a subject (programming errors: ids come from the master). */
export function checkClientIdentity(kind: unknown, id: unknown): asserts kind is CertificateKind {
  if (!CERTIFICATE_KINDS.includes(kind as CertificateKind)) {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `Unknown certificate kind; expected one of ${CERTIFICATE_KINDS.join(', ')}.`,
    );
  }
  if (typeof id !== 'string' || !CLIENT_ID_PATTERN.test(id)) {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      'A certificate id must be 1 to 64 letters, digits, ".", "_" or "-".',
    );
  }
}

/** A client certificate (clientAuth) for `publicKey` with subject `CN=<id>, O=<kind>`. */
export async function createClientCertificate(
  issuer: Issuer,
  publicKey: KeyObject,
  kind: CertificateKind,
  id: string,
  validity: Validity,
): Promise<X509Certificate> {
  checkClientIdentity(kind, id);
  return issue(issuer, publicKey, [{ CN: [id] }, { O: [kind] }], validity, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ]);
}

/** The kind and id of a client certificate's subject when it has exactly our shape, else undefined. */
export function clientIdentity(
  certificate: X509Certificate,
): { kind: CertificateKind; id: string } | undefined {
  if (certificate.ca || !(certificate.keyUsage ?? []).includes(CLIENT_AUTH_OID)) return undefined;
  const rdns = new x509.X509Certificate(certificate.raw).subjectName.toJSON();
  const [first, second] = rdns;
  if (rdns.length !== 2 || !first || !second) return undefined;
  const id = Object.keys(first).length === 1 ? first['CN'] : undefined;
  const kind = Object.keys(second).length === 1 ? second['O'] : undefined;
  if (id?.length !== 1 || kind?.length !== 1) return undefined;
  const [idValue, kindValue] = [id[0], kind[0]];
  if (!CERTIFICATE_KINDS.includes(kindValue as CertificateKind) || !CLIENT_ID_PATTERN.test(idValue ?? '')) {
    return undefined;
  }
  return { kind: kindValue as CertificateKind, id: idValue as string };
}

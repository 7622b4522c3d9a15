/**
 * The repository server's own TLS key and certificate: self-signed (no CA involved), valid for the
 * names the node is reached by. The certificate's PEM goes to the master in the node's backup sync
 * and from there to the nodes that push, which trust exactly it (`restic --cacert`). A certificate
 * that no longer covers the names, or is near its end, is replaced (key and certificate together).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { coversNames, SERVER_VALIDITY_DAYS, serverNames } from '../../master/ca/certificates.ts';
import { completeKeyPairReplacement, replaceKeyPair } from '../../lib/key-pair-files.ts';
import {
  certificateValidity,
  EC_P256_SHA256,
  generateEcKeyPair,
  parseCertificatePem,
  privateKeyPem,
  x509,
} from '../../lib/x509.ts';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { spkiOf } from '../../lib/x509.ts';

const RENEW_BEFORE_SECONDS = 30 * 86400;
const DAY_MS = 86400_000;

export interface ServerCertificateFiles {
  keyFile: string;
  certFile: string;
  certificatePem: string;
}

async function usable(
  keyFile: string,
  certFile: string,
  hostNames: readonly string[],
): Promise<string | undefined> {
  let keyPem: string;
  let certificatePem: string;
  try {
    [keyPem, certificatePem] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
  } catch {
    return undefined;
  }
  try {
    const certificate = parseCertificatePem(certificatePem);
    const matches = spkiOf(certificate.publicKey).equals(spkiOf(createPublicKey(createPrivateKey(keyPem))));
    const { notAfter } = certificateValidity(certificate);
    if (!matches || notAfter - Date.now() / 1000 < RENEW_BEFORE_SECONDS) return undefined;
    return coversNames(certificate, hostNames) ? certificatePem : undefined;
  } catch {
    return undefined;
  }
}

/** The key (0600) and self-signed certificate in `dir`, made or replaced when they do not fit `hostNames`. */
export async function ensureServerCertificate(
  dir: string,
  hostNames: readonly string[],
): Promise<ServerCertificateFiles> {
  const names = serverNames(hostNames);
  const files = { keyFile: join(dir, 'repository-server.key'), certFile: join(dir, 'repository-server.crt') };
  await completeKeyPairReplacement(files);
  const existing = await usable(files.keyFile, files.certFile, hostNames);
  if (existing !== undefined) return { ...files, certificatePem: existing };
  const keys = await generateEcKeyPair();
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = 1 + ((serial[0] ?? 0) % 127);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: [{ CN: [names[0]?.value ?? 'localhost'] }, { O: ['SlapOS backup repository'] }],
    keys,
    signingAlgorithm: EC_P256_SHA256,
    notBefore: new Date(now - 300_000),
    notAfter: new Date(now + SERVER_VALIDITY_DAYS * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension(names),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certificatePem = new X509Certificate(Buffer.from(certificate.rawData)).toString();
  await replaceKeyPair(files, { keyPem: await privateKeyPem(keys.privateKey), certificatePem });
  return { ...files, certificatePem };
}

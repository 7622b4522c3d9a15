/**
 * The standalone's shadir signing identity: an RSA key (slapos.libnetworkcache signs entries with
 * RSA PKCS#1 v1.5 over SHA-1, so a key of that kind is what every client can verify) and a
 * self-signed certificate of it, made once into `etc/` (0600 both). The certificate goes into the
 * node's `signature-certificate-list`, so the node trusts what it uploaded itself.
 */
import { readFile } from 'node:fs/promises';
import { webcrypto } from 'node:crypto';
import { completeKeyPairReplacement, replaceKeyPair, type KeyPairFiles } from '../lib/key-pair-files.ts';
import { pathExists } from '../lib/path-exists.ts';

const RSA_SHA256 = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;
const VALIDITY_YEARS = 20;

/** A new RSA key and its self-signed certificate (CN `commonName`), as PEM. */
export async function createSigningIdentity(
  commonName: string,
  now: Date = new Date(),
): Promise<{ keyPem: string; certificatePem: string }> {
  // Loaded here: only the first start of a standalone makes one.
  const { x509 } = await import('../lib/x509.ts');
  const keys = await webcrypto.subtle.generateKey(RSA_SHA256, true, ['sign', 'verify']);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: `CN=${commonName}`,
    notBefore: now,
    notAfter,
    signingAlgorithm: RSA_SHA256,
    keys,
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    keyPem: x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n',
    certificatePem: certificate.toString('pem') + '\n',
  };
}

/** The certificate (PEM) of the identity in `files`, made first when missing. */
export async function ensureSigningIdentity(files: KeyPairFiles, commonName: string): Promise<string> {
  await completeKeyPairReplacement(files);
  if (!(await pathExists(files.keyFile)) || !(await pathExists(files.certFile)))
    await replaceKeyPair(files, await createSigningIdentity(commonName));
  return readFile(files.certFile, 'utf8');
}

/**
 * The one place @peculiar/x509 is loaded: it needs reflect-metadata imported before it, and node's
 * webcrypto as its crypto provider. Everything that builds certificates or requests imports it from here.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { SlapError } from '../core/errors.ts';

x509.cryptoProvider.set(webcrypto as ReturnType<typeof x509.cryptoProvider.get>);

export { x509 };

/** The only key algorithm this project generates: ECDSA on P-256, signatures with SHA-256. */
export const EC_P256_SHA256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A fresh extractable ECDSA P-256 key pair. */
export async function generateEcKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(EC_P256_SHA256, true, ['sign', 'verify']);
}

/** A private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
export async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

/** The node:crypto view of a PEM certificate; SLAP_ERR_INVALID_INPUT (naming `what`, never echoing it) if it does not parse. */
export function parseCertificatePem(pem: string, what = 'certificate'): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `The ${what} is not a PEM X.509 certificate.`, {
      cause: error,
    });
  }
}

/** A certificate's validity bounds in float seconds since the epoch. */
export function certificateValidity(certificate: X509Certificate): { notBefore: number; notAfter: number } {
  // node 20's X509Certificate has only display strings for these; the ASN.1 view has the dates.
  const parsed = new x509.X509Certificate(certificate.raw);
  return { notBefore: parsed.notBefore.getTime() / 1000, notAfter: parsed.notAfter.getTime() / 1000 };
}

/** The DER SubjectPublicKeyInfo of a key, to compare keys by value. */
export function spkiOf(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

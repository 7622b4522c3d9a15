/**
 * The node's side of its certificates: a fresh key and a certificate request to send to the master
 * (which decides the subject and signs), and when a certificate it holds should be renewed.
 */
import {
  EC_P256_SHA256,
  certificateValidity,
  generateEcKeyPair,
  parseCertificatePem,
  privateKeyPem,
  x509,
} from './x509.ts';

export interface KeyAndCertificateRequest {
  /** The private key, PKCS#8 PEM: store it 0600, never send it. */
  keyPem: string;
  /** The PKCS#10 request, PEM (`CERTIFICATE REQUEST`). */
  csrPem: string;
}

/**
 * An ECDSA P-256 key and a request signed with it. The subject is `CN=<commonName>` when given (the
 * id the master assigned, e.g. `COMP-3` when renewing), empty otherwise (at registration the node has no id yet).
 */
export async function createKeyAndCertificateRequest(commonName?: string): Promise<KeyAndCertificateRequest> {
  const keys = await generateEcKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    ...(commonName === undefined ? {} : { name: [{ CN: [commonName] }] }),
    keys,
    signingAlgorithm: EC_P256_SHA256,
  });
  return { keyPem: await privateKeyPem(keys.privateKey), csrPem: csr.toString('pem') + '\n' };
}

/** When a PEM certificate expires, float seconds since the epoch; SLAP_ERR_INVALID_INPUT if it is not one. */
export function certificateExpiry(pem: string): number {
  return certificateValidity(parseCertificatePem(pem)).notAfter;
}

/**
 * True when less than `fraction` of the certificate's whole validity remains at `now` (float seconds),
 * or it is already expired: the node then asks for a new one. SLAP_ERR_INVALID_INPUT if `pem` is not a certificate.
 */
export function needsRenewal(pem: string, now: number, fraction = 1 / 3): boolean {
  const { notBefore, notAfter } = certificateValidity(parseCertificatePem(pem));
  return notAfter - now < fraction * (notAfter - notBefore);
}

/** A self-signed EC certificate and its key, for tests that sign with a node's key. */
import { generateEcKeyPair, privateKeyPem, x509, EC_P256_SHA256 } from '../lib/x509.ts';

export async function selfSignedCertificate(
  commonName = 'COMP-1',
): Promise<{ keyPem: string; certificatePem: string }> {
  const keys = await generateEcKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${commonName}`,
    notBefore: new Date(Date.UTC(2026, 0, 1)),
    notAfter: new Date(Date.UTC(2030, 0, 1)),
    signingAlgorithm: EC_P256_SHA256,
    keys,
  });
  return { keyPem: await privateKeyPem(keys.privateKey), certificatePem: certificate.toString('pem') };
}

/**
 * The check of a certificate a master issued, before the node stores it (node:crypto only: cheap
 * to load in every pass).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { SlapError } from '../core/errors.ts';

/**
 * The certificate must parse, belong to `keyPem` and name `commonName` (the compute node id, or the
 * instance guid): anything else would lock its user out at the next call, so it is refused before
 * any file is touched. Messages never include the PEM texts.
 */
export function checkIssuedCertificate(pem: string, keyPem: string, commonName: string): X509Certificate {
  let certificate: X509Certificate;
  let matches: boolean;
  try {
    certificate = new X509Certificate(pem);
    matches = certificate.checkPrivateKey(createPrivateKey(keyPem));
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_UNAVAILABLE',
      'the master answered with a certificate or key that does not parse',
      {
        cause: error,
      },
    );
  }
  if (!matches)
    throw new SlapError('SLAP_ERR_UNAVAILABLE', 'the master answered with a certificate for another key');
  if (commonNameOf(certificate) !== commonName)
    throw new SlapError(
      'SLAP_ERR_UNAVAILABLE',
      `the master answered with a certificate that is not for ${commonName}`,
    );
  return certificate;
}

/** The CN of a certificate's subject (node prints the subject one `KEY=value` per line). */
export function commonNameOf(certificate: X509Certificate): string | undefined {
  for (const line of certificate.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

/**
 * The node's own certificate, renewed before it expires: when less than a third of its validity
 * remains, the node makes a new key and asks its master over mutual TLS (with the current
 * certificate) to sign a request for it, replaces key_file and cert_file together (0600), and the
 * client uses them for its next calls. Nothing of the key is logged.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SlapError } from '../core/errors.ts';
import type { CallOptions } from '../client/json-transport.ts';
import type { TlsMaterial } from '../client/json-transport.ts';
import { createKeyAndCertificateRequest, needsRenewal } from '../lib/certificate-request.ts';
import type { Logger } from '../lib/logger.ts';
import type { NodeConfig } from './config.ts';
import { replaceKeyPair } from './key-pair-files.ts';

/** What renewal needs of the master client. */
export interface CertificateRenewer {
  renewComputeNodeCertificate(
    input: { computerGuid: string; certificateRequest: string },
    options?: CallOptions,
  ): Promise<{ certificate: string }>;
  replaceTls(tls: TlsMaterial): void;
}

export type RenewalOutcome = 'renewed' | 'valid' | 'no-certificate';

/** Renews the node's certificate when it is due; `now` in float seconds. */
export async function renewNodeCertificateIfDue(
  config: Pick<NodeConfig, 'computerId' | 'keyFile' | 'certFile' | 'masterCaFile'>,
  client: CertificateRenewer,
  options: { now: number; logger?: Logger; signal?: AbortSignal },
): Promise<RenewalOutcome> {
  const { keyFile, certFile } = config;
  if (keyFile === undefined || certFile === undefined) return 'no-certificate';
  const current = await readFile(certFile, 'utf8');
  if (!needsRenewal(current, options.now)) return 'valid';
  options.logger?.info({ computerId: config.computerId }, 'the node certificate is due for renewal');
  const { keyPem, csrPem } = await createKeyAndCertificateRequest(config.computerId);
  const { certificate } = await client.renewComputeNodeCertificate(
    { computerGuid: config.computerId, certificateRequest: csrPem },
    options.signal ? { signal: options.signal } : {},
  );
  const issued = checkIssuedCertificate(certificate, keyPem, config.computerId);
  await replaceKeyPair({ keyFile, certFile }, { keyPem, certificatePem: certificate });
  client.replaceTls({
    key: keyPem,
    cert: certificate,
    ...(config.masterCaFile === undefined ? {} : { ca: await readFile(config.masterCaFile) }),
  });
  options.logger?.info(
    { computerId: config.computerId, serial: issued.serialNumber.toLowerCase(), validTo: issued.validTo },
    'the node certificate was renewed',
  );
  return 'renewed';
}

/**
 * The master's answer must be a certificate for our new key and our compute node id: anything else
 * would lock the node out at its next call, so it is refused before the files are touched.
 */
export function checkIssuedCertificate(pem: string, keyPem: string, computerId: string): X509Certificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_UNAVAILABLE',
      'the master answered with something that is not a certificate',
      {
        cause: error,
      },
    );
  }
  if (!certificate.checkPrivateKey(createPrivateKey(keyPem)))
    throw new SlapError('SLAP_ERR_UNAVAILABLE', 'the master answered with a certificate for another key');
  if (commonNameOf(certificate) !== computerId)
    throw new SlapError(
      'SLAP_ERR_UNAVAILABLE',
      `the master answered with a certificate that is not for the compute node ${computerId}`,
    );
  return certificate;
}

/** The CN of a certificate's subject (node prints the subject one `KEY=value` per line). */
export function commonNameOf(certificate: X509Certificate): string | undefined {
  for (const line of certificate.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

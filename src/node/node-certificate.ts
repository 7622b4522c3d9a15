/**
 * The node's own certificate, renewed before it expires: when less than a third of its validity
 * remains, the node makes a new key and asks its master over mutual TLS (with the current
 * certificate) to sign a request for it, replaces key_file and cert_file together (0600), and the
 * client uses them for its next calls. Nothing of the key is logged.
 */
import { readFile } from 'node:fs/promises';
import type { Clock } from '../core/clock.ts';
import { toSlapError } from '../core/errors.ts';
import type { CallOptions, TlsMaterial } from '../client/json-transport.ts';
import { createKeyAndCertificateRequest, needsRenewal } from '../lib/certificate-request.ts';
import type { Logger } from '../lib/logger.ts';
import type { NodeConfig } from './config.ts';
import { checkIssuedCertificate } from './issued-certificate.ts';
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
 * Renews when due and says how it went; a failure is logged, not thrown: the current certificate
 * still works until it expires, and the next check tries again.
 */
export async function checkNodeCertificate(
  config: Pick<NodeConfig, 'computerId' | 'keyFile' | 'certFile' | 'masterCaFile'>,
  client: CertificateRenewer,
  options: { now: number; logger: Logger; signal?: AbortSignal },
): Promise<RenewalOutcome | 'failed'> {
  try {
    return await renewNodeCertificateIfDue(config, client, options);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    options.logger.warn(
      { err: toSlapError(error), computerId: config.computerId },
      'the node certificate could not be renewed; trying again later',
    );
    return 'failed';
  }
}

/** How often a long-running agent looks at its certificate's validity. */
export const CERTIFICATE_CHECK_INTERVAL_MS = 3600_000;

/**
 * Checks the certificate at once, then every `intervalMs` (a check still running when the next is
 * due is not doubled), until `stop()`, which waits for a check in progress.
 */
export function keepNodeCertificateRenewed(
  config: Pick<NodeConfig, 'computerId' | 'keyFile' | 'certFile' | 'masterCaFile'>,
  client: CertificateRenewer,
  options: { clock: Clock; logger: Logger; intervalMs?: number },
): { stop(): Promise<void> } {
  const controller = new AbortController();
  let inProgress: Promise<unknown> | undefined;
  const check = (): void => {
    if (controller.signal.aborted || inProgress) return;
    inProgress = checkNodeCertificate(config, client, {
      now: options.clock.now(),
      logger: options.logger,
      signal: controller.signal,
    })
      .catch(() => undefined)
      .finally(() => {
        inProgress = undefined;
      });
  };
  check();
  const timer = setInterval(check, options.intervalMs ?? CERTIFICATE_CHECK_INTERVAL_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      controller.abort();
      await inProgress;
    },
  };
}

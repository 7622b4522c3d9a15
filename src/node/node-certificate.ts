/**
 * The node's own certificate, renewed before it expires: when less than a third of its validity
 * remains, the node makes a new key and asks its master over mutual TLS (with the current
 * certificate) to sign a request for it, replaces key_file and cert_file together (0600), and the
 * client uses them for its next calls. Nothing of the key is logged.
 *
 * Node commands run side by side (cron starts software, instance and report together) and each
 * checks the certificate: one renews at a time, under a lock beside cert_file; the others keep
 * their current certificate, which stays valid (the master does not revoke it on renewal).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Clock } from '../core/clock.ts';
import { SlapError, toSlapError } from '../core/errors.ts';
import type { CallOptions, TlsMaterial } from '../client/json-transport.ts';
import { createKeyAndCertificateRequest, needsRenewal } from '../lib/certificate-request.ts';
import type { Logger } from '../lib/logger.ts';
import { acquirePidLock, type PidLock } from '../lib/pid-lock.ts';
import type { NodeConfig } from './config.ts';
import { checkIssuedCertificate } from './issued-certificate.ts';
import { completeKeyPairReplacement, replaceKeyPair } from '../lib/key-pair-files.ts';

/** What renewal needs of the master client. */
export interface CertificateRenewer {
  renewComputeNodeCertificate(
    input: { computerGuid: string; certificateRequest: string },
    options?: CallOptions,
  ): Promise<{ certificate: string }>;
  replaceTls(tls: TlsMaterial): void;
}

/** `renewing-elsewhere`: another process holds the renewal lock (and renews if due). */
export type RenewalOutcome = 'renewed' | 'valid' | 'no-certificate' | 'renewing-elsewhere';

/** The lock one renewal at a time holds. */
export function renewalLockPath(certFile: string): string {
  return `${certFile}.renewal.lock`;
}

/** Renews the node's certificate when it is due; `now` in float seconds. */
export async function renewNodeCertificateIfDue(
  config: Pick<NodeConfig, 'computerId' | 'keyFile' | 'certFile' | 'masterCaFile'>,
  client: CertificateRenewer,
  options: { now: number; logger?: Logger; signal?: AbortSignal },
): Promise<RenewalOutcome> {
  const { keyFile, certFile } = config;
  if (keyFile === undefined || certFile === undefined) return 'no-certificate';
  if (!needsRenewal(await readFile(certFile, 'utf8'), options.now)) return 'valid';
  let lock: PidLock;
  try {
    lock = await acquirePidLock(renewalLockPath(certFile), { what: 'node certificate renewal' });
  } catch (error) {
    if (error instanceof SlapError && error.code === 'SLAP_ERR_LOCKED') return 'renewing-elsewhere';
    throw error;
  }
  try {
    // Read again under the lock: another process may have renewed it meanwhile.
    await completeKeyPairReplacement({ keyFile, certFile });
    if (!needsRenewal(await readFile(certFile, 'utf8'), options.now)) return 'valid';
    return await renewUnderLock({ ...config, keyFile, certFile }, client, options);
  } finally {
    await lock.release();
  }
}

async function renewUnderLock(
  config: Pick<NodeConfig, 'computerId' | 'masterCaFile'> & { keyFile: string; certFile: string },
  client: CertificateRenewer,
  options: { now: number; logger?: Logger; signal?: AbortSignal },
): Promise<RenewalOutcome> {
  const { keyFile, certFile } = config;
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

/**
 * When another process (a node command) renewed the certificate, the long-running client takes the
 * new pair too: else it would go on with the old one until it expires. A pair caught between its
 * two renames (not matching yet) is left for the next check. Returns the certificate now in use.
 */
async function adoptPairOnDisk(
  config: Pick<NodeConfig, 'computerId' | 'masterCaFile'> & { keyFile: string; certFile: string },
  client: CertificateRenewer,
  inUse: string,
  logger: Logger,
): Promise<string> {
  const { keyFile, certFile } = config;
  await completeKeyPairReplacement({ keyFile, certFile });
  const certificate = await readFile(certFile, 'utf8');
  if (certificate === inUse) return inUse;
  const key = await readFile(keyFile, 'utf8');
  if (!new X509Certificate(certificate).checkPrivateKey(createPrivateKey(key))) return inUse;
  client.replaceTls({
    key,
    cert: certificate,
    ...(config.masterCaFile === undefined ? {} : { ca: await readFile(config.masterCaFile) }),
  });
  logger.info({ computerId: config.computerId }, 'the node certificate renewed by another process is used');
  return certificate;
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
  /** The certificate the client uses (read at the first check: the client was just made from the files). */
  let inUse: string | undefined;
  const checkAndAdopt = async (): Promise<void> => {
    const { keyFile, certFile } = config;
    if (keyFile === undefined || certFile === undefined) return;
    inUse ??= await readFile(certFile, 'utf8');
    const outcome = await checkNodeCertificate(config, client, {
      now: options.clock.now(),
      logger: options.logger,
      signal: controller.signal,
    });
    inUse =
      outcome === 'renewed'
        ? await readFile(certFile, 'utf8')
        : await adoptPairOnDisk({ ...config, keyFile, certFile }, client, inUse, options.logger);
  };
  const check = (): void => {
    if (controller.signal.aborted || inProgress) return;
    inProgress = checkAndAdopt()
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

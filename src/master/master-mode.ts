/**
 * A master in master mode from its directory (`slapos master start`): the directory DIR (0700)
 * holds the certificate authority (ca.key, ca.crt), the server's key and certificate, and the
 * SQLite database (master.db, unless another database is given). The server certificate covers the
 * listening host and the public URL's host (and loopback names).
 */
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.ts';
import { SlapError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { openCertificateAuthority, type CertificateAuthority } from './ca/certificate-authority.ts';
import type { DatabaseLocation } from './storage/database-location.ts';
import { bareHost, startMaster, type RunningMaster, type StartMasterOptions } from './server.ts';

export const MASTER_DATABASE_FILE = 'master.db';

export interface MasterDirectoryOptions {
  dir: string;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
}

/** The host of a public URL (brackets of an IPv6 address removed); SLAP_ERR_CONFIG if it is no https URL. */
export function publicUrlHost(publicUrl: string): string {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new SlapError('SLAP_ERR_CONFIG', 'the public URL is not a URL');
  }
  if (url.protocol !== 'https:')
    throw new SlapError('SLAP_ERR_CONFIG', `the public URL must start with https://, not ${url.protocol}//`);
  return bareHost(url.hostname);
}

/** The addresses of this machine's interfaces, but IPv6 link-local ones (they need a zone). */
export function interfaceAddresses(): { address: string; family: 'IPv4' | 'IPv6' }[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((entry) => !(entry.family === 'IPv6' && /^fe[89ab]/i.test(entry.address)))
    .map((entry) => ({ address: entry.address, family: entry.family }));
}

/**
 * The names the server certificate must cover for a master listening on `host`, reached at
 * `publicUrl`. A wildcard listener (0.0.0.0, ::) is reached at any of the machine's addresses: each
 * is covered (IPv4 ones only for 0.0.0.0), so that clients may use any of them.
 */
export function serverHostNames(
  host: string,
  publicUrl: string | undefined,
  addresses: readonly { address: string; family: 'IPv4' | 'IPv6' }[] = interfaceAddresses(),
): string[] {
  const names = new Set<string>();
  const bare = bareHost(host);
  if (publicUrl !== undefined) names.add(publicUrlHost(publicUrl));
  if (bare === '0.0.0.0' || bare === '::' || bare === '') {
    for (const entry of addresses) if (bare === '::' || entry.family === 'IPv4') names.add(entry.address);
  } else names.add(bare);
  return [...names];
}

/** Opens (creating on first use) the master directory's certificate authority. */
export function openMasterCertificateAuthority(
  options: MasterDirectoryOptions & { hostNames?: readonly string[] },
): Promise<CertificateAuthority> {
  return openCertificateAuthority({
    dir: options.dir,
    hostNames: options.hostNames ?? [],
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger(),
  });
}

export interface StartMasterModeOptions
  extends
    MasterDirectoryOptions,
    Pick<
      StartMasterOptions,
      'closeGraceMs' | 'maxConnections' | 'headersTimeoutMs' | 'metricsToken' | 'regularisation' | 'failover'
    > {
  host?: string | undefined;
  port?: number | undefined;
  /** The database (default the SQLite file DIR/master.db). */
  database?: DatabaseLocation | undefined;
  /** The URL nodes and users reach the master by (its host goes into the server certificate). */
  publicUrl?: string | undefined;
}

export interface RunningMasterMode extends RunningMaster {
  readonly certificateAuthority: CertificateAuthority;
}

export async function startMasterMode(options: StartMasterModeOptions): Promise<RunningMasterMode> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger();
  const clock = options.clock ?? systemClock;
  const ca = await openMasterCertificateAuthority({
    dir: options.dir,
    clock,
    logger,
    hostNames: serverHostNames(host, options.publicUrl),
  });
  const master = await startMaster({
    mode: 'master',
    host,
    port: options.port ?? 8443,
    database: options.database ?? { kind: 'sqlite', path: join(options.dir, MASTER_DATABASE_FILE) },
    logger,
    clock,
    tls: { key: ca.serverKeyPem, cert: ca.serverCertificatePem, ca: ca.caCertificatePem },
    certificateAuthority: ca,
    ...(options.closeGraceMs === undefined ? {} : { closeGraceMs: options.closeGraceMs }),
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: options.headersTimeoutMs }),
    metricsToken: options.metricsToken,
    regularisation: options.regularisation,
    failover: options.failover,
  });
  return Object.assign(master, { certificateAuthority: ca });
}

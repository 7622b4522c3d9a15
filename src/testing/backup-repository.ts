/**
 * A repository server on 127.0.0.1 with a test master CA, and the files a pushing node gives restic
 * (its compute node certificate and key in one 0600 PEM, the server's certificate as --cacert), for
 * the backup tests and the resiliency benchmark.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../core/clock.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import {
  ensureServerCertificate,
  startRepositoryServer,
  type RepositoryAccess,
  type RepositoryPermission,
  type RunningRepositoryServer,
} from '../node/backup/repository-server.ts';
import { Restic, type ResticTarget } from '../node/backup/restic.ts';
import { openTestCertificateAuthority } from './master-mode-services.ts';

export interface BackupRepositoryFixture {
  dir: string;
  /** Where the server keeps its repositories. */
  repositories: string;
  server: RunningRepositoryServer;
  restic: Restic;
  /** The server's certificate (PEM file): what a pusher passes as --cacert. */
  caFile: string;
  /** `COMP-1`'s certificate and key, issued by the test master CA (0600). */
  clientCertFile: string;
  /** The same kind of file for a certificate of another CA. */
  strangerCertFile: string;
  /** An instance certificate of the right CA (not a compute node). */
  instanceCertFile: string;
  /** The restic target of `repository` on the server as COMP-1 sees it. */
  target(repository: string, password?: string): ResticTarget;
  snapshotsSeen: string[];
  close(): Promise<void>;
}

export const FIXTURE_PASSWORD = 'correct-horse-battery-staple';

export async function startBackupRepository(
  options: {
    authorize?: (access: RepositoryAccess, repository: string) => RepositoryPermission;
    logger?: Logger;
    maxUploadBytes?: number;
  } = {},
): Promise<BackupRepositoryFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'slapos-backup-test-'));
  const authority = await openTestCertificateAuthority(systemClock);
  const other = await openTestCertificateAuthority(systemClock);
  let server: RunningRepositoryServer | undefined;
  try {
    const pemFile = async (name: string, material: { certificatePem: string; keyPem: string }) => {
      const file = join(dir, name);
      await writeFile(file, material.certificatePem + material.keyPem, { mode: 0o600 });
      return file;
    };
    const issue = (ca: typeof authority, kind: 'compute_node' | 'instance', id: string) =>
      ca.ca.issueKeyAndCertificate({ kind, id, validityDays: 1 });
    const clientCertFile = await pemFile('comp-1.pem', await issue(authority, 'compute_node', 'COMP-1'));
    const strangerCertFile = await pemFile('stranger.pem', await issue(other, 'compute_node', 'COMP-1'));
    const instanceCertFile = await pemFile('instance.pem', await issue(authority, 'instance', 'SOFTINST-1'));
    const certificate = await ensureServerCertificate(join(dir, 'server'), ['127.0.0.1']);
    const snapshotsSeen: string[] = [];
    const repositories = join(dir, 'repositories');
    const logger = options.logger ?? silentLogger();
    server = await startRepositoryServer({
      directory: repositories,
      host: '127.0.0.1',
      port: 0,
      tls: {
        key: await readFile(certificate.keyFile, 'utf8'),
        cert: certificate.certificatePem,
        clientCa: authority.ca.caCertificatePem,
      },
      authorize: options.authorize ?? ((access) => (access.computeNodeId === 'COMP-1' ? 'append' : 'none')),
      onSnapshot: (repository) => snapshotsSeen.push(repository),
      logger,
      ...(options.maxUploadBytes === undefined ? {} : { maxUploadBytes: options.maxUploadBytes }),
    });
    const running = server;
    const restic = new Restic({ cacheDir: join(dir, 'restic-cache'), logger, timeoutMs: 10 * 60_000 });
    return {
      dir,
      repositories,
      server: running,
      restic,
      caFile: certificate.certFile,
      clientCertFile,
      strangerCertFile,
      instanceCertFile,
      target: (repository, password = FIXTURE_PASSWORD) => ({
        url: `rest:${running.url}/${repository}/`,
        password,
        caFile: certificate.certFile,
        clientCertFile,
      }),
      snapshotsSeen,
      close: async () => {
        await running.close();
        await authority.close();
        await other.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server?.close();
    await authority.close();
    await other.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

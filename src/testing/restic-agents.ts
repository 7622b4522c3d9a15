/**
 * Backup agents with real restic and a real repository server over mutual TLS, for the tests of
 * src/node/backup/*-restic.test.ts: node certificates from the test CA, agents synced by a scripted
 * master (the test calls `syncOnce`), a node's repositories served to the others.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { PartitionBackupPlan } from '../core/backup-declaration.ts';
import type { Logger } from '../lib/logger.ts';
import type { CertificateAuthority } from '../master/ca/certificate-authority.ts';
import { BackupAgent } from '../node/backup/agent.ts';
import { startRepositoryServer, type RunningRepositoryServer } from '../node/backup/repository-server.ts';
import { Restic } from '../node/backup/restic.ts';
import type { ServerCertificateFiles } from '../node/backup/server-certificate.ts';
import type { PartitionBackupAssignment } from '../node/backup/sync-protocol.ts';
import { stoppedServices } from './backup-partition.ts';

/** A compute node's certificate and key in one 0600 PEM file (what restic presents to peers). */
export async function nodePemFile(ca: CertificateAuthority, dir: string, id: string): Promise<string> {
  const issued = await ca.issueKeyAndCertificate({ kind: 'compute_node', id, validityDays: 1 });
  const file = join(dir, `${id}.pem`);
  await writeFile(file, `${issued.certificatePem.trimEnd()}\n${issued.keyPem.trimEnd()}\n`, { mode: 0o600 });
  return file;
}

/**
 * The agent of node `node` for its partition `root` (`<instance root>/slappart0`), its state under
 * `<dir>/<node>/`: the master answers it `answers()[node]`; it syncs only when the test says so.
 */
export function resticTestAgent(input: {
  dir: string;
  node: string;
  root: string;
  answers: () => Record<string, PartitionBackupAssignment[]>;
  plan: PartitionBackupPlan;
  pem: string;
  logger: Logger;
  clock: Clock;
}): BackupAgent {
  const { dir, node, logger } = input;
  return new BackupAgent({
    computerId: node,
    instanceRoot: join(input.root, '..'),
    directory: join(dir, node, 'backup'),
    repository: null,
    sync: (body) =>
      Promise.resolve({ heartbeat_interval: 5, partition_list: input.answers()[body.computer_guid] }),
    restic: new Restic({ cacheDir: join(dir, node, 'cache'), logger }),
    readPlan: () => Promise.resolve(input.plan),
    services: stoppedServices,
    clientCertFile: () => Promise.resolve(input.pem),
    logger,
    clock: input.clock,
    heartbeatMs: 3_600_000,
  });
}

/** `agent`'s repositories served on loopback to the nodes the test CA certified, as it authorizes. */
export async function serveRepositories(input: {
  agent: BackupAgent;
  certificate: ServerCertificateFiles;
  clientCa: string;
  logger: Logger;
  onSnapshot?: (repository: string) => void;
}): Promise<RunningRepositoryServer> {
  const { agent } = input;
  return startRepositoryServer({
    directory: agent.repositoriesDirectory,
    host: '127.0.0.1',
    port: 0,
    tls: {
      key: await readFile(input.certificate.keyFile, 'utf8'),
      cert: input.certificate.certificatePem,
      clientCa: input.clientCa,
    },
    authorize: (access, repository) => agent.authorize(access, repository),
    ...(input.onSnapshot === undefined ? {} : { onSnapshot: input.onSnapshot }),
    logger: input.logger,
  });
}

/**
 * The backup agent as the node daemon runs it (run-agent.ts): `[backup]` of slapos.cfg, restic, the
 * repository server when `listen` is set (its self-signed certificate, the master's CA for the
 * peers' node certificates, `authorize` from the master's writers), the node's certificate and key
 * as the client certificate of its pushes, the partitions' declarations and supervisor.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeDeclarations, readDeclarations } from '../../core/backup-declaration.ts';
import { SlapError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import type { Logger } from '../../lib/logger.ts';
import type { MasterClient } from '../../client/master-client.ts';
import { backupSettings, type NodeConfig } from '../config.ts';
import { partitionOwner } from '../partitions.ts';
import type { SupervisorControl } from '../supervisor/types.ts';
import { BackupAgent } from './agent.ts';
import { ensureServerCertificate, startRepositoryServer } from './repository-server.ts';
import { Restic } from './restic.ts';
import { supervisorServices } from './supervisor-services.ts';

export interface NodeBackup {
  agent: BackupAgent;
  /** The repository server's URL, when it listens. */
  serverUrl: string | undefined;
  close(options?: { graceMs?: number }): Promise<void>;
}

export async function startNodeBackup(
  config: NodeConfig,
  deps: {
    master: Pick<MasterClient, 'syncBackups'>;
    supervisor: SupervisorControl;
    logger: Logger;
    /** The restic executable (default: from PATH). */
    resticBinary?: string;
  },
): Promise<NodeBackup> {
  const settings = backupSettings(config);
  await mkdir(settings.directory, { recursive: true, mode: 0o700 });
  const logger = deps.logger;
  const restic = new Restic({
    cacheDir: join(settings.directory, 'cache'),
    logger,
    ...(deps.resticBinary === undefined ? {} : { binary: deps.resticBinary }),
  });
  let server: { url: string; close(): Promise<void> } | undefined;
  let advertised: { url: string; certificate: string } | null = null;
  // The server asks the agent, made once the server's URL is known.
  const ref: { agent?: BackupAgent } = {};
  if (settings.listen !== undefined && settings.url !== undefined) {
    if (config.masterCaFile === undefined || config.keyFile === undefined)
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `${config.file}: [backup] listen: the repository server needs a node of a master in master mode (master_ca_file, key_file, cert_file)`,
      );
    const certificate = await ensureServerCertificate(join(settings.directory, 'server'), [
      new URL(settings.url).hostname.replace(/^\[|\]$/g, ''),
    ]);
    advertised = { url: settings.url, certificate: certificate.certificatePem };
    server = await startRepositoryServer({
      directory: join(settings.directory, 'repositories'),
      host: settings.listen.host,
      port: settings.listen.port,
      tls: {
        key: await readFile(certificate.keyFile, 'utf8'),
        cert: certificate.certificatePem,
        clientCa: await readFile(config.masterCaFile, 'utf8'),
      },
      authorize: (access, repository) => ref.agent?.authorize(access, repository) ?? 'none',
      onSnapshot: (repository) => ref.agent?.onSnapshot(repository),
      logger,
    });
  }
  const clientPem = join(settings.directory, 'client.pem');
  const agent = new BackupAgent({
    computerId: config.computerId,
    instanceRoot: config.instanceRoot,
    directory: settings.directory,
    repository: advertised,
    sync: (body, options) => deps.master.syncBackups(body, options),
    restic,
    readPlan: async (root) => mergeDeclarations(await readDeclarations(root)),
    services: supervisorServices(deps.supervisor),
    partitionOwner: async (root) => {
      const owner = await partitionOwner(root);
      return owner.switchUser ? owner : undefined;
    },
    // Read at each push: a renewed node certificate is used from then on.
    clientCertFile: async () => {
      if (config.certFile === undefined || config.keyFile === undefined) return undefined;
      const [certificate, key] = await Promise.all([
        readFile(config.certFile, 'utf8'),
        readFile(config.keyFile, 'utf8'),
      ]);
      const bundle = `${certificate.trimEnd()}\n${key.trimEnd()}\n`;
      if ((await readFile(clientPem, 'utf8').catch(() => undefined)) !== bundle)
        await writeFileAtomic(clientPem, bundle, { mode: 0o600 });
      return clientPem;
    },
    logger,
    ...(settings.heartbeatMs === undefined ? {} : { heartbeatMs: settings.heartbeatMs }),
  });
  ref.agent = agent;
  agent.start();
  logger.info(
    { directory: settings.directory, repositoryServer: server?.url ?? null },
    'backup agent started',
  );
  return {
    agent,
    serverUrl: server?.url,
    async close(options = {}) {
      await agent.close(options);
      await server?.close();
    },
  };
}

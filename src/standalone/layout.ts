/**
 * The standalone SlapOS's directory (docs/standalone.md): everything of one local SlapOS — the
 * master's database, the node's software and instance roots, logs and pid files — under one
 * directory, `./.slapos` by default (`--dir`, or `$SLAPOS_STANDALONE_DIR`).
 */
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { agentPaths } from '../node/agent/settings.ts';
import { SOCKET_PATH_MAX_BYTES, supervisorPaths, type SupervisorPaths } from '../node/supervisor/paths.ts';
import { standaloneConfigFile } from './location.ts';

export { DEFAULT_STANDALONE_DIR, resolveStandaloneDir, standaloneConfigFile } from './location.ts';

export const STANDALONE_COMPUTER_ID = 'local';
export const DEFAULT_PARTITIONS = 10;

export interface StandaloneLayout {
  dir: string;
  /** slapos.cfg of the node and the master (sandbox mode), also the client configuration (mode 0600). */
  config: string;
  /** The master's access token, just the token (mode 0600, created at the first start). */
  tokenFile: string;
  database: string;
  softwareRoot: string;
  instanceRoot: string;
  logDir: string;
  masterLog: string;
  agentLog: string;
  /** The master's pid (written by `standalone start`). */
  masterPidFile: string;
  /** The agent's pid file (its lock) and status. */
  agentPidFile: string;
  agentStatusFile: string;
  supervisor: SupervisorPaths;
  /** The binary cache server's directory (blobs, index, upload token). */
  cacheDir: string;
  cacheLog: string;
  cachePidFile: string;
  /** The key (0600) and self-signed certificate the node signs its shadir entries with. */
  signature: { keyFile: string; certFile: string };
}

export function standaloneLayout(dir: string): StandaloneLayout {
  const instanceRoot = join(dir, 'inst');
  const agent = agentPaths(instanceRoot);
  return {
    dir,
    config: standaloneConfigFile(dir),
    tokenFile: join(dir, 'etc', 'master.token'),
    database: join(dir, 'var', 'proxy.db'),
    softwareRoot: join(dir, 'soft'),
    instanceRoot,
    logDir: join(dir, 'var', 'log'),
    masterLog: join(dir, 'var', 'log', 'slapos-proxy.log'),
    agentLog: join(dir, 'var', 'log', 'slapos-node-run.log'),
    masterPidFile: join(dir, 'var', 'run', 'slapos-proxy.pid'),
    agentPidFile: agent.pidFile,
    agentStatusFile: agent.statusFile,
    supervisor: supervisorPaths(instanceRoot),
    cacheDir: join(dir, 'var', 'cache'),
    cacheLog: join(dir, 'var', 'log', 'slapos-cache.log'),
    cachePidFile: join(dir, 'var', 'run', 'slapos-cache.pid'),
    signature: {
      keyFile: join(dir, 'etc', 'networkcache.key'),
      certFile: join(dir, 'etc', 'networkcache.crt'),
    },
  };
}

/** The supervisor's unix socket must fit in sun_path (node.md §8.1): refuse a too deep directory clearly. */
export function checkSocketPath(layout: StandaloneLayout): void {
  const bytes = Buffer.byteLength(layout.supervisor.socket);
  if (bytes > SOCKET_PATH_MAX_BYTES)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `the standalone directory ${layout.dir} is too deep: its supervisor socket ${layout.supervisor.socket} would be ${bytes} bytes long, over the ${SOCKET_PATH_MAX_BYTES}-byte limit of unix socket paths`,
      {
        hint: `use a shorter directory with --dir (at most ${SOCKET_PATH_MAX_BYTES - (bytes - Buffer.byteLength(layout.dir))} bytes), e.g. --dir ~/.slapos`,
      },
    );
}

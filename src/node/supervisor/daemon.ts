/**
 * The supervisor daemon: a `Supervisor` behind its control server on a unix socket (mode 0600),
 * with a pid file. One per node, separate from the node agent, so services outlive the agent.
 *
 * Lifecycle (`state`): `starting` → `running` → `stopping` → `stopped`. SIGTERM/SIGINT (installed
 * by `runSupervisorDaemon`) or `close()` stop accepting requests and leave the programs running —
 * they survive the daemon's restart or upgrade, and the next daemon re-attaches to them;
 * `close({ stopPrograms: true })` (`slapos node supervisorctl shutdown`) stops them first.
 * `close()` is idempotent.
 */
import { chmodSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { SlapError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { SupervisorClient } from './client.ts';
import { createControlHandler } from './control-server.ts';
import { nullLogger, type SupervisorLogger } from './logger.ts';
import { assertSocketPath } from './paths.ts';
import { createSupervisor, type Supervisor, type SupervisorOptions } from './supervisor.ts';
import type { ShutdownOptions } from './types.ts';

export type SupervisorDaemonState = 'starting' | 'running' | 'stopping' | 'stopped';

export interface SupervisorDaemonOptions extends SupervisorOptions {
  socketPath: string;
  pidFile?: string;
}

/** Grace given to open connections (long polls) to finish once the daemon stops. */
const CONNECTION_GRACE_MS = 2000;

export class SupervisorDaemon {
  state: SupervisorDaemonState = 'starting';
  /** Resolves once the daemon is stopped (whoever stopped it). */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private closing: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    readonly supervisor: Supervisor,
    private readonly server: Server,
    private readonly options: SupervisorDaemonOptions & { logger: SupervisorLogger },
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  close(options: ShutdownOptions = {}): Promise<void> {
    this.closing ??= this.doClose(options);
    return this.closing;
  }

  private async doClose(options: ShutdownOptions): Promise<void> {
    const { logger } = this.options;
    this.state = 'stopping';
    logger.info({ stopPrograms: options.stopPrograms === true }, 'supervisor daemon stopping');
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    await this.supervisor.close(options);
    this.abort.abort();
    const grace = setTimeout(() => this.server.closeAllConnections(), CONNECTION_GRACE_MS);
    await serverClosed;
    clearTimeout(grace);
    removeIfSocket(this.options.socketPath);
    if (this.options.pidFile) removePidFile(this.options.pidFile);
    this.state = 'stopped';
    logger.info({}, 'supervisor daemon stopped');
    this.resolveClosed();
  }
}

function removeIfSocket(path: string): void {
  try {
    if (statSync(path).isSocket()) rmSync(path);
  } catch {
    // already gone
  }
}

function removePidFile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path);
  } catch {
    // already gone
  }
}

/** Refuses to start when a daemon already answers on the socket; removes a stale socket file. */
async function claimSocket(socketPath: string): Promise<void> {
  let stat;
  try {
    stat = statSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket())
    throw new SlapError('SLAP_ERR_CONFIG', `${socketPath} exists and is not a socket`, {
      hint: 'remove it, or give another socket path',
    });
  try {
    const status = await new SupervisorClient({ socketPath, timeoutMs: 3000 }).status();
    throw new SlapError(
      'SLAP_ERR_SUPERVISOR_ALREADY_RUNNING',
      `a supervisor already runs on ${socketPath} (pid ${status.pid})`,
      {
        details: { pid: status.pid },
      },
    );
  } catch (error) {
    if (error instanceof SlapError && error.code === 'SLAP_ERR_SUPERVISOR_NOT_RUNNING')
      rmSync(socketPath, { force: true });
    else throw error;
  }
}

function listen(server: Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // No window in which the socket exists with looser permissions than 0600.
    const previous = process.umask(0o177);
    const restore = (): void => {
      process.umask(previous);
    };
    server.once('error', (error) => {
      restore();
      reject(
        new SlapError('SLAP_ERR_CONFIG', `cannot listen on ${socketPath}: ${error.message}`, {
          cause: error,
        }),
      );
    });
    server.listen(socketPath, () => {
      restore();
      chmodSync(socketPath, 0o600);
      resolve();
    });
  });
}

/** Starts the daemon: claims the socket, loads and re-attaches, listens, writes the pid file. */
export async function startSupervisorDaemon(options: SupervisorDaemonOptions): Promise<SupervisorDaemon> {
  const logger = options.logger ?? nullLogger;
  assertSocketPath(options.socketPath);
  await claimSocket(options.socketPath);
  const supervisor = await createSupervisor({ ...options, logger });
  const self: { daemon?: SupervisorDaemon } = {};
  const closing = new AbortController();
  const server = createServer(
    createControlHandler({
      supervisor,
      logger,
      closing: closing.signal,
      shutdown: async (shutdownOptions) => {
        await supervisor.close(shutdownOptions);
        // Answer first, then go away.
        setImmediate(() => void self.daemon?.close(shutdownOptions));
      },
    }),
  );
  server.keepAliveTimeout = 5000;
  try {
    await listen(server, options.socketPath);
  } catch (error) {
    await supervisor.close();
    throw error;
  }
  const daemon = new SupervisorDaemon(supervisor, server, { ...options, logger });
  self.daemon = daemon;
  daemon.signal.addEventListener('abort', () => closing.abort(), { once: true });
  if (options.pidFile) await writeFileAtomic(options.pidFile, `${process.pid}\n`, { mode: 0o644 });
  daemon.state = 'running';
  logger.info({ socket: options.socketPath, pid: process.pid }, 'supervisor daemon running');
  return daemon;
}

/**
 * Runs the daemon until SIGTERM/SIGINT (programs keep running) or a shutdown request; resolves with
 * the exit code. For `slapos node supervisord` (foreground) and the detached daemon entry point.
 */
export async function runSupervisorDaemon(options: SupervisorDaemonOptions): Promise<number> {
  const daemon = await startSupervisorDaemon(options);
  const onSignal = (signal: NodeJS.Signals): void => {
    options.logger?.info({ signal }, 'signal received: leaving the programs running');
    void daemon.close();
  };
  const onHangup = (): void => options.logger?.info({}, 'SIGHUP ignored');
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHangup);
  try {
    await daemon.closed;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHangup);
  }
  return 0;
}

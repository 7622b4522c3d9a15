/**
 * Starts the supervisor daemon in the background (detached, its own session, stdout/stderr to its
 * log) unless one already answers on the socket, and returns once it answers — what
 * `slapos node supervisord` does, and what the node agent can do before its first run.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlapError } from '../../core/errors.ts';
import { cleanEnv } from '../../lib/exec.ts';
import { SupervisorClient } from './client.ts';
import { readLogTail } from './log-file.ts';
import { assertSocketPath, type SupervisorPaths } from './paths.ts';

export interface LaunchOptions extends SupervisorPaths {
  /** How long to wait for the new daemon to answer (default 20 s). */
  timeoutMs?: number;
  notifyCommand?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** The daemon's entry script (default: daemon-main beside this module, .js or .ts under tsx). */
  daemonScript?: string;
}

export interface LaunchResult {
  pid: number;
  alreadyRunning: boolean;
}

function defaultDaemonScript(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./daemon-main${extname(self)}`, import.meta.url));
}

/**
 * Node arguments to run `script`. `--lite-mode` (V8 without its optimising compilers) keeps the
 * long-lived, mostly idle daemon under 50 MB of resident memory with 100 programs (about 62 MB
 * without it; bench/supervisor.ts); `--no-expose-wasm` silences the warning lite mode prints.
 * TypeScript sources (benchmarks run from source) need the tsx loader.
 */
function nodeArgs(script: string): string[] {
  if (script.endsWith('.ts')) return ['--import', import.meta.resolve('tsx'), script];
  return ['--lite-mode', '--no-expose-wasm', script];
}

export async function launchSupervisorDaemon(options: LaunchOptions): Promise<LaunchResult> {
  assertSocketPath(options.socket);
  const client = new SupervisorClient({ socketPath: options.socket, timeoutMs: 3000 });
  try {
    const status = await client.status();
    return { pid: status.pid, alreadyRunning: true };
  } catch (error) {
    if (!(error instanceof SlapError && error.code === 'SLAP_ERR_SUPERVISOR_NOT_RUNNING')) throw error;
  }
  mkdirSync(dirname(options.logFile), { recursive: true, mode: 0o700 });
  const logFd = openSync(options.logFile, 'a', 0o600);
  const startOffset = (await readLogTail(options.logFile, { bytes: 1 })).size;
  const script = options.daemonScript ?? defaultDaemonScript();
  const args = [
    ...nodeArgs(script),
    '--socket',
    options.socket,
    '--state-dir',
    options.stateDir,
    '--pid-file',
    options.pidFile,
    '--log-file',
    options.logFile,
    '--log-level',
    options.logLevel ?? 'info',
    ...(options.notifyCommand ? ['--notify-command', options.notifyCommand] : []),
  ];
  let child;
  try {
    child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: cleanEnv(),
      cwd: '/',
    });
  } finally {
    closeSync(logFd);
  }
  let exitStatus: number | string | undefined;
  child.once('exit', (code, signal) => {
    exitStatus = code ?? signal ?? 'unknown';
  });
  child.once('error', (error) => {
    exitStatus = error.message;
  });
  child.unref();
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    try {
      const status = await client.status();
      return { pid: status.pid, alreadyRunning: false };
    } catch (error) {
      if (!(error instanceof SlapError && error.code === 'SLAP_ERR_SUPERVISOR_NOT_RUNNING')) throw error;
    }
    if (exitStatus !== undefined) {
      const log = await readLogTail(options.logFile, { bytes: 4000, offset: startOffset });
      const reason = lastMessages(log.data);
      throw new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        `the supervisor exited at start (status ${exitStatus})${reason ? `: ${reason}` : ''}`,
        { hint: `see ${options.logFile}` },
      );
    }
    if (Date.now() > deadline) {
      throw new SlapError('SLAP_ERR_TIMEOUT', `the supervisor did not answer on ${options.socket} in time`, {
        hint: `see ${options.logFile}`,
      });
    }
    await sleep(100);
  }
}

/** The `msg` of the JSON log lines (the daemon's reason to exit), or the raw text. */
function lastMessages(text: string): string {
  const messages = text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        const record = JSON.parse(line) as { msg?: unknown; hint?: unknown };
        return [record.msg, record.hint].filter((part) => typeof part === 'string').join(' — ');
      } catch {
        return line;
      }
    });
  return messages.slice(-3).join('; ');
}

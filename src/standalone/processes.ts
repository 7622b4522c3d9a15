/**
 * The standalone's background processes: started detached (their own session, output appended to a
 * log file, no tie to the starting shell), found again through pid files, stopped with SIGTERM and a
 * deadline. A pid file naming a dead process, or a process that is not ours (a reused pid), is stale.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlapError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { cleanEnv } from '../lib/exec.ts';
import { isLiveNodeProcess } from '../lib/pid-lock.ts';
import { readLogTail } from '../node/supervisor/log-file.ts';

export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const value = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The pid in `path` if that process is alive and one of ours; a stale file is removed. */
export async function livePid(path: string): Promise<number | undefined> {
  const pid = await readPidFile(path);
  if (pid === undefined) return undefined;
  if (isLiveNodeProcess(pid)) return pid;
  await rm(path, { force: true });
  return undefined;
}

export interface DetachedProcess {
  pid: number;
  /** Set once the process exited (status or signal). */
  exited(): string | undefined;
  /** Offset of the log when the process started (to show only its own lines on failure). */
  logOffset: number;
}

/** Starts `node <args>` in the background: own session, stdout and stderr appended to `logFile`. */
export async function spawnDetached(
  args: readonly string[],
  options: { logFile: string; env?: Record<string, string>; cwd: string },
): Promise<DetachedProcess> {
  await mkdir(dirname(options.logFile), { recursive: true, mode: 0o700 });
  const logOffset = (await readLogTail(options.logFile, { bytes: 1 })).size;
  const fd = openSync(options.logFile, 'a', 0o600);
  let child;
  try {
    child = spawn(process.execPath, [...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: cleanEnv(options.env ?? {}),
      cwd: options.cwd,
    });
  } finally {
    closeSync(fd);
  }
  let status: string | undefined;
  child.once('exit', (code, signal) => (status = String(code ?? signal ?? 'unknown')));
  child.once('error', (error) => (status = error.message));
  child.unref();
  if (child.pid === undefined) {
    await sleep(10);
    throw new SlapError('SLAP_ERR_SYSTEM_COMMAND', `cannot start ${process.execPath}: ${status ?? 'no pid'}`);
  }
  return { pid: child.pid, exited: () => status, logOffset };
}

export async function writePidFile(path: string, pid: number): Promise<void> {
  await writeFileAtomic(path, `${pid}\n`, { mode: 0o644 });
}

/**
 * Polls `ready` (every 50 ms) until it returns true; fails if the process exits first (with the end
 * of its log) or after `timeoutMs`.
 */
export async function waitUntilReady(
  what: string,
  process: DetachedProcess,
  options: { ready: () => Promise<boolean>; timeoutMs: number; logFile: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await options.ready()) return;
    const status = process.exited();
    if (status !== undefined) {
      const log = await readLogTail(options.logFile, { bytes: 4000, offset: process.logOffset });
      throw new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        `${what} exited at start (status ${status})${log.data.trim() ? `:\n${lastLines(log.data, 8)}` : ''}`,
        { hint: `see ${options.logFile}` },
      );
    }
    if (Date.now() > deadline)
      throw new SlapError(
        'SLAP_ERR_TIMEOUT',
        `${what} did not come up within ${options.timeoutMs / 1000} s`,
        {
          hint: `see ${options.logFile}`,
        },
      );
    await sleep(50);
  }
}

/** The last `count` lines, JSON log records shown by their message. */
export function lastLines(text: string, count: number): string {
  return text
    .trim()
    .split('\n')
    .slice(-count)
    .map((line) => {
      try {
        const record = JSON.parse(line) as { msg?: unknown; err?: { message?: unknown } };
        const parts = [record.msg, record.err?.message].filter((part) => typeof part === 'string');
        return parts.length > 0 ? parts.join(': ') : line;
      } catch {
        return line;
      }
    })
    .join('\n');
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. False if it was not running. */
export async function terminate(pid: number, graceMs: number): Promise<boolean> {
  if (!isLiveNodeProcess(pid)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + graceMs;
  while (isLiveNodeProcess(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      const killDeadline = Date.now() + 5000;
      while (isLiveNodeProcess(pid) && Date.now() < killDeadline) await sleep(20);
      break;
    }
    await sleep(20);
  }
  return true;
}

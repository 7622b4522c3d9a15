/**
 * How to check one promise. Sockets, URLs and files are checked in-process (no process spawned);
 * legacy executables and `command` checks run as a subprocess in the partition, with a clean
 * environment, in their own process group, killed (the whole group) at the deadline.
 */
import { stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { Agent, fetch } from 'undici';
import { cleanEnv, execFile } from '../../lib/exec.ts';
import type { PromiseCheck } from './definitions.ts';

export interface CheckContext {
  readonly partitionDir: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Subprocess runner (default: lib/exec's). */
  readonly exec?: typeof execFile;
  /** Run subprocesses as this user (the partition's owner when the node runs as root). */
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
}

export interface CheckOutcome {
  readonly failed: boolean;
  /** What the promise said (output, error), at most MAX_MESSAGE characters. */
  readonly message: string;
  readonly timedOut: boolean;
}

/** The original keeps the last 5000 characters of a message. */
export const MAX_MESSAGE = 5000;
/** Grace between SIGTERM and SIGKILL of a timed-out promise's process group. */
const KILL_GRACE_MS = 1000;

export async function checkPromise(check: PromiseCheck, context: CheckContext): Promise<CheckOutcome> {
  if (check.kind === 'invalid') return { failed: true, message: check.reason, timedOut: false };
  if (check.kind === 'executable' || check.kind === 'command') return runProcess(check, context);
  return withDeadline(context, async (signal) => {
    switch (check.kind) {
      case 'socket':
        return checkSocket({ host: check.host, port: check.port }, `${check.host}:${check.port}`, signal);
      case 'unix-socket':
        return checkSocket({ path: resolveIn(context.partitionDir, check.path) }, check.path, signal);
      case 'url':
        return checkUrl(check, signal);
      case 'file':
        return checkFile(check, context.partitionDir);
    }
  });
}

export function timeoutMessage(timeoutMs: number): string {
  return `Error: Promise timed out after ${timeoutMs / 1000} seconds`;
}

function truncate(message: string): string {
  const trimmed = message.trim();
  return trimmed.length > MAX_MESSAGE ? `...${trimmed.slice(-MAX_MESSAGE)}` : trimmed;
}

function resolveIn(dir: string, path: string): string {
  return isAbsolute(path) ? path : join(dir, path);
}

async function runProcess(
  check: Extract<PromiseCheck, { kind: 'executable' | 'command' }>,
  context: CheckContext,
): Promise<CheckOutcome> {
  const [file = '', ...args] = check.kind === 'executable' ? [check.path] : check.argv;
  let output = '';
  const exec = context.exec ?? execFile;
  try {
    const result = await exec(file, args, {
      cwd: context.partitionDir,
      env: cleanEnv({ HOME: context.partitionDir }),
      timeoutMs: context.timeoutMs,
      killGraceMs: KILL_GRACE_MS,
      maxOutputBytes: 64 * 1024,
      // stdout and stderr merged in arrival order, as the original.
      onOutput: (_stream, chunk) => {
        output = (output + chunk).slice(-4 * MAX_MESSAGE);
      },
      ...(context.signal === undefined ? {} : { signal: context.signal }),
      ...(context.uid === undefined ? {} : { uid: context.uid }),
      ...(context.gid === undefined ? {} : { gid: context.gid }),
    });
    if (result.timedOut) return { failed: true, message: timeoutMessage(context.timeoutMs), timedOut: true };
    const message = truncate(output);
    if (result.exitCode === 0) return { failed: false, message, timedOut: false };
    const status =
      result.exitCode === null ? `killed by ${String(result.signal)}` : `exit code ${result.exitCode}`;
    return { failed: true, message: message === '' ? `failed with ${status}` : message, timedOut: false };
  } catch (error) {
    return { failed: true, message: `cannot run ${file}: ${(error as Error).message}`, timedOut: false };
  }
}

/** Runs an in-process check with the promise's deadline; a late check is a timeout. */
async function withDeadline(
  context: CheckContext,
  run: (signal: AbortSignal) => Promise<{ failed: boolean; message: string }>,
): Promise<CheckOutcome> {
  const deadline = AbortSignal.timeout(context.timeoutMs);
  const signal = context.signal ? AbortSignal.any([deadline, context.signal]) : deadline;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), context.timeoutMs);
  });
  try {
    const outcome = await Promise.race([run(signal), late]);
    if (outcome === 'late' || deadline.aborted)
      return { failed: true, message: timeoutMessage(context.timeoutMs), timedOut: true };
    return { ...outcome, message: truncate(outcome.message), timedOut: false };
  } catch (error) {
    if (deadline.aborted) return { failed: true, message: timeoutMessage(context.timeoutMs), timedOut: true };
    return { failed: true, message: truncate(describeError(error)), timedOut: false };
  } finally {
    clearTimeout(timer);
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

function checkSocket(
  target: { host: string; port: number } | { path: string },
  label: string,
  signal: AbortSignal,
): Promise<{ failed: boolean; message: string }> {
  return new Promise((resolve) => {
    const socket = connect({ ...target, signal });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ failed: false, message: `socket connection OK ${label}` });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ failed: true, message: `${label}: ${error.code ?? error.name}: ${error.message}` });
    });
  });
}

/** Bytes of body read to look for `contains`. */
const MAX_BODY = 1024 * 1024;

async function checkUrl(
  check: Extract<PromiseCheck, { kind: 'url' }>,
  signal: AbortSignal,
): Promise<{ failed: boolean; message: string }> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: check.verifyTls } });
  try {
    let response;
    try {
      response = await fetch(check.url, { dispatcher, signal, redirect: 'follow' });
    } catch (error) {
      if (signal.aborted) throw error;
      return {
        failed: true,
        message: `${check.url} is not available (server not reachable): ${describeError(error)}`,
      };
    }
    if (response.status !== check.status) {
      await response.body?.cancel();
      return {
        failed: true,
        message: `${check.url} is not available (returned ${response.status}, expected ${check.status})`,
      };
    }
    if (check.contains !== undefined) {
      const body = await readCapped(response.body, MAX_BODY);
      if (!body.includes(check.contains))
        return {
          failed: true,
          message: `${check.url} answered ${response.status} without ${JSON.stringify(check.contains)}`,
        };
    } else await response.body?.cancel();
    return { failed: false, message: `${check.url}: URL is available (${response.status})` };
  } finally {
    await dispatcher.close();
  }
}

async function readCapped(body: ReadableStream<Uint8Array> | null, max: number): Promise<string> {
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size >= max) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function checkFile(
  check: Extract<PromiseCheck, { kind: 'file' }>,
  partitionDir: string,
): Promise<{ failed: boolean; message: string }> {
  const path = resolveIn(partitionDir, check.path);
  let size: number | undefined;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      return { failed: true, message: `${path}: ${(error as Error).message}` };
  }
  if (!check.exists)
    return size === undefined
      ? { failed: false, message: `OK ${path} is absent` }
      : { failed: true, message: `ERROR ${path} is present` };
  if (size === undefined) return { failed: true, message: `ERROR ${path} is not present` };
  if (check.minSize !== undefined && size < check.minSize)
    return { failed: true, message: `ERROR ${path} has ${size} bytes, fewer than ${check.minSize}` };
  if (check.maxSize !== undefined && size > check.maxSize)
    return { failed: true, message: `ERROR ${path} has ${size} bytes, more than ${check.maxSize}` };
  return { failed: false, message: `OK ${path} (${size} bytes)` };
}

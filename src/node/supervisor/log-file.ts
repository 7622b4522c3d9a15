/**
 * Program logs. The daemon opens each log in append mode and hands the descriptor to the program as
 * its stdout and stderr: no pipe through the daemon, so programs keep logging (and are never hit by
 * SIGPIPE) while the daemon restarts. Because the program holds the descriptor, a log over its size
 * cap is rotated copy-then-truncate; the append mode makes the program's next write land at the new
 * end. Whatever the program writes between the copy and the truncation is lost (the usual price of
 * copytruncate).
 */
import { closeSync, fchownSync, mkdirSync, openSync } from 'node:fs';
import { copyFile, open, rename, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface LogOwner {
  uid: number | null;
  gid: number | null;
}

/** Opens (creating, mode 0600, owned by the program's user) the log a program will write to. */
export function openLogForChild(path: string, owner: LogOwner): number {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'a', 0o600);
  try {
    if (owner.uid !== null || owner.gid !== null) fchownSync(fd, owner.uid ?? -1, owner.gid ?? -1);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

export interface RotateOptions {
  maxBytes: number;
  backups: number;
}

/** Rotates `path` if it is over `maxBytes`: `.1` … `.N` shift, `.1` gets a copy, `path` is emptied. */
export async function rotateLogIfNeeded(path: string, options: RotateOptions): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return false;
  }
  if (size <= options.maxBytes) return false;
  if (options.backups > 0) {
    for (let index = options.backups - 1; index >= 1; index--) {
      await rename(`${path}.${index}`, `${path}.${index + 1}`).catch(() => undefined);
    }
    await copyFile(path, `${path}.1`);
  }
  await truncate(path, 0);
  return true;
}

export interface ReadTailOptions {
  bytes: number;
  /** Continue from this offset (following a log); the end minus `bytes` when absent. */
  offset?: number;
}

export interface TailResult {
  data: string;
  offset: number;
  size: number;
  overflow: boolean;
}

/** Reads the end of a log (at most `bytes`), or what was added since `offset`. */
export async function readLogTail(path: string, options: ReadTailOptions): Promise<TailResult> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { data: '', offset: 0, size: 0, overflow: false };
  }
  try {
    const { size } = await handle.stat();
    let start = Math.max(0, size - options.bytes);
    let overflow = false;
    if (options.offset !== undefined) {
      if (options.offset > size)
        overflow = true; // rotated (truncated) since
      else if (size - options.offset > options.bytes) overflow = true;
      else start = options.offset;
    }
    const length = size - start;
    const buffer = Buffer.alloc(length);
    const { bytesRead } = length > 0 ? await handle.read(buffer, 0, length, start) : { bytesRead: 0 };
    return {
      data: buffer.subarray(0, bytesRead).toString('utf8'),
      offset: start + bytesRead,
      size,
      overflow,
    };
  } finally {
    await handle.close();
  }
}

/**
 * A pidfile lock, as the original's node commands take one each (software, instance, report): the
 * file holds the pid of the holder. It is created atomically (a temporary file hard-linked to the
 * lock path, which fails if the path exists). A lock whose pid is dead, or belongs to a process that
 * is not a node.js or slapos process (a pid reused after a crash), is stale and taken over.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SlapError } from '../core/errors.ts';

export interface PidLock {
  readonly path: string;
  /** Removes the lock file if it still holds our pid. Idempotent. */
  release(): Promise<void>;
}

export interface PidLockOptions {
  /** What holds the lock, for the error message ("node instance"). */
  what?: string;
  /** Our pid (default process.pid). */
  pid?: number;
  /** Says whether a pid is a live process that may hold the lock (default: /proc). */
  isHolder?: (pid: number) => boolean;
}

/** True if `pid` is alive and looks like node or slapos (its command line says so). */
export function isLiveNodeProcess(pid: number): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return false;
  }
  if (cmdline === '') return false; // a zombie
  return /node|slapos/i.test(cmdline);
}

export async function acquirePidLock(path: string, options: PidLockOptions = {}): Promise<PidLock> {
  const pid = options.pid ?? process.pid;
  const isHolder = options.isHolder ?? isLiveNodeProcess;
  await mkdir(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}`);
  await writeFile(temporary, `${pid}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temporary, path);
        return lockHandle(path, pid);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await readPid(path);
      if (holder !== undefined && holder !== pid && isHolder(holder))
        throw new SlapError(
          'SLAP_ERR_LOCKED',
          `another ${options.what ?? 'slapos'} process is already running (pid ${holder}, lock ${path})`,
          {
            hint: 'wait for it to finish; if it is not a slapos process, remove the lock file',
            details: { pid: holder, path },
          },
        );
      if (holder === pid) return lockHandle(path, pid);
      // Stale: remove it only if it still names the same holder, then try again.
      if ((await readPid(path)) === holder) await unlink(path).catch(() => undefined);
    }
    throw new SlapError('SLAP_ERR_LOCKED', `could not take the lock ${path} (it keeps changing)`);
  } finally {
    await rm(temporary, { force: true });
  }
}

/** The live process holding the lock at `path`, if any (a stale lock is left as it is). */
export async function lockHolder(
  path: string,
  isHolder: (pid: number) => boolean = isLiveNodeProcess,
): Promise<number | undefined> {
  const pid = await readPid(path);
  return pid !== undefined && isHolder(pid) ? pid : undefined;
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const value = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

function lockHandle(path: string, pid: number): PidLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      if ((await readPid(path)) === pid) await rm(path, { force: true });
    },
  };
}

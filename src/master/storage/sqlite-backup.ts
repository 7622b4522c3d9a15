/**
 * An online backup of a master's SQLite database (`slapos master backup`, `slapos proxy backup`),
 * taken while the master runs and writes: SQLite's backup API from a connection of our own copies
 * a consistent snapshot. The copy goes to a temporary file (0600: the database holds token digests
 * and certificates) beside the target, passes `PRAGMA integrity_check`, is flushed to disk, and only
 * then takes the target's name: no reader ever sees a partial backup under that name, and an
 * existing file is replaced only when asked (`force`).
 *
 * SQLite restarts a backup whenever another connection commits between two of its steps. A master
 * that keeps writing could so keep a step-by-step backup from ever finishing: after the first
 * restart the rest is copied in one step (one read transaction, which never blocks the master's
 * writes in WAL mode).
 */
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SlapError } from '../../core/errors.ts';

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
  pageSize: number;
}

export interface BackupOptions {
  /** Replace `target` if it exists (default: refuse). */
  force?: boolean;
  /** Pages copied per step (default 4096: 16 MiB of 4 KiB pages). */
  pagesPerStep?: number;
  /** Called between steps (never for a database copied in one step). */
  onProgress?: (progress: BackupProgress) => void;
  /** How long to wait for a lock held by the master, in milliseconds (default 5000). */
  busyTimeoutMs?: number;
}

export interface BackupResult {
  /** The backup file (absolute). */
  path: string;
  bytes: number;
  pages: number;
  /** How many times another connection's commit restarted the copy. */
  restarts: number;
}

/** All the remaining pages in one step (better-sqlite3 caps the step size at 2^31 - 1). */
const ALL_PAGES = 0x7fffffff;

/** The files SQLite keeps beside a database, which a backup must never replace. */
const COMPANION_SUFFIXES = ['', '-wal', '-shm', '-journal'];

async function realPathOrSelf(path: string): Promise<string> {
  return realpath(path).catch(() => path);
}

/** The target's absolute path, after refusing a target that is the database itself. */
async function checkTarget(source: string, target: string, force: boolean): Promise<void> {
  const targetDir = await realpath(dirname(target)).catch(() => {
    throw new SlapError('SLAP_ERR_USAGE', `the directory of ${target} does not exist`);
  });
  const realTarget = join(targetDir, basename(target));
  const realSource = await realPathOrSelf(source);
  if (COMPANION_SUFFIXES.some((suffix) => realTarget === `${realSource}${suffix}`))
    throw new SlapError('SLAP_ERR_USAGE', `${target} is the database itself (or one of its files)`, {
      hint: 'write the backup to another file',
    });
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory())
    throw new SlapError('SLAP_ERR_USAGE', `${target} is a directory`, { hint: 'give a file name' });
  if (existing && !force)
    throw new SlapError('SLAP_ERR_CONFLICT', `${target} exists`, {
      hint: 'choose another file, or pass --force to replace it',
    });
}

function openSource(source: string, busyTimeoutMs: number): Database {
  if (source !== source.trim())
    // better-sqlite3 trims the path it is given: it would open another file.
    throw new SlapError('SLAP_ERR_USAGE', `the database path ${JSON.stringify(source)} ends with spaces`);
  if (!existsSync(source)) throw new SlapError('SLAP_ERR_DATABASE', `no database at ${source}`);
  let database: Database;
  try {
    database = new BetterSqlite3(source, { fileMustExist: true });
  } catch (error) {
    throw new SlapError('SLAP_ERR_DATABASE', `cannot open the database ${source}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  try {
    database.pragma(`busy_timeout = ${busyTimeoutMs}`);
    const migrations = database
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'")
      .get();
    if (migrations === undefined)
      throw new SlapError('SLAP_ERR_DATABASE', `${source} is not the database of a SlapOS master`);
    return database;
  } catch (error) {
    database.close();
    if (error instanceof SlapError) throw error;
    throw new SlapError('SLAP_ERR_DATABASE', `cannot read the database ${source}: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `PRAGMA integrity_check` on a database file; throws unless it answers `ok`. */
export function checkDatabaseIntegrity(path: string): void {
  const database = new BetterSqlite3(path, { fileMustExist: true });
  try {
    const rows = database.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((row) => row.integrity_check).filter((line) => line !== 'ok');
    if (problems.length > 0)
      throw new SlapError('SLAP_ERR_DATABASE', `the backup copy fails its integrity check: ${problems[0]}`, {
        details: { problems: problems.length },
      });
  } finally {
    database.close();
  }
}

async function removeWithCompanions(path: string): Promise<void> {
  await Promise.all(COMPANION_SUFFIXES.map((suffix) => rm(`${path}${suffix}`, { force: true })));
}

async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Backs the SQLite database `source` up into `target` (see the module comment). */
export async function backupSqliteDatabase(
  source: string,
  target: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const force = options.force === true;
  await checkTarget(source, target, force);
  const database = openSource(source, options.busyTimeoutMs ?? 5000);
  // A name of our own, not derived from the target's (which may be long, or end with spaces that
  // better-sqlite3 would trim from the path it is given).
  const temporary = join(dirname(target), `.slapos-backup-${randomBytes(8).toString('hex')}.tmp`);
  try {
    // Created empty and 0600 by us, so that SQLite never creates it with the umask's mode.
    await (await open(temporary, 'wx', 0o600)).close();
    const pageSize = database.pragma('page_size', { simple: true }) as number;
    const step = Math.max(1, Math.min(ALL_PAGES, Math.trunc(options.pagesPerStep ?? 4096)));
    let restarts = 0;
    let lastRemaining = Infinity;
    let inOneStep = false;
    const done = await database.backup(temporary, {
      progress: ({ totalPages, remainingPages }) => {
        // A step that did not shrink what remains started over: another connection committed.
        if (remainingPages >= lastRemaining) {
          restarts++;
          inOneStep = true;
        }
        lastRemaining = remainingPages;
        options.onProgress?.({ totalPages, remainingPages, pageSize });
        return inOneStep ? ALL_PAGES : step;
      },
    });
    checkDatabaseIntegrity(temporary);
    await syncPath(temporary);
    if (force) await rename(temporary, target);
    else {
      // link() refuses an existing name: a file created meanwhile is never replaced.
      await link(temporary, target).catch((error: unknown) => {
        if ((error as { code?: unknown }).code === 'EEXIST')
          throw new SlapError('SLAP_ERR_CONFLICT', `${target} exists`, {
            hint: 'choose another file, or pass --force to replace it',
          });
        throw error;
      });
      await rm(temporary);
    }
    await syncPath(dirname(target));
    const bytes = (await stat(target)).size;
    return { path: target, bytes, pages: done.totalPages, restarts };
  } catch (error) {
    await removeWithCompanions(temporary);
    if (error instanceof SlapError) throw error;
    throw new SlapError('SLAP_ERR_DATABASE', `the backup of ${source} failed: ${messageOf(error)}`, {
      cause: error,
    });
  } finally {
    database.close();
  }
}

/**
 * SQLite failures that are conditions of the machine, not bugs: another process holding the lock,
 * the disk full, the file or its directory read-only, an I/O error, a file that cannot be opened.
 * The master answers them 503 (retry later) with a title that says what is wrong, never the
 * database's path or SQLite's own message; it logs one structured line when a fault starts and one
 * when the database works again (not one per request), and needs no restart: SQLite rolled the
 * failed transaction back, the next one tries again.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';

export type SqliteFault = 'busy' | 'disk-full' | 'read-only' | 'io-error' | 'cannot-open';

/** By SQLite's primary result code (better-sqlite3 reports the extended one: SQLITE_IOERR_WRITE…). */
const FAULTS: Readonly<Record<string, { fault: SqliteFault; title: string }>> = {
  SQLITE_BUSY: { fault: 'busy', title: 'The database is busy; retry later.' },
  SQLITE_LOCKED: { fault: 'busy', title: 'The database is busy; retry later.' },
  SQLITE_FULL: {
    fault: 'disk-full',
    title: "The master's database cannot be written: its disk is full. Retry later.",
  },
  SQLITE_READONLY: {
    fault: 'read-only',
    title: "The master's database cannot be written: it is read-only. Retry later.",
  },
  SQLITE_IOERR: {
    fault: 'io-error',
    title: "The master's database failed to read or write its disk. Retry later.",
  },
  SQLITE_CANTOPEN: {
    fault: 'cannot-open',
    title: "The master's database files cannot be opened. Retry later.",
  },
};

/** The SQLite result code of an error (`SQLITE_IOERR_WRITE`), if it is one. */
export function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

function faultEntry(code: string | undefined): { fault: SqliteFault; title: string } | undefined {
  const primary = code === undefined ? undefined : /^SQLITE_[A-Z]+/.exec(code)?.[0];
  return primary === undefined ? undefined : FAULTS[primary];
}

/** The fault an error is, if it is one (see the module comment). */
export function sqliteFault(error: unknown): SqliteFault | undefined {
  return faultEntry(sqliteCode(error))?.fault;
}

/** The 503 SlapError a fault is answered with; undefined for any other error. */
export function sqliteFaultError(error: unknown): SlapError | undefined {
  const code = sqliteCode(error);
  const entry = faultEntry(code);
  if (entry === undefined) return undefined;
  return new SlapError('SLAP_ERR_UNAVAILABLE', entry.title, {
    cause: error,
    details: { fault: entry.fault, sqlite: code },
  });
}

/**
 * Logs the faults of one database by transitions: a line when one starts (or changes), a line when
 * a write commits again (reads keep working on a full disk: they prove nothing). A busy database
 * is no fault of the machine: it is not logged here.
 */
export class SqliteFaultLog {
  private current: { fault: SqliteFault; code: string; since: number } | undefined;

  constructor(
    private readonly logger: Logger | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a fault is under way (after `failed`, before the next `wrote`). */
  get faulty(): boolean {
    return this.current !== undefined;
  }

  failed(error: unknown): void {
    const fault = sqliteFault(error);
    const code = sqliteCode(error);
    if (fault === undefined || fault === 'busy' || code === undefined) return;
    if (this.current?.fault === fault) return;
    this.current = { fault, code, since: this.now() };
    this.logger?.error(
      { fault, sqlite: code },
      `database fault (${fault}): requests that need it are answered 503 until it works again`,
    );
  }

  /** A write transaction committed. */
  wrote(): void {
    if (this.current === undefined) return;
    const { fault, since } = this.current;
    this.current = undefined;
    this.logger?.info({ fault, durationMs: this.now() - since }, 'database works again');
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why the master could not write the database file at `path`, as an error to refuse to start with:
 * a read-only file (SQLite would open it read-only and fail every write, even once the file is
 * writable again), or a read-only directory (SQLite creates the -wal and -shm files beside the
 * database). Undefined when both are writable by this process (root writes anything).
 */
export function readOnlyDatabaseError(path: string): SlapError | undefined {
  const hint =
    'the user the master runs as must be able to write the database file and its directory (for the -wal and -shm files)';
  if (existsSync(path) && !writable(path))
    return new SlapError('SLAP_ERR_DATABASE', `cannot use the database ${path}: it is a read-only file`, {
      hint,
    });
  if (!writable(dirname(path)))
    return new SlapError(
      'SLAP_ERR_DATABASE',
      `cannot use the database ${path}: it is in a read-only directory`,
      { hint },
    );
  return undefined;
}

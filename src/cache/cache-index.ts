/**
 * The cache server's index, a SQLite file in its directory (WAL): the shadir entries by key, in
 * the order they were first put (a client takes the first compatible one), each pair
 * `[entry, signature]` once; and the SHA-256 digests of the upload tokens with their labels.
 */
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import { SlapError } from '../core/errors.ts';
import type { ShadirEntry } from './shadir-entry.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS shadir_entry (
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  entry TEXT NOT NULL,
  signature TEXT NOT NULL,
  sha512 TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (key, entry, signature)
);
CREATE TABLE IF NOT EXISTS upload_token (
  hash TEXT PRIMARY KEY,
  label TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);
`;

export interface UploadTokenRecord {
  label: string;
  createdAt: string;
}

export interface IndexCounts {
  keys: number;
  entries: number;
  tokens: number;
}

export class CacheIndex {
  private readonly insertEntry: Statement<[string, string, string, string, string]>;
  private readonly selectEntries: Statement<[string], { entry: string; signature: string }>;
  private readonly selectToken: Statement<[string], { label: string }>;
  private closed = false;

  private constructor(private readonly db: Database) {
    this.insertEntry = db.prepare(
      'INSERT INTO shadir_entry (key, entry, signature, sha512, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    this.selectEntries = db.prepare('SELECT entry, signature FROM shadir_entry WHERE key = ? ORDER BY id');
    this.selectToken = db.prepare('SELECT label FROM upload_token WHERE hash = ?');
  }

  /** Opens (creating) the index at `path`. */
  static open(path: string): CacheIndex {
    let db: Database | undefined;
    try {
      db = new BetterSqlite3(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
      return new CacheIndex(db);
    } catch (error) {
      db?.close();
      throw new SlapError(
        'SLAP_ERR_DATABASE',
        `cannot open the cache index ${path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Adds an entry under `key`; false when that exact pair was there already. */
  put(key: string, entry: ShadirEntry, now: Date = new Date()): boolean {
    return (
      this.insertEntry.run(key, entry.entry, entry.signature, entry.sha512, now.toISOString()).changes > 0
    );
  }

  /** The `[entry, signature]` pairs of `key`, oldest first (empty when the key is unknown). */
  list(key: string): [string, string][] {
    return this.selectEntries.all(key).map((row) => [row.entry, row.signature]);
  }

  /** Records the digest of a new upload token; a label must be unique. */
  addToken(hash: string, label: string, now: Date = new Date()): void {
    try {
      this.db
        .prepare('INSERT INTO upload_token (hash, label, created_at) VALUES (?, ?, ?)')
        .run(hash, label, now.toISOString());
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new SlapError(
          'SLAP_ERR_CONFLICT',
          `an upload token labelled ${JSON.stringify(label)} exists already`,
          {
            hint: 'choose another --label, or revoke that one first',
          },
        );
      throw error;
    }
  }

  /** The label of the token whose digest is `hash`, if it is a valid one. */
  tokenLabel(hash: string): string | undefined {
    return this.selectToken.get(hash)?.label;
  }

  /** Removes the token labelled `label`; false when there was none. */
  revokeToken(label: string): boolean {
    return this.db.prepare('DELETE FROM upload_token WHERE label = ?').run(label).changes > 0;
  }

  tokens(): UploadTokenRecord[] {
    return this.db
      .prepare<[], { label: string; created_at: string }>(
        'SELECT label, created_at FROM upload_token ORDER BY created_at, label',
      )
      .all()
      .map((row) => ({ label: row.label, createdAt: row.created_at }));
  }

  counts(): IndexCounts {
    const row = this.db
      .prepare<[], IndexCounts>(
        'SELECT (SELECT COUNT(DISTINCT key) FROM shadir_entry) AS keys, (SELECT COUNT(*) FROM shadir_entry) AS entries, (SELECT COUNT(*) FROM upload_token) AS tokens',
      )
      .get();
    return row ?? { keys: 0, entries: 0, tokens: 0 };
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

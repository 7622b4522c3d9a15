/**
 * The master's store on an embedded SQLite database (better-sqlite3): WAL journal,
 * synchronous=NORMAL, busy timeout, foreign keys; migrated at open (migrate.ts). The repository
 * (kysely-repository.ts) runs on prepared statements of one connection; use cases are queued and
 * committed in groups (group-commit.ts), so concurrent requests never interleave inside a use case.
 * WAL checkpoints move to a worker thread (checkpointer.ts) once the store has written enough.
 */
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kysely, SqliteDialect, type Compilable } from '../../lib/kysely.ts';
import { SlapError, toSlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { BackgroundCheckpointer } from './checkpointer.ts';
import { migrateToLatest } from './migrate.ts';
import { GroupCommitQueue, type JobMode } from './group-commit.ts';
import { PreparedQuery } from './prepared.ts';
import { createKyselyRepository } from './kysely-repository.ts';
import { NodeChangeHub } from './node-changes.ts';
import type { QueryArgs } from './query-params.ts';
import { MemoVersions, memoScope } from './memo-versions.ts';
import { NodeScopeTracker, trackNodeScopes } from './node-scopes.ts';
import { ReadMemo } from './read-memo.ts';
import { readOnlyDatabaseError, sqliteFaultError, SqliteFaultLog } from './sqlite-faults.ts';
import type { MasterStore, MemoizedReadOptions, Repository } from './repository.ts';
import type { MasterDatabase } from './schema.ts';
import type { SqlExecutor } from './sql-executor.ts';
import { observeTransaction, type TransactionObserver } from './transaction-timing.ts';

export interface SqliteStoreOptions {
  /** A file path, or ':memory:'. Parent directories are created (mode 0700). */
  path: string;
  logger?: Logger;
  /** How long a writer waits for another process's lock, in milliseconds (default 5000). */
  busyTimeoutMs?: number;
  /**
   * WAL checkpoints move to a worker thread (checkpointer.ts) once this many write transactions
   * were committed (default 64, so that short-lived stores never start one); Infinity: never.
   */
  backgroundCheckpointAfter?: number;
  /** Told the duration of each transaction (metrics). */
  onTransaction?: TransactionObserver | undefined;
  /** Called after each background checkpoint (WAL size and frames copied into the database). */
  onBackgroundCheckpoint?: (result: { walFrames: number; copiedFrames: number }) => void;
}

/** SQLite's automatic checkpoint threshold (pages), its default. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** The automatic threshold while the background checkpointer runs: a safety net only. */
const SAFETY_CHECKPOINT_PAGES = 16_000;

/**
 * How many memoized read results are kept. A node's snapshot can weigh a hundred kilobytes in
 * memory; what a memo saves is the same key read by many at once (a burst of polls, the node and
 * its partitions after a change), not one node's read a minute later, after others' writes anyway.
 */
const MEMO_LIMIT = 256;
/** How often memoized reads look for commits by other processes. */
const EXTERNAL_CHECK_MS = 100;

function databaseError(path: string, error: unknown): SlapError {
  const message = error instanceof Error ? error.message : String(error);
  return new SlapError('SLAP_ERR_DATABASE', `cannot use the database ${path}: ${message}`, { cause: error });
}

export class SqliteStore implements MasterStore {
  readonly path: string;
  private readonly sqlite: Database;
  private readonly kysely: Kysely<MasterDatabase>;
  private readonly transactions: GroupCommitQueue;
  /** Bumped after every commit that wrote (ours); PRAGMA data_version covers other connections. */
  private writeCount = 0;
  private readonly memo = new ReadMemo(MEMO_LIMIT);
  /** Which compute nodes the running group's writes changed, and the memo's versions they move. */
  private readonly scopes = new NodeScopeTracker();
  private readonly memoVersions = new MemoVersions();
  private externalVersion = 0;
  private externalCheckedAt = -Infinity;
  private readonly queries = new Map<string, PreparedQuery<unknown>>();
  private readonly repository: Repository;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Compute nodes whose revision the running group bumped (told to listeners after its commit). */
  private bumpedNodes = new Set<string>();
  private readonly nodeChanges: NodeChangeHub;
  private checkpointer: BackgroundCheckpointer | undefined;
  private readonly faults: SqliteFaultLog;

  private constructor(
    path: string,
    sqlite: Database,
    private readonly options: SqliteStoreOptions,
  ) {
    this.path = path;
    this.sqlite = sqlite;
    this.kysely = new Kysely<MasterDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
    this.nodeChanges = new NodeChangeHub(options.logger);
    this.faults = new SqliteFaultLog(options.logger);
    this.repository = trackNodeScopes(
      createKyselyRepository(this.kysely, this.createExecutor(), {
        nodeBumped: (computeNodeId) => void this.bumpedNodes.add(computeNodeId),
      }),
      this.scopes,
    );
    this.transactions = new GroupCommitQueue(
      {
        exec: (statement) => this.statement(statement, () => this.rawSql(statement)).run(),
        inTransaction: () => this.sqlite.inTransaction,
      },
      {
        maxGroup: 64,
        afterCommit: (wrote) => {
          // A rolled-back group's changes are counted too: an extra miss, never a stale read.
          const changes = this.scopes.take();
          this.memoVersions.noteCommit(changes);
          if (changes.wrote) this.nodeChanges.committed();
          if (wrote) {
            this.writeCount++;
            if (this.checkpointer) this.checkpointer.noteCommit();
            else if (this.writeCount >= (options.backgroundCheckpointAfter ?? 64)) this.startCheckpointer();
          }
          if (this.bumpedNodes.size === 0) return;
          const bumped = this.bumpedNodes;
          this.bumpedNodes = new Set();
          this.nodeChanges.publish(bumped);
        },
      },
    );
  }

  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const { path } = options;
    let sqlite: Database;
    try {
      if (path !== ':memory:') {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        // SQLite would open it read-only and fail every write, until a restart.
        const readOnly = readOnlyDatabaseError(path);
        if (readOnly) throw readOnly;
      }
      sqlite = new BetterSqlite3(path);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
      sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      sqlite.pragma('foreign_keys = ON');
      // The default 2 MB page cache misses on every index a usage report touches; 64 MB keeps their
      // upper levels and recent leaves in memory.
      sqlite.pragma('cache_size = -65536');
    } catch (error) {
      if (error instanceof SlapError) throw error;
      throw databaseError(path, error);
    }
    const store = new SqliteStore(path, sqlite, options);
    try {
      await migrateToLatest(store.kysely, { dialect: 'sqlite', logger: options.logger });
    } catch (error) {
      sqlite.close();
      throw databaseError(path, error);
    }
    return store;
  }

  read<T>(work: (repository: Repository) => Promise<T>): Promise<T> {
    return this.transaction('read', work);
  }

  write<T>(work: (repository: Repository) => Promise<T>): Promise<T> {
    return this.transaction('write', work);
  }

  /**
   * A version of the committed data (of one compute node's data when `computeNodeId` is given):
   * changes after each of our commits that changed it, and after another process's commits. Asking SQLite for the latter outside a transaction costs a read
   * snapshot (file locks), so it is asked at most every EXTERNAL_CHECK_MS: memoized reads may miss
   * another process's writes for that long (the master is normally the only writer).
   */
  private version({ computeNodeId, nodeless }: MemoizedReadOptions): string {
    const now = performance.now();
    if (now - this.externalCheckedAt >= EXTERNAL_CHECK_MS || this.sqlite.inTransaction) {
      this.externalVersion =
        this.statement<{ data_version: number }>('dataVersion', () =>
          this.rawSql('PRAGMA data_version'),
        ).get()?.data_version ?? 0;
      this.externalCheckedAt = now;
    }
    return `${this.memoVersions.of({ computeNodeId, nodeless })}:${this.externalVersion}`;
  }

  memoizedRead<T>(
    key: string,
    work: (repository: Repository) => Promise<T>,
    options: MemoizedReadOptions = {},
  ): Promise<T> {
    if (this.closed) return Promise.reject(new SlapError('SLAP_ERR_UNAVAILABLE', 'the database is closed'));
    let version: string;
    try {
      version = this.version(options);
    } catch (error) {
      return Promise.reject(toSlapError(this.fault(error)));
    }
    return this.memo.read(
      key,
      version,
      () =>
        this.transaction('read', async (repository) => {
          const version = this.version(options);
          const value = await work(repository);
          // Data read after uncommitted writes of the same group is not memoized, unless they were
          // all writes of other nodes than the one read (a group of writes is the common case).
          const uncommitted = this.transactions.uncommittedWrites && this.scopes.mayHaveChanged(options);
          return { value, version, cacheable: !uncommitted };
        }),
      { scope: memoScope(options), keepEqual: options.keepEqual },
    );
  }

  onNodeChanges(listener: (computeNodeIds: ReadonlySet<string>) => void): () => void {
    return this.nodeChanges.subscribe(listener);
  }

  onCommit(listener: () => void): () => void {
    return this.nodeChanges.subscribeToCommits(listener);
  }

  private transaction<T>(mode: JobMode, work: (repository: Repository) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new SlapError('SLAP_ERR_UNAVAILABLE', 'the database is closed'));
    return observeTransaction(this.options.onTransaction, mode, () =>
      this.transactions.run(mode, () => work(this.repository)),
    ).then(
      (value) => {
        if (mode === 'write') this.faults.wrote();
        return value;
      },
      (error: unknown) => {
        throw this.fault(error);
      },
    );
  }

  /** A failure as it is answered: a fault of the machine (sqlite-faults.ts) becomes a 503. */
  private fault(error: unknown): unknown {
    this.faults.failed(error);
    return sqliteFaultError(error) ?? error;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      // Queued use cases finish first.
      await this.transactions.run('read', () => Promise.resolve());
      await this.checkpointer?.close();
      this.options.logger?.info(this.memo.statistics(), 'read memo statistics');
      this.memo.clear();
      this.sqlite.close();
    })();
    return this.closing;
  }

  /** Moves WAL checkpoints out of the COMMITs, to a worker thread (checkpointer.ts). */
  private startCheckpointer(): void {
    if (this.path === ':memory:' || this.closed || this.checkpointer) return;
    const { logger } = this.options;
    this.checkpointer = new BackgroundCheckpointer({
      path: this.path,
      logger,
      onCheckpoint: this.options.onBackgroundCheckpoint,
      onFailure: () => {
        if (!this.closed) this.sqlite.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      },
    });
    this.sqlite.pragma(`wal_autocheckpoint = ${SAFETY_CHECKPOINT_PAGES}`);
    logger?.debug({ database: this.path }, 'background checkpoints started');
  }

  private rawSql(text: string): Compilable {
    return {
      compile: () => ({ sql: text, parameters: [], query: undefined as never, queryId: undefined as never }),
    };
  }

  /** The prepared statement for `key`, built and compiled on first use. */
  private statement<Row = unknown>(key: string, build: () => Compilable): PreparedQuery<Row> {
    let query = this.queries.get(key);
    if (!query) {
      query = new PreparedQuery(this.sqlite, build());
      this.queries.set(key, query);
    }
    return query as PreparedQuery<Row>;
  }

  /** The repository's access to the connection: prepared statements, run synchronously. */
  private createExecutor(): SqlExecutor {
    return {
      all: <Row>(key: string, build: () => Compilable, args?: QueryArgs) =>
        Promise.resolve(this.statement<Row>(key, build).all(args)),
      get: <Row>(key: string, build: () => Compilable, args?: QueryArgs) =>
        Promise.resolve(this.statement<Row>(key, build).get(args)),
      run: (key, build, args) => Promise.resolve(this.statement(key, build).run(args)),
      insert: (key, build, args) => Promise.resolve(this.statement(key, build).insert(args)),
      // A failed statement does not abort an SQLite transaction: nothing to protect.
      recoverable: (work) => work(),
    };
  }
}

/** Opens (creating and migrating as needed) the SQLite store at `options.path`. */
export function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  return SqliteStore.open(options);
}

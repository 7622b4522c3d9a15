/**
 * The master's store on PostgreSQL, for several masters sharing one database. A pool of
 * connections (`pg`); the repository is the one the SQLite store uses (kysely-repository.ts),
 * compiled with Kysely's PostgreSQL dialect once per query and run as named prepared statements.
 *
 * Writes run in SERIALIZABLE transactions: when two masters (or two requests of one master) race,
 * PostgreSQL fails one with a serialization failure and the whole use case is run again, so the
 * same request sent at once to two masters still creates one instance. Reads run in REPEATABLE
 * READ READ ONLY transactions (one snapshot for every table a use case reads). Commits are
 * announced to the other masters (change-notifications.ts). The database out of reach is a 503 on
 * each call, never a crash: connections are made again as the calls come.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Kysely, PostgresDialect, type Compilable } from '../../../lib/kysely.ts';
import pg from 'pg';
import { SlapError } from '../../../core/errors.ts';
import type { Logger } from '../../../lib/logger.ts';
import { describeDatabaseLocation } from '../database-location.ts';
import { createKyselyRepository } from '../kysely-repository.ts';
import { migrateToLatest } from '../migrate.ts';
import { NodeChangeHub } from '../node-changes.ts';
import { BoundParameters, type QueryArgs } from '../query-params.ts';
import { MemoVersions, memoScope, type CommitChanges } from '../memo-versions.ts';
import { NodeScopeTracker, trackNodeScopes } from '../node-scopes.ts';
import { ReadMemo } from '../read-memo.ts';
import type { MasterStore, MemoizedReadOptions, Repository } from '../repository.ts';
import type { MasterDatabase } from '../schema.ts';
import { constraintViolation, type SqlExecutor } from '../sql-executor.ts';
import {
  CHANGES_CHANNEL,
  ChangeListener,
  encodeChangeNotices,
  type ChangeNotice,
} from './change-notifications.ts';
import { pgClientConfig } from './connection.ts';
import { conflictRetriesExhausted, isRetryable, isUnavailable, unavailableError } from './pg-errors.ts';
import { observeTransaction, type TransactionObserver } from '../transaction-timing.ts';

export interface PostgresStoreOptions {
  /** A postgresql:// URI (database-location.ts). */
  uri: string;
  logger?: Logger | undefined;
  /** Told the duration of each transaction (metrics). */
  onTransaction?: TransactionObserver | undefined;
  /** Connections in the pool (default 8). */
  poolSize?: number | undefined;
  /** How long a call waits for a connection before answering 503 (default 5000 ms). */
  connectTimeoutMs?: number | undefined;
  /** How many times a use case is run again after a serialization failure (default 30). */
  maxRetries?: number | undefined;
}

const MEMO_LIMIT = 1024;
/**
 * How many times a write that hit a unique violation is run again: in a write, most often a
 * concurrent transaction that inserted the same key first (SERIALIZABLE reports it as a
 * serialization failure only when this transaction's own read covered the key through the same
 * index). Re-running the use case finds that row; a violation that persists is not a race.
 */
const UNIQUE_RACE_RETRIES = 3;

/** A query compiled once: its prepared statement's name, text and parameters. */
interface CompiledQuery {
  name: string;
  text: string;
  parameters: BoundParameters;
  /** Not a SELECT: running it may change data. */
  writes: boolean;
}

type Mode = 'read' | 'write';

const BEGIN: Record<Mode, string> = {
  read: 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY',
  write: 'BEGIN ISOLATION LEVEL SERIALIZABLE',
};

/** What one attempt of a transaction did, for what follows its commit. */
interface Attempt {
  changed: boolean;
  bumped: Set<string>;
  /** Which nodes' data the use case changed (for memoized reads, here and on the other masters). */
  scopes: NodeScopeTracker;
}

export class PostgresStore implements MasterStore {
  /** This store among the masters (its own notices are ignored). */
  private readonly origin = randomUUID();
  private readonly pool: pg.Pool;
  private readonly kysely: Kysely<MasterDatabase>;
  private readonly queries = new Map<string, CompiledQuery>();
  private readonly memo = new ReadMemo(MEMO_LIMIT);
  /** The versions of memoized reads, moved by each commit here and (by its notice) on another master. */
  private readonly memoVersions = new MemoVersions();
  /** Memoized reads are not kept while notices cannot be received: each read is its own version. */
  private unlistenedReads = 0;
  private readonly nodeChanges: NodeChangeHub;
  private readonly listener: ChangeListener;
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(private readonly options: PostgresStoreOptions) {
    const config = pgClientConfig(options.uri);
    this.pool = new pg.Pool({
      ...config,
      max: options.poolSize ?? 8,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    });
    // A connection that fails while idle, or while checked out between two queries, emits 'error':
    // unhandled, that would end the process. The failure reaches the call using it (if any).
    this.pool.on('error', (error) => options.logger?.warn({ err: error }, 'idle PostgreSQL connection lost'));
    this.pool.on('connect', (client) => {
      client.on('error', (error) => options.logger?.debug({ err: error }, 'PostgreSQL connection lost'));
    });
    this.kysely = new Kysely<MasterDatabase>({ dialect: new PostgresDialect({ pool: this.pool }) });
    this.nodeChanges = new NodeChangeHub(options.logger);
    this.listener = new ChangeListener({
      config,
      logger: options.logger,
      onNotice: (notice) => this.noticeReceived(notice),
      onReconnected: () => this.everythingChanged(),
    });
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    const where = describeDatabaseLocation({ kind: 'postgres', uri: options.uri });
    try {
      await migrateToLatest(store.kysely, { dialect: 'postgres', logger: options.logger });
      await store.checkCollation();
      await store.listener.start();
    } catch (error) {
      await store.listener.close();
      await store.kysely.destroy().catch(() => undefined);
      if (isUnavailable(error))
        throw new SlapError('SLAP_ERR_UNAVAILABLE', `cannot reach ${where}`, { cause: error });
      const message = error instanceof Error ? error.message : String(error);
      throw new SlapError('SLAP_ERR_DATABASE', `cannot use ${where}: ${message}`, { cause: error });
    }
    return store;
  }

  /** Lists are ordered by code point on SQLite; PostgreSQL does the same only with the C collation. */
  private async checkCollation(): Promise<void> {
    const { rows } = await this.pool.query<{ datcollate: string }>(
      'SELECT datcollate FROM pg_database WHERE datname = current_database()',
    );
    const collation = rows[0]?.datcollate;
    if (collation !== undefined && collation !== 'C' && collation !== 'POSIX')
      this.options.logger?.warn(
        { collation },
        'the PostgreSQL database does not use the C collation: lists may be ordered differently than on SQLite ' +
          "(create it with LC_COLLATE 'C')",
      );
  }

  read<T>(work: (repository: Repository) => Promise<T>): Promise<T> {
    return this.transaction('read', work);
  }

  write<T>(work: (repository: Repository) => Promise<T>): Promise<T> {
    return this.transaction('write', work);
  }

  /** The version of the data (of one compute node's when given), taken before the read's snapshot. */
  private version(options: MemoizedReadOptions): string {
    if (!this.listener.listening) return `unlistened:${++this.unlistenedReads}`;
    return this.memoVersions.of(options);
  }

  memoizedRead<T>(
    key: string,
    work: (repository: Repository) => Promise<T>,
    options: MemoizedReadOptions = {},
  ): Promise<T> {
    if (this.closed) return Promise.reject(new SlapError('SLAP_ERR_UNAVAILABLE', 'the database is closed'));
    const version = this.version(options);
    return this.memo.read(
      key,
      version,
      async () => ({
        value: await this.transaction('read', work),
        version,
        cacheable: !version.startsWith('unlistened:'),
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

  private noticeReceived(notice: ChangeNotice): void {
    if (notice.origin === this.origin) return;
    if (notice.nodes === 'all') {
      this.everythingChanged();
      return;
    }
    this.memoVersions.noteCommit({
      nodes: new Set([...notice.nodes, ...notice.changed]),
      unattributed: notice.unattributed,
      wrote: true,
    });
    this.nodeChanges.publish(new Set(notice.nodes));
    this.nodeChanges.committed();
  }

  /** Notices may have been missed: every memoized read is stale and every node is woken. */
  private everythingChanged(): void {
    this.memoVersions.noteCommit({ nodes: new Set(), unattributed: true, wrote: true });
    this.nodeChanges.committed();
    this.pool
      .query<{ reference: string }>('SELECT compute_node_reference AS reference FROM compute_node_revision')
      .then(
        ({ rows }) => this.nodeChanges.publish(new Set(rows.map((row) => row.reference))),
        (error: unknown) =>
          this.options.logger?.warn({ err: error }, 'cannot list the compute nodes to wake'),
      );
  }

  private transaction<T>(mode: Mode, work: (repository: Repository) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new SlapError('SLAP_ERR_UNAVAILABLE', 'the database is closed'));
    const running = observeTransaction(this.options.onTransaction, mode, () =>
      this.runTransaction(mode, work),
    );
    this.running.add(running);
    const done = (): void => void this.running.delete(running);
    running.then(done, done);
    return running;
  }

  private async runTransaction<T>(mode: Mode, work: (repository: Repository) => Promise<T>): Promise<T> {
    const maxRetries = this.options.maxRetries ?? 30;
    let uniqueViolations = 0;
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (error) {
        throw unavailableError(error);
      }
      const state: Attempt = { changed: false, bumped: new Set(), scopes: new NodeScopeTracker() };
      let changes: CommitChanges | undefined;
      let value: T;
      try {
        await client.query(BEGIN[mode]);
        const repository = trackNodeScopes(
          createKyselyRepository(this.kysely, this.executor(client, state), {
            nodeBumped: (computeNodeId) => void state.bumped.add(computeNodeId),
          }),
          state.scopes,
        );
        value = await work(repository);
        if (mode === 'write' && (state.changed || state.bumped.size > 0)) {
          changes = state.scopes.take();
          for (const payload of encodeChangeNotices(this.origin, state.bumped, changes))
            await client.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, payload]);
        }
        await client.query('COMMIT');
      } catch (error) {
        // A lost connection is dropped; otherwise (a refused statement, a use case's own error) the
        // transaction is rolled back and the connection reused, or dropped if even that fails.
        const broken = isUnavailable(error);
        if (!broken) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            // The connection broke on the way (the server going down): nothing was committed.
            client.release(true);
            if (isRetryable(error) && attempt < maxRetries) continue;
            throw isUnavailable(rollbackError) ? unavailableError(rollbackError) : this.failure(error);
          }
        }
        client.release(broken ? (error instanceof Error ? error : true) : undefined);
        const uniqueRace =
          mode === 'write' &&
          constraintViolation(error) === 'unique' &&
          ++uniqueViolations <= UNIQUE_RACE_RETRIES;
        if (isRetryable(error) || uniqueRace) {
          if (attempt >= maxRetries) throw conflictRetriesExhausted(error);
          // Jittered backoff: the conflicting transactions do not meet again at once.
          await delay(Math.random() * Math.min(2 ** attempt, 50));
          continue;
        }
        throw this.failure(error);
      }
      client.release();
      if (changes) {
        this.memoVersions.noteCommit(changes);
        this.nodeChanges.publish(state.bumped);
        this.nodeChanges.committed();
      }
      return value;
    }
  }

  private failure(error: unknown): unknown {
    return isUnavailable(error) ? unavailableError(error) : error;
  }

  private compiled(key: string, build: () => Compilable, suffix = ''): CompiledQuery {
    const cacheKey = suffix === '' ? key : `${key}\n${suffix}`;
    let query = this.queries.get(cacheKey);
    if (!query) {
      const compiled = build().compile();
      const text = compiled.sql + suffix;
      query = {
        // Short generated names: PostgreSQL truncates identifiers at 63 bytes.
        name: `slapos_${this.queries.size}`,
        text,
        parameters: new BoundParameters(compiled.parameters, text),
        writes: !/^\s*select\b/i.test(text),
      };
      this.queries.set(cacheKey, query);
    }
    return query;
  }

  /** The repository's access to one transaction's connection. */
  private executor(client: pg.PoolClient, state: Attempt): SqlExecutor {
    let savepoints = 0;
    // A use case may start several queries at once (Promise.all): one connection runs them in turn.
    let previous: Promise<unknown> = Promise.resolve();
    const inTurn = <R>(query: () => Promise<R>): Promise<R> => {
      const result = previous.then(query);
      previous = result.catch(() => undefined);
      return result;
    };
    const execute = <Row>(query: CompiledQuery, args: QueryArgs | undefined): Promise<pg.QueryResult> => {
      if (query.writes) state.changed = true;
      const values = query.parameters.values(args ?? {});
      return inTurn(() =>
        client.query<Row & pg.QueryResultRow>({ name: query.name, text: query.text, values }),
      );
    };
    return {
      all: async <Row>(key: string, build: () => Compilable, args?: QueryArgs) =>
        (await execute<Row>(this.compiled(key, build), args)).rows as Row[],
      get: async <Row>(key: string, build: () => Compilable, args?: QueryArgs) =>
        (await execute<Row>(this.compiled(key, build), args)).rows[0] as Row | undefined,
      run: async (key, build, args) => (await execute(this.compiled(key, build), args)).rowCount ?? 0,
      insert: async (key, build, args) => {
        const result = await execute<{ id: number }>(this.compiled(key, build, ' RETURNING id'), args);
        return (result.rows[0] as { id: number }).id;
      },
      recoverable: async (work) => {
        const savepoint = `recoverable_${++savepoints}`;
        await inTurn(() => client.query(`SAVEPOINT ${savepoint}`));
        try {
          const value = await work();
          await inTurn(() => client.query(`RELEASE SAVEPOINT ${savepoint}`));
          return value;
        } catch (error) {
          await inTurn(() => client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`));
          throw error;
        }
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      // Use cases under way finish first.
      await Promise.allSettled([...this.running]);
      await this.listener.close();
      this.options.logger?.info(this.memo.statistics(), 'read memo statistics');
      this.memo.clear();
      await this.kysely.destroy();
    })();
    return this.closing;
  }
}

/** Opens (creating the schema and migrating as needed) the PostgreSQL store at `options.uri`. */
export function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  return PostgresStore.open(options);
}

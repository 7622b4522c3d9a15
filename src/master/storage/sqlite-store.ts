/**
 * The master's store on an embedded SQLite database (better-sqlite3): WAL journal,
 * synchronous=NORMAL, busy timeout, foreign keys. Schema through Kysely's Migrator; queries built
 * with Kysely and run as prepared statements. One connection; transactions are serialised by a
 * mutex (BEGIN IMMEDIATE for writes), so concurrent requests never interleave inside a use case.
 */
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kysely, Migrator, SqliteDialect, sql, type Compilable } from 'kysely';
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { BackgroundCheckpointer } from './checkpointer.ts';
import { migrationProvider } from './migrations.ts';
import { GroupCommitQueue, type JobMode } from './group-commit.ts';
import { PreparedQuery, param, type QueryArgs } from './prepared.ts';
import { createSqliteIdentityRepository } from './sqlite-identities.ts';
import type {
  AddressRecord,
  ComputeNodeRecord,
  InstanceFields,
  InstanceRecord,
  InstanceSummary,
  MasterStore,
  PartitionKey,
  PartitionRecord,
  PromiseResultsRecord,
  Repository,
  SoftwareInstallationRecord,
} from './repository.ts';
import type { InstanceTable, MasterDatabase } from './schema.ts';
import type { RequestedState, SlapState, SoftwareInstallationState } from '../../core/states.ts';

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
  /** Called after each background checkpoint (WAL size and frames copied into the database). */
  onBackgroundCheckpoint?: (result: { walFrames: number; copiedFrames: number }) => void;
}

type InstanceRow = Omit<InstanceTable, 'id' | 'owner'> & {
  id: number;
  owner: string;
  partition_timestamp: number | null;
  partition_slap_state: SlapState | null;
  partition_dependency_serial: number | null;
  partition_dependency_changed_at: number | null;
};

function toInstance(row: InstanceRow): InstanceRecord {
  return {
    id: row.id,
    title: row.title,
    requestedBy: row.requested_by,
    shared: row.shared === 1,
    softwareRelease: row.software_release,
    softwareType: row.software_type,
    parameterXml: row.parameter_xml,
    sharedParametersJson: row.shared_parameters_json,
    slaJson: row.sla_json,
    requestedState: row.requested_state,
    connectionXml: row.connection_xml,
    location:
      row.compute_node_reference === null || row.partition_reference === null
        ? null
        : { computeNodeId: row.compute_node_reference, partitionId: row.partition_reference },
    hostPosition: row.host_position,
    reportedState: row.reported_state,
    reportedAt: row.reported_at,
    errorMessage: row.error_message,
    errorAt: row.error_at,
    bangMessage: row.bang_message,
    partitionTimestamp: row.partition_timestamp,
    partitionSlapState: row.partition_slap_state,
    partitionDependencySerial: row.partition_dependency_serial,
    partitionDependencyChangedAt: row.partition_dependency_changed_at,
    requester:
      row.requester_node === null || row.requester_partition === null
        ? null
        : { computeNodeId: row.requester_node, partitionId: row.requester_partition },
    owner: row.owner,
    allocationMessage: row.allocation_message,
  };
}

const INSTANCE_COLUMNS: Record<keyof InstanceFields, readonly (keyof InstanceTable)[]> = {
  title: ['title'],
  requestedBy: ['requested_by'],
  softwareRelease: ['software_release'],
  softwareType: ['software_type'],
  parameterXml: ['parameter_xml'],
  sharedParametersJson: ['shared_parameters_json'],
  slaJson: ['sla_json'],
  requestedState: ['requested_state'],
  connectionXml: ['connection_xml'],
  location: ['compute_node_reference', 'partition_reference'],
  hostPosition: ['host_position'],
  reportedState: ['reported_state'],
  reportedAt: ['reported_at'],
  errorMessage: ['error_message'],
  errorAt: ['error_at'],
  bangMessage: ['bang_message'],
  bangAt: ['bang_at'],
  requester: ['requester_node', 'requester_partition'],
  allocationMessage: ['allocation_message'],
};

function instanceColumnValues(fields: Partial<InstanceFields> & { now: number }): Record<string, unknown> {
  const values: Record<string, unknown> = { updated_at: fields.now };
  for (const key of Object.keys(INSTANCE_COLUMNS) as (keyof InstanceFields)[]) {
    if (!(key in fields)) continue;
    if (key === 'location') {
      values.compute_node_reference = fields.location?.computeNodeId ?? null;
      values.partition_reference = fields.location?.partitionId ?? null;
    } else if (key === 'requester') {
      values.requester_node = fields.requester?.computeNodeId ?? null;
      values.requester_partition = fields.requester?.partitionId ?? null;
    } else {
      values[INSTANCE_COLUMNS[key][0] ?? key] = fields[key] ?? null;
    }
  }
  return values;
}

/** SQLite's automatic checkpoint threshold (pages), its default. */
const AUTO_CHECKPOINT_PAGES = 1000;
/** The automatic threshold while the background checkpointer runs: a safety net only. */
const SAFETY_CHECKPOINT_PAGES = 16_000;

/**
 * `LIMIT 1` written in the SQL: with a bound `LIMIT ?` (Kysely's default) SQLite runs these
 * index searches several times slower (tens of microseconds instead of one or two).
 */
const ONE = sql.lit(1);

/** How many memoized read results are kept. */
const MEMO_LIMIT = 1024;
/** How often memoized reads look for commits by other processes. */
const EXTERNAL_CHECK_MS = 100;

/** Another process holding the database too long is a temporary condition (503), not a bug. */
function busyError(error: unknown): SlapError | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !/^SQLITE_(BUSY|LOCKED)/.test(code)) return undefined;
  return new SlapError('SLAP_ERR_UNAVAILABLE', 'The database is busy; retry later.', { cause: error });
}

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
  private readonly memo = new Map<string, { version: string; value: unknown }>();
  /** The memoized reads under way, by key, with the version they were asked at. */
  private readonly pendingReads = new Map<string, { version: string; promise: Promise<unknown> }>();
  private externalVersion = 0;
  private externalCheckedAt = -Infinity;
  private readonly queries = new Map<string, PreparedQuery<unknown>>();
  private readonly repository: Repository;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Compute nodes whose revision the running group bumped (told to listeners after its commit). */
  private bumpedNodes = new Set<string>();
  private readonly nodeChangeListeners = new Set<(computeNodeIds: ReadonlySet<string>) => void>();
  private checkpointer: BackgroundCheckpointer | undefined;

  private constructor(
    path: string,
    sqlite: Database,
    private readonly options: SqliteStoreOptions,
  ) {
    this.path = path;
    this.sqlite = sqlite;
    this.kysely = new Kysely<MasterDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
    this.repository = this.createRepository();
    this.transactions = new GroupCommitQueue(
      {
        exec: (statement) => this.statement(statement, () => this.rawSql(statement)).run(),
        inTransaction: () => this.sqlite.inTransaction,
      },
      {
        maxGroup: 64,
        afterCommit: (wrote) => {
          if (wrote) {
            this.writeCount++;
            if (this.checkpointer) this.checkpointer.noteCommit();
            else if (this.writeCount >= (options.backgroundCheckpointAfter ?? 64)) this.startCheckpointer();
          }
          if (this.bumpedNodes.size === 0) return;
          const bumped = this.bumpedNodes;
          this.bumpedNodes = new Set();
          for (const listener of this.nodeChangeListeners) {
            try {
              listener(bumped);
            } catch (error) {
              options.logger?.error({ err: error }, 'node change listener failed');
            }
          }
        },
      },
    );
  }

  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const { path } = options;
    let sqlite: Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      sqlite = new BetterSqlite3(path);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
      sqlite.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      sqlite.pragma('foreign_keys = ON');
    } catch (error) {
      throw databaseError(path, error);
    }
    const store = new SqliteStore(path, sqlite, options);
    try {
      const { error, results } = await new Migrator({
        db: store.kysely,
        provider: migrationProvider('sqlite'),
      }).migrateToLatest();
      if (error) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
      for (const result of results ?? []) {
        options.logger?.info(
          { migration: result.migrationName, status: result.status },
          'database migration',
        );
      }
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
   * A version of the committed data: changes after each of our commits that wrote, and after
   * another process's commits. Asking SQLite for the latter outside a transaction costs a read
   * snapshot (file locks), so it is asked at most every EXTERNAL_CHECK_MS: memoized reads may miss
   * another process's writes for that long (the master is normally the only writer).
   */
  private version(): string {
    const now = performance.now();
    if (now - this.externalCheckedAt >= EXTERNAL_CHECK_MS || this.sqlite.inTransaction) {
      this.externalVersion =
        this.statement<{ data_version: number }>('dataVersion', () =>
          this.rawSql('PRAGMA data_version'),
        ).get()?.data_version ?? 0;
      this.externalCheckedAt = now;
    }
    return `${this.writeCount}:${this.externalVersion}`;
  }

  memoizedRead<T>(key: string, work: (repository: Repository) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new SlapError('SLAP_ERR_UNAVAILABLE', 'the database is closed'));
    const current = this.version();
    const cached = this.memo.get(key);
    if (cached && cached.version === current) return Promise.resolve(cached.value as T);
    // Callers that miss at the same version share one read: after a write, the nodes polling the
    // same key do not each rebuild (and their transports each re-encode) the same value.
    const pending = this.pendingReads.get(key);
    if (pending && pending.version === current) return pending.promise as Promise<T>;
    const promise = this.transaction('read', async (repository) => {
      const version = this.version();
      const value = await work(repository);
      // Data read after uncommitted writes of the same group is not memoized.
      if (!this.transactions.uncommittedWrites) {
        this.memo.delete(key);
        this.memo.set(key, { version, value });
        if (this.memo.size > MEMO_LIMIT) this.memo.delete(this.memo.keys().next().value as string);
      }
      return value;
    });
    this.pendingReads.set(key, { version: current, promise });
    const settled = (): void => {
      if (this.pendingReads.get(key)?.promise === promise) this.pendingReads.delete(key);
    };
    promise.then(settled, settled);
    return promise;
  }

  onNodeChanges(listener: (computeNodeIds: ReadonlySet<string>) => void): () => void {
    this.nodeChangeListeners.add(listener);
    return () => void this.nodeChangeListeners.delete(listener);
  }

  private transaction<T>(mode: JobMode, work: (repository: Repository) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new SlapError('SLAP_ERR_UNAVAILABLE', 'the database is closed'));
    return this.transactions
      .run(mode, () => work(this.repository))
      .catch((error: unknown) => {
        throw busyError(error) ?? error;
      });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      // Queued use cases finish first.
      await this.transactions.run('read', () => Promise.resolve());
      await this.checkpointer?.close();
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

  private all<Row>(key: string, build: () => Compilable, args?: QueryArgs): Row[] {
    return this.statement<Row>(key, build).all(args);
  }

  private get<Row>(key: string, build: () => Compilable, args?: QueryArgs): Row | undefined {
    return this.statement<Row>(key, build).get(args);
  }

  private run(key: string, build: () => Compilable, args?: QueryArgs): number {
    return this.statement(key, build).run(args);
  }

  private selectInstances() {
    return this.kysely
      .selectFrom('instance as i')
      .leftJoin('partition as p', (join) =>
        join
          .onRef('p.compute_node_reference', '=', 'i.compute_node_reference')
          .onRef('p.reference', '=', 'i.partition_reference'),
      )
      .selectAll('i')
      .select([
        'p.timestamp as partition_timestamp',
        'p.slap_state as partition_slap_state',
        'p.dependency_serial as partition_dependency_serial',
        'p.dependency_changed_at as partition_dependency_changed_at',
      ]);
  }

  private createRepository(): Repository {
    const db = this.kysely;
    const nodeAndPartition = (key: PartitionKey): QueryArgs => ({
      node: key.computeNodeId,
      partition: key.partitionId,
    });

    const repository: Repository = {
      ...createSqliteIdentityRepository(db, {
        all: (key, build, args) => this.all(key, build, args),
        get: (key, build, args) => this.get(key, build, args),
        run: (key, build, args) => this.run(key, build, args),
        insert: (key, build, args) => this.statement(key, build).insert(args),
      }),
      getComputeNode: (reference) => {
        const row = this.get<ComputeNodeRecord>(
          'getComputeNode',
          () =>
            db
              .selectFrom('compute_node')
              .select(['reference', 'address', 'netmask'])
              .where('reference', '=', param('reference')),
          { reference },
        );
        return Promise.resolve(row);
      },
      listComputeNodes: () =>
        Promise.resolve(
          this.all<ComputeNodeRecord>('listComputeNodes', () =>
            db.selectFrom('compute_node').select(['reference', 'address', 'netmask']).orderBy('id'),
          ),
        ),
      upsertComputeNode: (node) => {
        this.run(
          'upsertComputeNode',
          () =>
            db
              .insertInto('compute_node')
              .values({
                reference: param('reference'),
                address: param<string | null>('address'),
                netmask: param<string | null>('netmask'),
                created_at: param<number>('now'),
              })
              .onConflict((conflict) =>
                conflict.column('reference').doUpdateSet({
                  address: param<string | null>('address'),
                  netmask: param<string | null>('netmask'),
                }),
              ),
          { reference: node.reference, address: node.address, netmask: node.netmask, now: node.now },
        );
        return Promise.resolve();
      },
      recordComputeNodeBang: (reference, bang) => {
        this.run(
          'recordComputeNodeBang',
          () =>
            db
              .updateTable('compute_node')
              .set({ bang_message: param('message'), bang_at: param<number>('at') })
              .where('reference', '=', param('reference')),
          { reference, message: bang.message, at: bang.at },
        );
        return Promise.resolve();
      },

      listPartitions: (computeNodeId) =>
        Promise.resolve(
          this.all<PartitionRow>(
            'listPartitions',
            () => selectPartitions(db).where('compute_node_reference', '=', param('node')).orderBy('id'),
            { node: computeNodeId },
          ).map(toPartition),
        ),
      firstFreePartition: (computeNodeId) => {
        const row = this.get<PartitionRow>(
          'firstFreePartition',
          () =>
            selectPartitions(db)
              .where('compute_node_reference', '=', param('node'))
              .where('slap_state', '=', 'free')
              .orderBy('id')
              .limit(ONE),
          { node: computeNodeId },
        );
        return Promise.resolve(row && toPartition(row));
      },
      insertPartition: (key) => {
        this.run(
          'insertPartition',
          () =>
            db.insertInto('partition').values({
              compute_node_reference: param('node'),
              reference: param('partition'),
              slap_state: 'free',
            }),
          nodeAndPartition(key),
        );
        return Promise.resolve();
      },
      deletePartition: (key) => {
        this.run(
          'deletePartition',
          () =>
            db
              .deleteFrom('partition')
              .where('compute_node_reference', '=', param('node'))
              .where('reference', '=', param('partition')),
          nodeAndPartition(key),
        );
        return Promise.resolve();
      },
      setPartitionSlapState: (key, slapState) => {
        this.run(
          'setPartitionSlapState',
          () =>
            db
              .updateTable('partition')
              .set({ slap_state: param<SlapState>('state') })
              .where('compute_node_reference', '=', param('node'))
              .where('reference', '=', param('partition')),
          { node: key.computeNodeId, partition: key.partitionId, state: slapState },
        );
        return Promise.resolve();
      },
      allocatePartition: (key, timestamp) => {
        this.run(
          'allocatePartition',
          () =>
            db
              .updateTable('partition')
              .set({ slap_state: 'busy', timestamp: param<number>('timestamp') })
              .where('compute_node_reference', '=', param('node'))
              .where('reference', '=', param('partition')),
          { node: key.computeNodeId, partition: key.partitionId, timestamp },
        );
        return repository.bumpNodeRevision(key.computeNodeId);
      },
      setPartitionTimestamp: (key, timestamp) => {
        this.run(
          'setPartitionTimestamp',
          () =>
            db
              .updateTable('partition')
              .set({ timestamp: param<number>('timestamp') })
              .where('compute_node_reference', '=', param('node'))
              .where('reference', '=', param('partition')),
          { node: key.computeNodeId, partition: key.partitionId, timestamp },
        );
        return repository.bumpNodeRevision(key.computeNodeId);
      },
      listAddresses: (key) =>
        Promise.resolve(
          this.all<AddressRecord>(
            'listAddresses',
            () =>
              db
                .selectFrom('partition_address')
                .select(['network_interface as networkInterface', 'address', 'netmask'])
                .where('compute_node_reference', '=', param('node'))
                .where('partition_reference', '=', param('partition'))
                .orderBy('id'),
            nodeAndPartition(key),
          ),
        ),
      deleteAddresses: (computeNodeId) => {
        this.run(
          'deleteAddresses',
          () => db.deleteFrom('partition_address').where('compute_node_reference', '=', param('node')),
          { node: computeNodeId },
        );
        return Promise.resolve();
      },
      insertAddress: (key, address) => {
        this.run(
          'insertAddress',
          () =>
            db.insertInto('partition_address').values({
              compute_node_reference: param('node'),
              partition_reference: param('partition'),
              network_interface: param('networkInterface'),
              address: param('address'),
              netmask: param<string | null>('netmask'),
            }),
          {
            node: key.computeNodeId,
            partition: key.partitionId,
            networkInterface: address.networkInterface,
            address: address.address,
            netmask: address.netmask,
          },
        );
        return Promise.resolve();
      },

      listSoftwareInstallations: (computeNodeId) =>
        Promise.resolve(
          this.all<SoftwareInstallationRow>(
            'listSoftwareInstallations',
            () =>
              selectSoftwareInstallations(db)
                .where('compute_node_reference', '=', param('node'))
                .orderBy('id'),
            { node: computeNodeId },
          ).map(toSoftwareInstallation),
        ),
      upsertSoftwareInstallation: (computeNodeId, url, state) => {
        this.run(
          'upsertSoftwareInstallation',
          () =>
            db
              .insertInto('software_installation')
              .values({
                compute_node_reference: param('node'),
                url: param('url'),
                requested_state: param<SoftwareInstallationState>('state'),
              })
              .onConflict((conflict) =>
                conflict
                  .columns(['compute_node_reference', 'url'])
                  .doUpdateSet({ requested_state: param<SoftwareInstallationState>('state') }),
              ),
          { node: computeNodeId, url, state },
        );
        return Promise.resolve();
      },
      recordSoftwareInstallationReport: (computeNodeId, url, report) => {
        if (report.reportedState !== undefined) {
          this.run(
            'recordSoftwareInstallationState',
            () =>
              db
                .updateTable('software_installation')
                .set({ reported_state: param('state'), reported_at: param<number>('at') })
                .where('compute_node_reference', '=', param('node'))
                .where('url', '=', param('url')),
            { node: computeNodeId, url, at: report.at, state: report.reportedState },
          );
        }
        if (report.errorMessage !== undefined) {
          this.run(
            'recordSoftwareInstallationError',
            () =>
              db
                .updateTable('software_installation')
                .set({ error_message: param('message'), error_at: param<number>('at') })
                .where('compute_node_reference', '=', param('node'))
                .where('url', '=', param('url')),
            { node: computeNodeId, url, at: report.at, message: report.errorMessage },
          );
        }
        return Promise.resolve();
      },
      deleteSoftwareInstallation: (computeNodeId, url) => {
        this.run(
          'deleteSoftwareInstallation',
          () =>
            db
              .deleteFrom('software_installation')
              .where('compute_node_reference', '=', param('node'))
              .where('url', '=', param('url')),
          { node: computeNodeId, url },
        );
        return Promise.resolve();
      },

      findInstance: (identity) => {
        const row = this.get<InstanceRow>(
          'findInstance',
          () =>
            this.selectInstances()
              .where('i.owner', '=', param('owner'))
              .where('i.title', '=', param('title'))
              .where('i.requested_by', '=', param('requestedBy'))
              .where('i.shared', '=', param<number>('shared')),
          {
            owner: identity.owner,
            title: identity.title,
            requestedBy: identity.requestedBy,
            shared: identity.shared ? 1 : 0,
          },
        );
        return Promise.resolve(row && toInstance(row));
      },
      getInstanceById: (id) => {
        const row = this.get<InstanceRow>(
          'getInstanceById',
          () => this.selectInstances().where('i.id', '=', param<number>('id')),
          { id },
        );
        return Promise.resolve(row && toInstance(row));
      },
      getInstanceOnPartition: (key) => {
        const row = this.get<InstanceRow>(
          'getInstanceOnPartition',
          () =>
            this.selectInstances()
              .where('i.compute_node_reference', '=', param('node'))
              .where('i.partition_reference', '=', param('partition'))
              .where('i.shared', '=', 0),
          nodeAndPartition(key),
        );
        return Promise.resolve(row && toInstance(row));
      },
      insertInstance: (instance) => {
        const id = this.statement('insertInstance', () =>
          db.insertInto('instance').values({
            title: param('title'),
            requested_by: param('requestedBy'),
            shared: param<number>('shared'),
            software_release: param('softwareRelease'),
            software_type: param('softwareType'),
            parameter_xml: param('parameterXml'),
            shared_parameters_json: param<string | null>('sharedParametersJson'),
            sla_json: param('slaJson'),
            requested_state: param<RequestedState>('requestedState'),
            compute_node_reference: param<string | null>('node'),
            partition_reference: param<string | null>('partition'),
            host_position: param<number | null>('hostPosition'),
            requester_node: param<string | null>('requesterNode'),
            requester_partition: param<string | null>('requesterPartition'),
            owner: param('owner'),
            allocation_message: param<string | null>('allocationMessage'),
            created_at: param<number>('now'),
            updated_at: param<number>('now'),
          }),
        ).insert({
          title: instance.title,
          requestedBy: instance.requestedBy,
          shared: instance.shared ? 1 : 0,
          softwareRelease: instance.softwareRelease,
          softwareType: instance.softwareType,
          parameterXml: instance.parameterXml,
          sharedParametersJson: instance.sharedParametersJson,
          slaJson: instance.slaJson,
          requestedState: instance.requestedState,
          node: instance.location?.computeNodeId ?? null,
          partition: instance.location?.partitionId ?? null,
          hostPosition: instance.hostPosition,
          requesterNode: instance.requester?.computeNodeId ?? null,
          requesterPartition: instance.requester?.partitionId ?? null,
          owner: instance.owner,
          allocationMessage: instance.allocationMessage ?? null,
          now: instance.now,
        });
        return Promise.resolve(id);
      },
      updateInstance: (id, fields) => {
        const values = instanceColumnValues(fields);
        const columns = Object.keys(values).sort();
        values.id = id;
        this.run(
          `updateInstance:${columns.join(',')}`,
          () =>
            db
              .updateTable('instance')
              .set(Object.fromEntries(columns.map((column) => [column, param(column)])))
              .where('id', '=', param<number>('id')),
          values,
        );
        return Promise.resolve();
      },
      deleteInstance: (id) => {
        this.run('deleteInstance', () => db.deleteFrom('instance').where('id', '=', param<number>('id')), {
          id,
        });
        return Promise.resolve();
      },
      listInstancesOnNode: (computeNodeId) =>
        Promise.resolve(
          this.all<InstanceSummary>(
            'listInstancesOnNode',
            () =>
              db
                .selectFrom('partition as p')
                .innerJoin('instance as i', (join) =>
                  join
                    .onRef('i.compute_node_reference', '=', 'p.compute_node_reference')
                    .onRef('i.partition_reference', '=', 'p.reference')
                    .on('i.shared', '=', 0),
                )
                .select([
                  'i.id as id',
                  'i.title as title',
                  'i.requested_by as requestedBy',
                  'i.requested_state as requestedState',
                  'p.reference as partitionId',
                  'i.software_release as softwareRelease',
                ])
                .where('p.compute_node_reference', '=', param('node'))
                .where('p.slap_state', '=', 'busy')
                .orderBy('p.id'),
            { node: computeNodeId },
          ),
        ),
      listChildren: (owner, rootTitle) =>
        Promise.resolve(
          this.all<InstanceRow>(
            'listChildren',
            () =>
              this.selectInstances()
                .where('i.owner', '=', param('owner'))
                .where('i.requested_by', '=', param('root'))
                .where('i.shared', '=', 0)
                .orderBy('i.id'),
            { owner, root: rootTitle },
          ).map(toInstance),
        ),
      markChildrenDestroyed: (owner, rootTitle, now) => {
        this.run(
          'markChildrenDestroyed',
          () =>
            db
              .updateTable('instance')
              .set({ requested_state: 'destroyed', updated_at: param<number>('now') })
              .where('owner', '=', param('owner'))
              .where('requested_by', '=', param('root'))
              .where('shared', '=', 0),
          { owner, root: rootTitle, now },
        );
        return Promise.resolve();
      },
      listPendingInstances: () =>
        Promise.resolve(
          this.all<InstanceRow>('listPendingInstances', () =>
            this.selectInstances()
              .where('i.shared', '=', 0)
              .where('i.compute_node_reference', 'is', null)
              .where('i.requested_state', '!=', 'destroyed')
              .orderBy('i.id'),
          ).map(toInstance),
        ),
      findSharedHost: (query) => {
        const byType = query.softwareType ? 'type' : '';
        const byPartition = query.partitionId !== undefined ? 'partition' : '';
        const row = this.get<InstanceRow>(
          `findSharedHost:${byType}:${byPartition}`,
          () => {
            let select = this.selectInstances()
              .where('i.shared', '=', 0)
              .where('p.compute_node_reference', '=', param('node'))
              .where('p.slap_state', '=', 'busy')
              .where('i.software_release', '=', param('softwareRelease'));
            if (byType) select = select.where('i.software_type', '=', param('softwareType'));
            if (byPartition) select = select.where('p.reference', '=', param('partition'));
            return select.orderBy('p.id').limit(ONE);
          },
          {
            node: query.computeNodeId,
            softwareRelease: query.softwareRelease,
            softwareType: query.softwareType,
            partition: query.partitionId,
          },
        );
        return Promise.resolve(row && toInstance(row));
      },
      listHostedSharedInstances: (host) =>
        Promise.resolve(
          this.all<InstanceRow>(
            'listHostedSharedInstances',
            () =>
              this.selectInstances()
                .where('i.compute_node_reference', '=', param('node'))
                .where('i.partition_reference', '=', param('partition'))
                .where('i.shared', '=', 1)
                .where('i.requested_state', '!=', 'destroyed')
                .orderBy('i.host_position'),
            nodeAndPartition(host),
          ).map(toInstance),
        ),
      nextHostPosition: () => {
        const row = this.get<{ position: number }>('nextHostPosition', () =>
          db
            .selectFrom('instance')
            .select((eb) => eb(eb.fn.coalesce(eb.fn.max('host_position'), eb.lit(0)), '+', 1).as('position')),
        );
        return Promise.resolve(row?.position ?? 1);
      },
      detachSharedInstances: (host, now) => {
        this.run(
          'detachSharedInstances',
          () =>
            db
              .updateTable('instance')
              .set({
                compute_node_reference: null,
                partition_reference: null,
                host_position: null,
                updated_at: param<number>('now'),
              })
              .where('compute_node_reference', '=', param('node'))
              .where('partition_reference', '=', param('partition'))
              .where('shared', '=', 1),
          { node: host.computeNodeId, partition: host.partitionId, now },
        );
        return Promise.resolve();
      },
      listRootTitles: (owner) => {
        const instances = this.all<{ title: string }>(
          'listRootInstanceTitles',
          () =>
            db
              .selectFrom('instance as i')
              .innerJoin('partition as p', (join) =>
                join
                  .onRef('p.compute_node_reference', '=', 'i.compute_node_reference')
                  .onRef('p.reference', '=', 'i.partition_reference'),
              )
              .select('i.title')
              .where('i.owner', '=', param('owner'))
              .where('i.shared', '=', 0)
              .where('i.requested_by', '=', '')
              .orderBy('p.id'),
          { owner },
        );
        const pending = this.all<{ title: string }>(
          'listRootPendingTitles',
          () =>
            db
              .selectFrom('instance')
              .select('title')
              .where('owner', '=', param('owner'))
              .where('shared', '=', 0)
              .where('requested_by', '=', '')
              .where('compute_node_reference', 'is', null)
              .orderBy('id'),
          { owner },
        );
        const shared = this.all<{ title: string }>(
          'listRootSharedTitles',
          () =>
            db
              .selectFrom('instance')
              .select('title')
              .where('owner', '=', param('owner'))
              .where('shared', '=', 1)
              .where('requested_by', '=', '')
              .orderBy('id'),
          { owner },
        );
        return Promise.resolve({
          instances: [...instances, ...pending].map((row) => row.title),
          shared: shared.map((row) => row.title),
        });
      },

      getPromiseResults: (instanceId) => {
        const row = this.get<PromiseResultsRecord>(
          'getPromiseResults',
          () =>
            db
              .selectFrom('instance_promise_result')
              .select(['result_list_json as resultListJson', 'reported_at as reportedAt'])
              .where('instance_id', '=', param<number>('id')),
          { id: instanceId },
        );
        return Promise.resolve(row);
      },
      setPromiseResults: (instanceId, results) => {
        this.run(
          'setPromiseResults',
          () =>
            db
              .insertInto('instance_promise_result')
              .values({
                instance_id: param<number>('id'),
                result_list_json: param('json'),
                reported_at: param<number>('at'),
              })
              .onConflict((conflict) =>
                conflict.column('instance_id').doUpdateSet((eb) => ({
                  result_list_json: eb.ref('excluded.result_list_json'),
                  reported_at: eb.ref('excluded.reported_at'),
                })),
              ),
          { id: instanceId, json: results.resultListJson, at: results.reportedAt },
        );
        return Promise.resolve();
      },

      getNodeRevision: (computeNodeId) => {
        const row = this.get<{ revision: number }>(
          'getNodeRevision',
          () =>
            db
              .selectFrom('compute_node_revision')
              .select('revision')
              .where('compute_node_reference', '=', param('node')),
          { node: computeNodeId },
        );
        return Promise.resolve(row?.revision ?? 0);
      },
      bumpNodeRevision: (computeNodeId) => {
        this.run(
          'bumpNodeRevision',
          () =>
            db
              .insertInto('compute_node_revision')
              .values({ compute_node_reference: param('node'), revision: 1 })
              .onConflict((conflict) =>
                conflict
                  .column('compute_node_reference')
                  .doUpdateSet((eb) => ({ revision: eb('compute_node_revision.revision', '+', 1) })),
              ),
          { node: computeNodeId },
        );
        this.bumpedNodes.add(computeNodeId);
        return Promise.resolve();
      },
      bumpDependencySerial: (key, now) => {
        this.run(
          'bumpDependencySerial',
          () =>
            db
              .updateTable('partition')
              .set((eb) => ({
                dependency_serial: eb('dependency_serial', '+', 1),
                dependency_changed_at: param('now'),
              }))
              .where('compute_node_reference', '=', param('node'))
              .where('reference', '=', param('partition')),
          { ...nodeAndPartition(key), now },
        );
        return repository.bumpNodeRevision(key.computeNodeId);
      },
      readNodeSnapshot: async (computeNodeId) => {
        const args = { node: computeNodeId };
        const instances = this.all<InstanceRow>(
          'snapshotInstances',
          () =>
            this.selectInstances()
              .where('p.compute_node_reference', '=', param('node'))
              .where('p.slap_state', '=', 'busy')
              .where('i.shared', '=', 0)
              .orderBy('p.id'),
          args,
        );
        const addresses = this.all<AddressRecord & { partitionId: string }>(
          'snapshotAddresses',
          () =>
            db
              .selectFrom('partition_address')
              .select([
                'partition_reference as partitionId',
                'network_interface as networkInterface',
                'address',
                'netmask',
              ])
              .where('compute_node_reference', '=', param('node'))
              .orderBy('id'),
          args,
        );
        const shared = this.all<InstanceRow>(
          'snapshotShared',
          () =>
            this.selectInstances()
              .where('i.compute_node_reference', '=', param('node'))
              .where('i.shared', '=', 1)
              .where('i.requested_state', '!=', 'destroyed')
              .orderBy('i.host_position'),
          args,
        );
        return {
          revision: await repository.getNodeRevision(computeNodeId),
          software: await repository.listSoftwareInstallations(computeNodeId),
          instances: instances.map(toInstance),
          addresses,
          shared: shared.map(toInstance),
        };
      },
    };
    return repository;
  }
}

type PartitionRow = {
  compute_node_reference: string;
  reference: string;
  slap_state: SlapState;
  timestamp: number | null;
};

function selectPartitions(db: Kysely<MasterDatabase>) {
  return db
    .selectFrom('partition')
    .select(['compute_node_reference', 'reference', 'slap_state', 'timestamp']);
}

function toPartition(row: PartitionRow): PartitionRecord {
  return {
    computeNodeId: row.compute_node_reference,
    reference: row.reference,
    slapState: row.slap_state,
    timestamp: row.timestamp,
  };
}

type SoftwareInstallationRow = {
  compute_node_reference: string;
  url: string;
  requested_state: SoftwareInstallationState;
  reported_state: string | null;
  reported_at: number | null;
  error_message: string | null;
};

function selectSoftwareInstallations(db: Kysely<MasterDatabase>) {
  return db
    .selectFrom('software_installation')
    .select([
      'compute_node_reference',
      'url',
      'requested_state',
      'reported_state',
      'reported_at',
      'error_message',
    ]);
}

function toSoftwareInstallation(row: SoftwareInstallationRow): SoftwareInstallationRecord {
  return {
    computeNodeId: row.compute_node_reference,
    url: row.url,
    requestedState: row.requested_state,
    reportedState: row.reported_state,
    reportedAt: row.reported_at,
    errorMessage: row.error_message,
  };
}

/** Opens (creating and migrating as needed) the SQLite store at `options.path`. */
export function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  return SqliteStore.open(options);
}

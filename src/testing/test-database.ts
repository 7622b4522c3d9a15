/**
 * A fresh, empty master database for a test, on the store the run asks for: SQLite (a file in a
 * temporary directory) by default, PostgreSQL when `SLAPOS_TEST_STORE=postgres` (a new database in
 * the cluster `SLAPOS_TEST_POSTGRES` names; scripts/test.sh starts one). `drop()` removes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  postgresConnection,
  postgresUri,
  type DatabaseLocation,
} from '../master/storage/database-location.ts';
import { migrationsFor } from '../master/storage/migrations.ts';
import { openMasterStore } from '../master/storage/open-store.ts';
import { pgClientConfig } from '../master/storage/postgres/connection.ts';
import type { MasterStore } from '../master/storage/repository.ts';
import type { Logger } from '../lib/logger.ts';

export type TestStoreKind = DatabaseLocation['kind'];

export interface TestDatabase {
  location: DatabaseLocation;
  drop(): Promise<void>;
}

/** The store this test run uses: `SLAPOS_TEST_STORE` (sqlite, the default, or postgres). */
export function testStoreKind(env: NodeJS.ProcessEnv = process.env): TestStoreKind {
  const kind = env.SLAPOS_TEST_STORE ?? 'sqlite';
  if (kind !== 'sqlite' && kind !== 'postgres')
    throw new Error(`SLAPOS_TEST_STORE must be sqlite or postgres, not ${JSON.stringify(kind)}`);
  return kind;
}

/** The cluster's URI, or an error saying how to get one. */
export function testPostgresUri(env: NodeJS.ProcessEnv = process.env): string {
  const uri = env.SLAPOS_TEST_POSTGRES;
  if (uri === undefined || uri === '')
    throw new Error(
      'SLAPOS_TEST_POSTGRES is not set: run the tests through scripts/test.sh (it starts a PostgreSQL cluster), ' +
        'or start one with scripts/pg-cluster.sh start DIR and export its URI',
    );
  return uri;
}

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(pgClientConfig(testPostgresUri(), { applicationName: 'slapos-tests' }));
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * The migrated, empty database every test database is copied from (CREATE DATABASE … TEMPLATE is
 * much faster than migrating each one), made once per cluster and schema: test processes running at
 * once wait for the first one to make it (an advisory lock).
 */
async function migratedTemplate(client: pg.Client): Promise<string> {
  const migrations = Object.keys(migrationsFor('postgres'));
  const digest = createHash('sha256').update(migrations.join('\n')).digest('hex').slice(0, 12);
  const template = `slapos_test_template_${digest}`;
  await client.query('SELECT pg_advisory_lock(20261207)');
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
    if (rowCount === 0) {
      const building = `${template}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${building}`);
      const uri = postgresUri({ ...postgresConnection(testPostgresUri()), database: building });
      const store = await openMasterStore({ kind: 'postgres', uri });
      await store.close();
      await client.query(`ALTER DATABASE ${building} RENAME TO ${template}`);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(20261207)');
  }
  return template;
}

/**
 * Migrated databases this process emptied and may hand out again: emptying (TRUNCATE … RESTART
 * IDENTITY, ids start at 1 again) costs far less than creating a database on a cluster that syncs.
 */
const emptiedDatabases: string[] = [];

async function withClientOf<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const uri = postgresUri({ ...postgresConnection(testPostgresUri()), database });
  const client = new pg.Client(pgClientConfig(uri, { applicationName: 'slapos-tests' }));
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Empties every table but the migrations' own, as a fresh copy of the template would be. */
async function emptyDatabase(database: string): Promise<void> {
  await withClientOf(database, async (client) => {
    const { rows } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely_%'",
    );
    const tables = rows.map((row) => `"${row.tablename}"`).join(', ');
    if (tables !== '') await client.query(`TRUNCATE ${tables} RESTART IDENTITY CASCADE`);
  });
}

/**
 * A PostgreSQL database in the test cluster, empty and migrated (or, with `empty`, without even the
 * schema); `drop()` removes it, or keeps it emptied for the next test of this process.
 */
export async function createTestPostgresDatabase(
  options: { empty?: boolean } = {},
): Promise<TestDatabase & { location: { kind: 'postgres' } }> {
  const reusable = options.empty !== true;
  let name = reusable ? emptiedDatabases.pop() : undefined;
  if (name === undefined) {
    const created = `slapos_test_${process.pid}_${randomBytes(6).toString('hex')}`;
    await withAdminClient(async (client) => {
      const template = reusable ? await migratedTemplate(client) : 'template1';
      await client.query(`CREATE DATABASE ${created} TEMPLATE ${template}`);
    });
    name = created;
  }
  const database = name;
  const uri = postgresUri({ ...postgresConnection(testPostgresUri()), database });
  let dropped = false;
  return {
    location: { kind: 'postgres', uri },
    async drop() {
      if (dropped) return;
      dropped = true;
      if (reusable) {
        try {
          await emptyDatabase(database);
          emptiedDatabases.push(database);
          return;
        } catch {
          // Not reusable (a test left it unusable): dropped below.
        }
      }
      await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
    },
  };
}

export async function createTestDatabase(kind: TestStoreKind = testStoreKind()): Promise<TestDatabase> {
  if (kind === 'postgres') return createTestPostgresDatabase();
  const directory = await mkdtemp(join(tmpdir(), 'slapos-test-db-'));
  return {
    location: { kind: 'sqlite', path: join(directory, 'master.db') },
    drop: () => rm(directory, { recursive: true, force: true }),
  };
}

export interface TestStore {
  /** The store; its `close()` also drops its database. */
  store: MasterStore;
  location: DatabaseLocation;
  /** Closes the store and drops its database. */
  close: () => Promise<void>;
}

/** A store on a fresh test database of this run's kind (`SLAPOS_TEST_STORE`). */
export async function openTestStore(
  options: { kind?: TestStoreKind; logger?: Logger } = {},
): Promise<TestStore> {
  const database = await createTestDatabase(options.kind);
  let opened: MasterStore;
  try {
    opened = await openMasterStore(database.location, { logger: options.logger });
  } catch (error) {
    await database.drop();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= opened.close().finally(() => database.drop()));
  const store: MasterStore = {
    read: (work) => opened.read(work),
    write: (work) => opened.write(work),
    memoizedRead: (key, work, memoOptions) => opened.memoizedRead(key, work, memoOptions),
    onNodeChanges: (listener) => opened.onNodeChanges(listener),
    onCommit: (listener) => opened.onCommit(listener),
    close,
  };
  return { store, location: database.location, close };
}

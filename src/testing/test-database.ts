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

/** A new PostgreSQL database in the test cluster, migrated unless `empty`. */
export async function createTestPostgresDatabase(
  options: { empty?: boolean } = {},
): Promise<TestDatabase & { location: { kind: 'postgres' } }> {
  const name = `slapos_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await withAdminClient(async (client) => {
    const template = options.empty === true ? 'template1' : await migratedTemplate(client);
    await client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  });
  const uri = postgresUri({ ...postgresConnection(testPostgresUri()), database: name });
  let dropped = false;
  return {
    location: { kind: 'postgres', uri },
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
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
  let store: MasterStore;
  try {
    store = await openMasterStore(database.location, { logger: options.logger });
  } catch (error) {
    await database.drop();
    throw error;
  }
  return {
    store,
    location: database.location,
    async close() {
      try {
        await store.close();
      } finally {
        await database.drop();
      }
    },
  };
}

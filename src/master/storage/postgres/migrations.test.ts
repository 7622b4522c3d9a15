import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from '../../../lib/kysely.ts';
import pg from 'pg';
import {
  createTestDatabase,
  createTestPostgresDatabase,
  type TestDatabase,
} from '../../../testing/test-database.ts';
import { migrationProvider, migrationsFor } from '../migrations.ts';
import { pgClientConfig } from './connection.ts';

let database: TestDatabase & { location: { kind: 'postgres' } };
before(async () => {
  database = await createTestPostgresDatabase({ empty: true });
});
after(() => database.drop());

function postgresKysely(uri: string): Kysely<unknown> {
  return new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ ...pgClientConfig(uri), max: 2 }) }),
  });
}

type Columns = Map<string, Map<string, { nullable: boolean }>>;

async function postgresColumns(db: Kysely<unknown>): Promise<Columns> {
  const { rows } = await db.executeQuery<{ table_name: string; column_name: string; is_nullable: string }>({
    sql: `SELECT table_name, column_name, is_nullable FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'`,
    parameters: [],
    query: { kind: 'RawNode' } as never,
    queryId: { queryId: 'columns' },
  });
  const tables: Columns = new Map();
  for (const row of rows) {
    const table = tables.get(row.table_name) ?? new Map<string, { nullable: boolean }>();
    table.set(row.column_name, { nullable: row.is_nullable === 'YES' });
    tables.set(row.table_name, table);
  }
  return tables;
}

function sqliteColumns(path: string): Columns {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    const tables: Columns = new Map();
    const names = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'kysely_%' AND name NOT LIKE 'sqlite_%'",
      )
      .pluck()
      .all() as string[];
    for (const name of names) {
      const columns = db.prepare(`PRAGMA table_info("${name}")`).all() as {
        name: string;
        notnull: number;
        pk: number;
      }[];
      tables.set(name, new Map(columns.map((c) => [c.name, { nullable: c.notnull === 0 && c.pk === 0 }])));
    }
    return tables;
  } finally {
    db.close();
  }
}

const sorted = (columns: Columns) =>
  Object.fromEntries([...columns].sort().map(([table, c]) => [table, Object.fromEntries([...c].sort())]));

test('the migrations give PostgreSQL the tables, columns and nullability they give SQLite', async () => {
  const db = postgresKysely(database.location.uri);
  const sqlite = await createTestDatabase('sqlite');
  try {
    const { error, results } = await new Migrator({
      db,
      provider: migrationProvider('postgres'),
    }).migrateToLatest();
    assert.equal(error, undefined);
    assert.deepEqual(
      results?.map((r) => r.status),
      Object.keys(migrationsFor('postgres')).map(() => 'Success'),
    );
    assert.equal(sqlite.location.kind, 'sqlite');
    const raw = new BetterSqlite3(sqlite.location.path);
    raw.pragma('foreign_keys = ON');
    const sqliteDb = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
    assert.equal(
      (await new Migrator({ db: sqliteDb, provider: migrationProvider('sqlite') }).migrateToLatest()).error,
      undefined,
    );
    await sqliteDb.destroy();
    assert.deepEqual(sorted(await postgresColumns(db)), sorted(sqliteColumns(sqlite.location.path)));
  } finally {
    await db.destroy();
    await sqlite.drop();
  }
});

test('PostgreSQL assigns ids, enforces the instance identity and cascades promise results', async () => {
  const client = new pg.Client(pgClientConfig(database.location.uri));
  await client.connect();
  try {
    const insert = (title: string, owner: string) =>
      client.query<{ id: number }>(
        `INSERT INTO instance (owner, title, requested_by, shared, software_release, software_type, parameter_xml,
           sla_json, requested_state, created_at, updated_at)
         VALUES ($1, $2, '', 0, 'sr', 'default', '', '{}', 'started', 1.5, 1.5) RETURNING id`,
        [owner, title],
      );
    const first = (await insert('a', '')).rows[0]?.id;
    const second = (await insert('a', 'alice')).rows[0]?.id;
    assert.equal(typeof first, 'number');
    assert.ok(second !== undefined && first !== undefined && second > first);
    await assert.rejects(
      insert('a', 'alice'),
      (error: unknown) => (error as { code?: string }).code === '23505',
    );
    await client.query(
      `INSERT INTO instance_promise_result (instance_id, result_list_json, reported_at) VALUES ($1, '[]', 2)`,
      [first],
    );
    await client.query('DELETE FROM instance WHERE id = $1', [first]);
    const { rows } = await client.query<{ count: number }>(
      'SELECT count(*) AS count FROM instance_promise_result',
    );
    assert.deepEqual(rows, [{ count: 0 }]);
  } finally {
    await client.end();
  }
});

test('masters migrating one database at once apply each migration once (advisory lock)', async () => {
  const fresh = await createTestPostgresDatabase({ empty: true });
  const masters = Array.from({ length: 4 }, () => postgresKysely(fresh.location.uri));
  try {
    const outcomes = await Promise.all(
      masters.map((db) => new Migrator({ db, provider: migrationProvider('postgres') }).migrateToLatest()),
    );
    for (const outcome of outcomes) assert.equal(outcome.error, undefined);
    const applied = outcomes.flatMap((o) => o.results ?? []).filter((r) => r.status === 'Success');
    assert.deepEqual(
      applied.map((r) => r.migrationName).sort(),
      Object.keys(migrationsFor('postgres')).sort(),
    );
  } finally {
    await Promise.all(masters.map((db) => db.destroy()));
    await fresh.drop();
  }
});

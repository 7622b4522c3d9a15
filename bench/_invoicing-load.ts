/**
 * A month of billed usage, loaded in bulk straight into a master's database (not through the API:
 * 72 million movements through ingestion would take over an hour): the `usage_charge` rows that
 * ingestion (services/usage-records.ts) writes for every journal of a month, the
 * `partition_allocation` rows the monthly fee is prorated from, the owners, and a price list.
 *
 * Shape: N nodes of P partitions; node n belongs to user n, partition p holds user n's instance
 * tree p (one instance per tree); every partition reports R journals in the month, each of K
 * resources (cpu_time in seconds, memory_used and disk_used in MB-hours, then made-up resources
 * billed per unit), so N × P × R × K movements. The rows come in the order ingestion writes them
 * (report after report, each node's journal in turn), with the values it would compute: one
 * period, the partition's holder, the interval, the billed quantity in integer millionths.
 */
import { once } from 'node:events';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pgClientConfig } from '../src/master/storage/postgres/connection.ts';

export interface UsageShape {
  nodes: number;
  partitions: number;
  reportsPerMonth: number;
  resources: number;
  /** YYYY-MM. */
  period: string;
}

const STANDARD_RESOURCES = [
  'service_module/cpu_time',
  'service_module/memory_used',
  'service_module/disk_used',
] as const;

export function resourceNames(count: number): string[] {
  return Array.from(
    { length: count },
    (_, k) => STANDARD_RESOURCES[k] ?? `service_module/extra_${k - STANDARD_RESOURCES.length + 1}`,
  );
}

export function movementCount(shape: UsageShape): number {
  return shape.nodes * shape.partitions * shape.reportsPerMonth * shape.resources;
}

/** The period's bounds in seconds since the epoch (UTC) and its integer form (YYYYMM). */
export function periodBounds(period: string): { from: number; to: number; code: number } {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(period);
  if (!match) throw new Error(`--period: not YYYY-MM: ${period}`);
  const year = Number(match[1]);
  const month = Number(match[2]);
  return {
    from: Date.UTC(year, month - 1, 1) / 1000,
    to: Date.UTC(year, month, 1) / 1000,
    code: year * 100 + month,
  };
}

/** The price list the benchmark bills with (the issue's example, with a fee, and every resource). */
export function benchPriceList(shape: UsageShape): { effective: string; currency: string; document: string } {
  const prices: Record<string, number> = {
    'service_module/cpu_time': 0.0001,
    'service_module/memory_used': 0.001,
    'service_module/disk_used': 0.0005,
  };
  const resources = Object.fromEntries(
    resourceNames(shape.resources).map((name) => [name, prices[name] ?? 0.01]),
  );
  const effective = `${shape.period.slice(0, 4)}-01-01`;
  const document = { currency: 'EUR', effective, resources, instance_tree_monthly_fee: 5 };
  return { effective, currency: 'EUR', document: JSON.stringify(document) };
}

export const ownerOf = (node: number): string => `user-${String(node).padStart(5, '0')}`;
export const nodeOf = (node: number): string => `node-${String(node).padStart(5, '0')}`;
export const treeOf = (slot: number): string => `tree-${String(slot).padStart(3, '0')}`;

/** A deterministic fraction in [0, 1) of an integer (a 32-bit integer hash). */
function fraction(seed: number): number {
  let x = seed | 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  x ^= x >>> 16;
  return (x >>> 0) / 2 ** 32;
}

/**
 * The billed quantity of one movement in millionths, as ingestion computes it: CPU seconds used
 * (up to half the interval), MB held × hours (100 MB to 4 GB of memory, 1 to 50 GB of disk), or
 * 1 to 100 units.
 */
function quantityMicro(resource: number, seconds: number, seed: number): number {
  const f = fraction(seed);
  switch (resource) {
    case 0:
      return Math.round(f * seconds * 0.5 * 1e6);
    case 1:
      return Math.round((100 + Math.floor(f * 3996)) * (seconds / 3600) * 1e6);
    case 2:
      return Math.round((1000 + Math.floor(f * 49_000)) * (seconds / 3600) * 1e6);
    default:
      return (1 + Math.floor(f * 100)) * 1e6;
  }
}

export const CHARGE_COLUMNS = [
  'id',
  'journal_id',
  'period',
  'owner',
  'instance_tree',
  'instance_id',
  'compute_node_reference',
  'partition_reference',
  'resource',
  'start_at',
  'stop_at',
  'quantity_micro',
] as const;

/**
 * Each `usage_charge` row's values (one array, reused: copy what you keep), in ingestion order.
 * Ids from 1; a journal is one node's report.
 */
export function* charges(shape: UsageShape): Generator<(string | number)[]> {
  const { from, to, code } = periodBounds(shape.period);
  const interval = (to - from) / shape.reportsPerMonth;
  const owners = Array.from({ length: shape.nodes }, (_, n) => ownerOf(n));
  const nodes = Array.from({ length: shape.nodes }, (_, n) => nodeOf(n));
  const trees = Array.from({ length: shape.partitions }, (_, p) => treeOf(p));
  const partitions = Array.from({ length: shape.partitions }, (_, p) => `slappart${p}`);
  const resources = resourceNames(shape.resources);
  const row: (string | number)[] = new Array<string | number>(CHARGE_COLUMNS.length);
  let id = 0;
  for (let report = 0; report < shape.reportsPerMonth; report++) {
    const start = from + report * interval;
    const stop = report === shape.reportsPerMonth - 1 ? to : from + (report + 1) * interval;
    for (let node = 0; node < shape.nodes; node++) {
      const journal = report * shape.nodes + node + 1;
      for (let slot = 0; slot < shape.partitions; slot++) {
        for (let resource = 0; resource < shape.resources; resource++) {
          id++;
          row[0] = id;
          row[1] = journal;
          row[2] = code;
          row[3] = owners[node] ?? '';
          row[4] = trees[slot] ?? '';
          row[5] = node * shape.partitions + slot + 1;
          row[6] = nodes[node] ?? '';
          row[7] = partitions[slot] ?? '';
          row[8] = resources[resource] ?? '';
          row[9] = start;
          row[10] = stop;
          row[11] = quantityMicro(resource, stop - start, id);
          yield row;
        }
      }
    }
  }
}

export const ALLOCATION_COLUMNS = [
  'compute_node_reference',
  'partition_reference',
  'instance_id',
  'owner',
  'instance_tree',
  'allocated_at',
  'released_at',
] as const;

/** One allocation per partition, made before the period and still held: a whole month's fee. */
export function allocationRows(shape: UsageShape): (string | number | null)[][] {
  const allocatedAt = periodBounds(shape.period).from - 30 * 86_400;
  const rows: (string | number | null)[][] = [];
  for (let node = 0; node < shape.nodes; node++)
    for (let slot = 0; slot < shape.partitions; slot++)
      rows.push([
        nodeOf(node),
        `slappart${slot}`,
        node * shape.partitions + slot + 1,
        ownerOf(node),
        treeOf(slot),
        allocatedAt,
        null,
      ]);
  return rows;
}

/** Load progress: rows loaded so far, of how many. */
export type Progress = (loaded: number, total: number) => void;

const SQLITE_ROWS_PER_STATEMENT = 100;

/**
 * Loads the month into the SQLite database at `path` (its schema already made by the store's
 * migrations): one transaction, prepared multi-row inserts, `usage_charge`'s indexes dropped
 * before and made again after (from their own definitions: the schema stays the migration's).
 */
export function loadSqlite(path: string, shape: UsageShape, progress: Progress): void {
  const db = new BetterSqlite3(path);
  try {
    // Out of WAL (the store's mode: every page would be written twice), into a rollback journal in
    // memory (OFF is refused: better-sqlite3 opens in defensive mode); one transaction of new pages.
    db.pragma('journal_mode = DELETE');
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1048576');
    const indexes = db
      .prepare<[], { name: string; sql: string }>(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_charge' AND sql IS NOT NULL",
      )
      .all();
    const insert = (table: string, columns: readonly string[], rows: number): BetterSqlite3.Statement =>
      db.prepare(
        `INSERT INTO "${table}" (${columns.map((column) => `"${column}"`).join(', ')}) VALUES ` +
          Array.from({ length: rows }, () => `(${columns.map(() => '?').join(', ')})`).join(', '),
      );
    db.transaction(() => {
      for (const { name } of indexes) db.exec(`DROP INDEX "${name}"`);
      const { effective, currency, document } = benchPriceList(shape);
      db.prepare('INSERT INTO price_list (effective, currency, document, loaded_at) VALUES (?, ?, ?, ?)').run(
        effective,
        currency,
        document,
        periodBounds(shape.period).from,
      );
      const addUser = db.prepare(
        'INSERT INTO "user" (name, admin, disabled, created_at) VALUES (?, 0, 0, 0)',
      );
      for (let node = 0; node < shape.nodes; node++) addUser.run(ownerOf(node));
      const addAllocation = insert('partition_allocation', ALLOCATION_COLUMNS, 1);
      for (const row of allocationRows(shape)) addAllocation.run(row);

      const total = movementCount(shape);
      const batch = insert('usage_charge', CHARGE_COLUMNS, SQLITE_ROWS_PER_STATEMENT);
      const values: (string | number)[] = [];
      let loaded = 0;
      const step = Math.max(1, Math.floor(total / 20));
      for (const row of charges(shape)) {
        values.push(...row);
        if (values.length === CHARGE_COLUMNS.length * SQLITE_ROWS_PER_STATEMENT) {
          batch.run(values);
          values.length = 0;
          loaded += SQLITE_ROWS_PER_STATEMENT;
          if (loaded % step < SQLITE_ROWS_PER_STATEMENT) progress(loaded, total);
        }
      }
      const rest = values.length / CHARGE_COLUMNS.length;
      if (rest > 0) insert('usage_charge', CHARGE_COLUMNS, rest).run(values);
      progress(total, total);
      for (const { sql } of indexes) db.exec(sql);
    })();
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

/** Rows per chunk written to the COPY stream. */
const COPY_ROWS_PER_CHUNK = 20_000;

/** A value in COPY's text format (ours never hold tabs, newlines or backslashes: checked). */
function copyField(value: string | number | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'string' && /[\t\n\r\\]/.test(value))
    throw new Error(`unexpected character in ${value}`);
  return String(value);
}

async function copyRows(
  client: pg.Client,
  table: string,
  columns: readonly string[],
  produce: (write: (row: readonly (string | number | null)[]) => Promise<void> | undefined) => Promise<void>,
): Promise<void> {
  const stream = client.query(
    copyFrom(`COPY "${table}" (${columns.map((column) => `"${column}"`).join(', ')}) FROM STDIN`),
  );
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  let chunk: string[] = [];
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const text = chunk.join('');
    chunk = [];
    // once() rejects on an error meanwhile, and leaves no listener behind.
    if (!stream.write(text)) await once(stream, 'drain');
  };
  // A promise (to wait for) only when a chunk was written: not one per row.
  await produce((row) => {
    chunk.push(`${row.map(copyField).join('\t')}\n`);
    return chunk.length >= COPY_ROWS_PER_CHUNK ? flush() : undefined;
  });
  await flush();
  stream.end();
  await done;
}

/**
 * Loads the month into the PostgreSQL database at `uri` (its schema already made by the store's
 * migrations) with COPY, `usage_charge`'s indexes dropped before and made again after (from their
 * own definitions), the identity sequence moved past the ids given.
 */
export async function loadPostgres(uri: string, shape: UsageShape, progress: Progress): Promise<void> {
  const client = new pg.Client(pgClientConfig(uri, { applicationName: 'slapos-bench-invoicing' }));
  await client.connect();
  try {
    // For the index builds after the load only (a session setting, not the master's).
    await client.query("SET maintenance_work_mem = '1GB'");
    const indexes = (
      await client.query<{ name: string; definition: string }>(
        "SELECT indexname AS name, indexdef AS definition FROM pg_indexes WHERE tablename = 'usage_charge' " +
          "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'usage_charge'::regclass)",
      )
    ).rows;
    for (const { name } of indexes) await client.query(`DROP INDEX "${name}"`);
    const { effective, currency, document } = benchPriceList(shape);
    await client.query(
      'INSERT INTO price_list (effective, currency, document, loaded_at) VALUES ($1, $2, $3, $4)',
      [effective, currency, document, periodBounds(shape.period).from],
    );
    await copyRows(client, 'user', ['name', 'admin', 'disabled', 'created_at'], async (write) => {
      for (let node = 0; node < shape.nodes; node++) await write([ownerOf(node), 0, 0, 0]);
    });
    await copyRows(client, 'partition_allocation', ALLOCATION_COLUMNS, async (write) => {
      for (const row of allocationRows(shape)) await write(row);
    });
    const total = movementCount(shape);
    const step = Math.max(1, Math.floor(total / 20));
    await copyRows(client, 'usage_charge', CHARGE_COLUMNS, async (write) => {
      let loaded = 0;
      for (const row of charges(shape)) {
        const written = write(row);
        if (written) await written;
        if (++loaded % step === 0) progress(loaded, total);
      }
    });
    progress(total, total);
    for (const { definition } of indexes) await client.query(definition);
    await client.query(
      "SELECT setval(pg_get_serial_sequence('usage_charge', 'id'), (SELECT max(id) FROM usage_charge))",
    );
  } finally {
    await client.end();
  }
}

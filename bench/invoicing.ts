/**
 * Invoicing benchmark (issue 15, "Performance"):
 *
 *   npm run bench -- invoicing [--postgres URI | --postgres-cluster] [--movements N]
 *     [--nodes 10000] [--partitions 100] [--reports-per-month 24] [--resources 3] [--period 2026-10]
 *     [--ingest-movements 300000 | --skip-ingest] [--keep] [--reuse --sqlite PATH | --postgres URI]
 *
 * 1. Ingestion: journal movements stored per second through the master's services
 *    (bench/invoicing-ingest.ts, measureIngest; issue 15 asks for 15,000), on a store of its own
 *    (with `--postgres URI`, skipped: it needs an empty database of its own).
 * 2. A month of usage for N nodes × P partitions, R journals of K resources per partition
 *    (72 million movements by default), loaded in bulk (bench/_invoicing-load.ts) into a fresh
 *    SQLite file, or with `--postgres-cluster` a throwaway PostgreSQL cluster (scripts/pg-cluster.sh),
 *    or with `--postgres URI` an empty PostgreSQL database (left loaded); load rate and progress.
 * 2. The month's invoices: the aggregation invoice generation reads (a period's sums per owner,
 *    instance tree and resource, and the trees' allocations for the fee), with its plan, timed
 *    (goal: under 60 s). On PostgreSQL, once right after the load and ANALYZE (the visibility map
 *    empty unless autovacuum got there first: the plan says how many pages are all-visible) and once
 *    after VACUUM.
 * 3. The month's invoices generated (`slapos master invoice generate`'s use case, generateInvoices:
 *    the reads above, lines for every user, one invoice each written), timed (goal: under 60 s), then
 *    generated again (nothing changed: every invoice kept).
 * `--movements N` keeps the partitions, reports and resources and picks the number of nodes.
 * The database files live in a temporary directory, removed at the end; `--keep` leaves them (and the
 * throwaway cluster running) and says where, to time the month again with `--reuse` and
 * `--sqlite PATH` or `--postgres URI` (the database already loaded with the same shape).
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openInvoiceAdmin } from '../src/master/invoice-admin.ts';
import type { DatabaseLocation } from '../src/master/storage/database-location.ts';
import { openMasterStore } from '../src/master/storage/open-store.ts';
import { pgClientConfig } from '../src/master/storage/postgres/connection.ts';
import { startPostgresCluster, type PostgresCluster } from '../src/testing/postgres-cluster.ts';
import { measureIngest } from './invoicing-ingest.ts';
import {
  loadPostgres,
  loadSqlite,
  movementCount,
  periodBounds,
  type Progress,
  type UsageShape,
} from './_invoicing-load.ts';

const GOAL_SECONDS = 60;

const { values } = parseArgs({
  options: {
    postgres: { type: 'string' },
    'postgres-cluster': { type: 'boolean', default: false },
    movements: { type: 'string' },
    nodes: { type: 'string', default: '10000' },
    partitions: { type: 'string', default: '100' },
    'reports-per-month': { type: 'string', default: '24' },
    resources: { type: 'string', default: '3' },
    period: { type: 'string', default: '2026-10' },
    sqlite: { type: 'string' },
    reuse: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'ingest-movements': { type: 'string', default: '300000' },
    'skip-ingest': { type: 'boolean', default: false },
  },
});

function positive(name: string, text: string | undefined): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`--${name}: not a positive integer: ${text}`);
  return value;
}

const partitions = positive('partitions', values.partitions);
const reportsPerMonth = positive('reports-per-month', values['reports-per-month']);
const resources = positive('resources', values.resources);
const perNode = partitions * reportsPerMonth * resources;
const shape: UsageShape = {
  nodes:
    values.movements === undefined
      ? positive('nodes', values.nodes)
      : Math.ceil(positive('movements', values.movements) / perNode),
  partitions,
  reportsPerMonth,
  resources,
  period: values.period ?? '2026-10',
};
const period = periodBounds(shape.period);
if (values.postgres !== undefined && values['postgres-cluster'])
  throw new Error('--postgres and --postgres-cluster: one or the other');
const store = values.postgres !== undefined || values['postgres-cluster'] ? 'postgres' : 'sqlite';
const reuse = values.reuse ?? false;
if (reuse && values.sqlite === undefined && values.postgres === undefined)
  throw new Error('--reuse: with --sqlite PATH or --postgres URI (a database loaded before)');
if (values.sqlite !== undefined && store === 'postgres')
  throw new Error('--sqlite and --postgres: one or the other');
/** The temporary directory holds the SQLite file loaded, to keep. */
const keepDirectory = (values.keep ?? false) && store === 'sqlite' && values.sqlite === undefined;

const seconds = (since: number): number => (performance.now() - since) / 1000;
const millions = (count: number): string => `${(count / 1e6).toFixed(1)} M`;
const load = (): string =>
  `load average ${loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')} on ${cpus().length} CPUs`;

/** Progress lines: every 5 % of the rows, with the rate so far. */
function progressPrinter(): Progress {
  const started = performance.now();
  return (loaded, total) => {
    const elapsed = seconds(started);
    process.stdout.write(
      `  ${millions(loaded)} / ${millions(total)} rows, ${elapsed.toFixed(0)} s, ` +
        `${Math.round(loaded / elapsed)} rows/s\n`,
    );
  };
}

interface Timing {
  seconds: number;
  /** CPU seconds of the process that ran the query (this one for SQLite, the server for PostgreSQL). */
  cpuSeconds: number | undefined;
  groups: number;
  allocations: number;
  plan: string;
}

/**
 * The period's sums per (owner, instance tree, resource) between two instants, as the repository
 * reads them for invoice generation (storage/kysely-usage.ts, sumUsageCharges).
 */
const SUMS =
  'SELECT owner, instance_tree, resource, CAST(SUM(quantity_micro) AS TEXT) AS quantity FROM usage_charge ' +
  'WHERE period = ? AND start_at >= ? AND start_at < ? ' +
  'GROUP BY owner, instance_tree, resource ORDER BY owner, instance_tree, resource';
const sumsParameters = [period.code, period.from, period.to];
/** The trees' allocations overlapping the period, for the fee (listTreeAllocations). */
const ALLOCATIONS =
  'SELECT owner, instance_tree, allocated_at, released_at FROM partition_allocation ' +
  'WHERE (released_at IS NULL OR released_at > ?) AND allocated_at < ? ORDER BY id';
const allocationsParameters = [period.from, period.to];

function timeSqlite(path: string): Timing {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    const plan = db
      .prepare<number[], { detail: string }>(`EXPLAIN QUERY PLAN ${SUMS}`)
      .all(...sumsParameters)
      .map((row) => row.detail)
      .join('; ');
    const started = performance.now();
    const cpu = process.cpuUsage();
    let groups = 0;
    for (const _ of db.prepare(SUMS).iterate(...sumsParameters)) groups++;
    const allocations = db.prepare(ALLOCATIONS).all(...allocationsParameters).length;
    const used = process.cpuUsage(cpu);
    return {
      seconds: seconds(started),
      cpuSeconds: (used.user + used.system) / 1e6,
      groups,
      allocations,
      plan,
    };
  } finally {
    db.close();
  }
}

const numbered = (query: string): string => {
  let n = 0;
  return query.replace(/\?/g, () => `$${++n}`);
};

async function timePostgres(client: pg.Client, server: PostgresCluster | undefined): Promise<Timing> {
  // What an index-only scan can skip (as of the last VACUUM or ANALYZE, autovacuum's included).
  const visibility = await client.query<{ relpages: number; relallvisible: number }>(
    "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'usage_charge'",
  );
  const pages = visibility.rows[0];
  const explained = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${numbered(SUMS)}`,
    sumsParameters,
  );
  const plan =
    `${pages?.relallvisible ?? '?'} of ${pages?.relpages ?? '?'} pages all-visible\n    ` +
    explained.rows.map((row) => row['QUERY PLAN']).join('\n    ');
  const cpu = await server?.cpuSeconds();
  const started = performance.now();
  const sums = await client.query(numbered(SUMS), sumsParameters);
  const allocations = await client.query(numbered(ALLOCATIONS), allocationsParameters);
  const took = seconds(started);
  return {
    seconds: took,
    cpuSeconds: server && cpu !== undefined ? (await server.cpuSeconds()) - cpu : undefined,
    groups: sums.rowCount ?? 0,
    allocations: allocations.rowCount ?? 0,
    plan,
  };
}

function reportTiming(label: string, timing: Timing): void {
  process.stdout.write(
    `${label}: ${timing.seconds.toFixed(1)} s` +
      `${timing.cpuSeconds === undefined ? '' : ` (${timing.cpuSeconds.toFixed(1)} s CPU)`} for ${timing.groups} sums and ${timing.allocations} allocations ` +
      `(goal < ${GOAL_SECONDS} s: ${timing.seconds < GOAL_SECONDS ? 'met' : 'NOT met'}; ${load()})\n` +
      `  plan: ${timing.plan}\n`,
  );
}

/** Part 3: the month's invoices generated, then generated again (nothing changed). */
async function timeGeneration(database: DatabaseLocation): Promise<void> {
  const admin = await openInvoiceAdmin({ dir: directory, database });
  try {
    for (const label of ['generated', 'generated again (unchanged)']) {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const result = await admin.generateInvoices(shape.period);
      const used = process.cpuUsage(cpu);
      const took = seconds(started);
      process.stdout.write(
        `month's invoices ${label}: ${took.toFixed(1)} s (${((used.user + used.system) / 1e6).toFixed(1)} s CPU ` +
          `in this process): ${result.issued.length} issued, ${result.unchanged.length} unchanged ` +
          `(goal < ${GOAL_SECONDS} s: ${took < GOAL_SECONDS ? 'met' : 'NOT met'}; ${load()})\n`,
      );
    }
  } finally {
    await admin.close();
  }
}

const ingestMovements = positive('ingest-movements', values['ingest-movements']);

/** Part 1: the ingestion rate, on a fresh SQLite file or the empty PostgreSQL database at `uri`. */
async function reportIngest(uri?: string): Promise<void> {
  const result = await measureIngest({
    movements: ingestMovements,
    ...(uri === undefined ? {} : { postgres: uri }),
    progress: () => undefined,
  });
  process.stdout.write(
    `ingest (${result.store}): ${result.journals} journals, ${result.movements} movements ` +
      `(+${result.resent} journals sent twice, not counted): ${result.movementsPerSecond} movements/s, ` +
      `${result.movementsPerCpuSecond} per CPU second of this process (goal ≥ 15,000; ${load()})\n`,
  );
}

/** Loads the month into the empty database at `uri`, then times it before and after VACUUM. */
async function loadAndTimePostgres(client: pg.Client, uri: string): Promise<void> {
  const existing = await client.query<{ used: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM usage_charge) AS used',
  );
  if (existing.rows[0]?.used !== false) throw new Error('the PostgreSQL database given has usage already');
  const started = performance.now();
  await loadPostgres(uri, shape, progressPrinter());
  const took = seconds(started);
  process.stdout.write(
    `loaded in ${took.toFixed(0)} s (${Math.round(movementCount(shape) / took)} rows/s, indexes included)\n`,
  );
  let step = performance.now();
  await client.query('ANALYZE');
  process.stdout.write(`ANALYZE: ${seconds(step).toFixed(0)} s\n`);
  reportTiming(
    'month aggregation (PostgreSQL, after the load and ANALYZE)',
    await timePostgres(client, cluster),
  );
  step = performance.now();
  await client.query('VACUUM usage_charge');
  process.stdout.write(`VACUUM usage_charge: ${seconds(step).toFixed(0)} s\n`);
  reportTiming('month aggregation (PostgreSQL, after VACUUM)', await timePostgres(client, cluster));
}

process.stdout.write(
  `invoicing benchmark on ${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${shape.nodes} nodes × ${shape.partitions} ` +
    `partitions (user n owns node n and one instance tree per partition), each partition sending ` +
    `${shape.reportsPerMonth} journals of ${shape.resources} resources in ${shape.period}: ` +
    `${movementCount(shape)} movements (the issue's 72 million; hourly reports of this shape would be ` +
    `${shape.nodes * shape.partitions * 24 * 30 * shape.resources}), loaded in bulk; ${load()}\n`,
);

const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-invoicing-'));
let cluster: PostgresCluster | undefined;
try {
  if (store === 'sqlite') {
    if (!values['skip-ingest']) await reportIngest();
    const path = values.sqlite ?? join(directory, 'master.db');
    if (!reuse) {
      if (existsSync(path)) throw new Error(`--sqlite ${path}: exists already (--reuse to time it again)`);
      await (await openMasterStore({ kind: 'sqlite', path })).close();
      const started = performance.now();
      loadSqlite(path, shape, progressPrinter());
      const took = seconds(started);
      process.stdout.write(
        `loaded in ${took.toFixed(0)} s (${Math.round(movementCount(shape) / took)} rows/s, indexes included), ` +
          `${(statSync(path).size / 2 ** 30).toFixed(1)} GiB\n`,
      );
      if (keepDirectory) process.stdout.write(`kept: ${path} (remove its directory when done)\n`);
    }
    reportTiming('month aggregation (SQLite)', timeSqlite(path));
    await timeGeneration({ kind: 'sqlite', path });
  } else {
    if (values['postgres-cluster']) cluster = await startPostgresCluster();
    if (values['skip-ingest']) process.stdout.write('ingest skipped (--skip-ingest)\n');
    else if (cluster) {
      await reportIngest(await cluster.createDatabase('bench_ingest'));
      await cluster.dropDatabase('bench_ingest');
    } else
      process.stdout.write('ingest skipped: it needs an empty database of its own (--postgres-cluster)\n');
    const uri = cluster ? await cluster.createDatabase('bench_invoicing') : (values.postgres ?? '');
    if (cluster && values.keep)
      process.stdout.write(
        `kept: ${uri} (stop it with scripts/pg-cluster.sh stop DIR, DIR its host, then remove DIR's parent)\n`,
      );
    if (!reuse) await (await openMasterStore({ kind: 'postgres', uri })).close();
    const client = new pg.Client(pgClientConfig(uri, { applicationName: 'slapos-bench-invoicing' }));
    await client.connect();
    try {
      if (reuse)
        reportTiming('month aggregation (PostgreSQL, as found)', await timePostgres(client, cluster));
      else await loadAndTimePostgres(client, uri);
    } finally {
      await client.end();
    }
    await timeGeneration({ kind: 'postgres', uri });
    if (!cluster) process.stdout.write('the database given is left loaded: drop it when done\n');
  }
} finally {
  if (!(cluster && values.keep)) await cluster?.remove();
  if (!keepDirectory) await rm(directory, { recursive: true, force: true });
}

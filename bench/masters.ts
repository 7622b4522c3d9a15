/**
 * Several masters benchmark (`npm run bench -- masters [--store postgres|sqlite] [--seconds 10]
 * [--masters 1,3] [--writers 4] [--readers 8]`): the mixed workload against one master and against
 * three, each time behind haproxy (src/testing/master-cluster.ts: `slapos proxy start` processes on
 * one fresh database, Debian's haproxy in front), plus one master reached directly (what haproxy
 * costs).
 *
 * Workload (a simple equivalent of `npm run bench -- master`'s mixed one): 20 compute nodes × 50
 * partitions formatted and a release supplied on each (setup, not timed); then for `--seconds`, at
 * once and in closed loop, `--writers` writers send instance requests (titles cycling over 40 per
 * writer, on random nodes: a title's first request allocates a partition, the next ones update its
 * parameters) while `--readers` readers read random nodes' instance lists. Each writer and reader
 * has its own keep-alive connection to haproxy.
 *
 * Printed per row: writes/s and reads/s, their p50/p99, errors; then what the rate means on this
 * machine: requests/s per master process, per core of the machine, and per CPU-second the masters
 * used (from /proc), and how busy each part was (masters, haproxy, the database server, this load
 * generator), in cores. On a machine of 2 cores shared by all of them, three masters cannot triple
 * one: the table shows where the cores went.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { startMasterCluster, type MasterCluster } from '../src/testing/master-cluster.ts';
import { startPostgresCluster, type PostgresCluster } from '../src/testing/postgres-cluster.ts';
import { build } from './_master-servers.ts';

const NODES = 20;
const PARTITIONS = 50;
const TITLES_PER_WRITER = 40;
const SR = 'https://lab.example.com/software/hello/software.cfg';
const CLOCK_TICKS = 100;

interface Options {
  store: 'postgres' | 'sqlite';
  seconds: number;
  masters: number[];
  writers: number;
  readers: number;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const number = (name: string, fallback: number): number => {
    const text = value(name);
    const parsed = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} expects a positive integer`);
    return parsed;
  };
  const store = value('store') ?? 'postgres';
  if (store !== 'postgres' && store !== 'sqlite') throw new Error('--store is postgres or sqlite');
  const masters = (value('masters') ?? '1,3').split(',').map(Number);
  if (masters.some((count) => !Number.isInteger(count) || count < 1))
    throw new Error('--masters expects counts, e.g. 1,3');
  return {
    store,
    seconds: number('seconds', 10),
    masters,
    writers: number('writers', 4),
    readers: number('readers', 8),
  };
}

/** CPU seconds (user + system) a process has used, from /proc; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? NaN;
}

/** A throwaway database for one row, and how to remove it. */
interface RowDatabase {
  location: string;
  /** CPU seconds the database server has used (0 for SQLite: it runs in the masters). */
  serverCpuSeconds(): Promise<number>;
  drop(): Promise<void>;
}

async function sqliteDatabase(dir: string): Promise<RowDatabase> {
  await mkdir(dir, { recursive: true });
  return {
    location: join(dir, 'proxy.db'),
    serverCpuSeconds: () => Promise.resolve(0),
    drop: () => Promise.resolve(),
  };
}

let databases = 0;

async function postgresDatabase(cluster: PostgresCluster): Promise<RowDatabase> {
  const name = `bench_masters_${++databases}`;
  const location = await cluster.createDatabase(name);
  return {
    location,
    serverCpuSeconds: () => cluster.cpuSeconds(),
    drop: () => cluster.dropDatabase(name),
  };
}

async function post(pool: Pool, path: string, body: string): Promise<void> {
  const response = await pool.request({
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' },
    body,
  });
  await response.body.dump({ limit: Infinity });
  if (response.statusCode !== 200) throw new Error(`${path}: HTTP ${response.statusCode}`);
}

function formatBody(node: number): string {
  return JSON.stringify({
    computer_guid: `COMP-${node}`,
    compute_partition_list: Array.from({ length: PARTITIONS }, (_, index) => ({
      partition_id: `slappart${index}`,
      ip_list: [
        {
          'ip-address': `10.${node}.0.${index + 1}`,
          'network-interface': `tap${index}`,
          netmask: '255.255.255.0',
        },
      ],
    })),
  });
}

async function setUp(url: string): Promise<void> {
  const pool = new Pool(url, { connections: 4 });
  try {
    for (let node = 0; node < NODES; node++) {
      await post(pool, '/slapos.put.v0.compute_node_format', formatBody(node));
      await post(
        pool,
        '/slapos.post.v0.software_installation',
        JSON.stringify({ software_release_uri: SR, computer_guid: `COMP-${node}` }),
      );
    }
  } finally {
    await pool.close();
  }
}

interface Side {
  latencies: number[];
  errors: number;
  firstError?: string;
}

/** The mixed workload for `seconds` against `url`. */
async function mix(url: string, options: Options): Promise<{ writes: Side; reads: Side; seconds: number }> {
  const writes: Side = { latencies: [], errors: 0 };
  const reads: Side = { latencies: [], errors: 0 };
  const deadline = performance.now() + options.seconds * 1000;
  const loop = async (side: Side, next: () => { path: string; body: string }): Promise<void> => {
    const pool = new Pool(url, { connections: 1, pipelining: 1 });
    try {
      while (performance.now() < deadline) {
        const { path, body } = next();
        const before = performance.now();
        try {
          await post(pool, path, body);
          side.latencies.push(performance.now() - before);
        } catch (error) {
          side.errors++;
          side.firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    } finally {
      await pool.close();
    }
  };
  const random = (count: number): number => Math.floor(Math.random() * count);
  const started = performance.now();
  await Promise.all([
    ...Array.from({ length: options.writers }, (_, writer) => {
      let seq = 0;
      return loop(writes, () => {
        seq++;
        return {
          path: '/slapos.post.v0.software_instance',
          body: JSON.stringify({
            title: `w${writer}-${seq % TITLES_PER_WRITER}`,
            software_release_uri: SR,
            software_type: 'default',
            parameters: { seq: String(seq) },
            sla_parameters: { computer_guid: `COMP-${random(NODES)}` },
          }),
        };
      });
    }),
    ...Array.from({ length: options.readers }, () =>
      loop(reads, () => ({
        path: '/slapos.allDocs.v0.compute_node_instance_list',
        body: JSON.stringify({ computer_guid: `COMP-${random(NODES)}` }),
      })),
    ),
  ]);
  return { writes, reads, seconds: (performance.now() - started) / 1000 };
}

interface RowResult {
  label: string;
  masters: number;
  seconds: number;
  writes: Side;
  reads: Side;
  /** Cores used on average during the run, by part. */
  busy: { masters: number; haproxy: number; database: number; generator: number };
}

interface RowSpec {
  label: string;
  count: number;
  /** The load goes to the first master directly, not through haproxy. */
  direct: boolean;
}

async function row(
  { label, count, direct }: RowSpec,
  context: { options: Options; root: string; postgres: PostgresCluster | undefined },
): Promise<RowResult> {
  const { options } = context;
  const dir = await mkdtemp(join(context.root, 'row-'));
  const database = context.postgres ? await postgresDatabase(context.postgres) : await sqliteDatabase(dir);
  let cluster: MasterCluster | undefined;
  try {
    cluster = await startMasterCluster({ masters: count, database: database.location, dir });
    const url = direct ? (cluster.masters[0]?.url ?? '') : cluster.url;
    await setUp(url);
    const masterPids = cluster.masters.map((master) => master.process.child.pid ?? 0);
    const haproxyPids = [cluster.haproxy.pid];
    const sum = (pids: number[]): number => pids.reduce((total, pid) => total + cpuSeconds(pid), 0);
    const before = {
      masters: sum(masterPids),
      haproxy: sum(haproxyPids),
      database: await database.serverCpuSeconds(),
      generator: ownCpuSeconds(),
    };
    const result = await mix(url, options);
    const busy = {
      masters: (sum(masterPids) - before.masters) / result.seconds,
      haproxy: direct ? 0 : (sum(haproxyPids) - before.haproxy) / result.seconds,
      database: ((await database.serverCpuSeconds()) - before.database) / result.seconds,
      generator: (ownCpuSeconds() - before.generator) / result.seconds,
    };
    return {
      label,
      masters: count,
      seconds: result.seconds,
      writes: result.writes,
      reads: result.reads,
      busy,
    };
  } finally {
    await cluster?.close();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

function report(result: RowResult, cores: number): string[] {
  const side = (name: string, data: Side): string => {
    const sorted = [...data.latencies].sort((a, b) => a - b);
    return (
      `${name} ${(data.latencies.length / result.seconds).toFixed(0).padStart(6)}/s ` +
      `p50 ${percentile(sorted, 0.5).toFixed(2).padStart(6)} ms p99 ${percentile(sorted, 0.99).toFixed(2).padStart(7)} ms ` +
      `errors ${data.errors}${data.firstError ? ` (${data.firstError})` : ''}`
    );
  };
  const total = (result.writes.latencies.length + result.reads.latencies.length) / result.seconds;
  const { busy } = result;
  return [
    `${result.label}`,
    `  ${side('writes', result.writes)}`,
    `  ${side('reads ', result.reads)}`,
    `  requests ${total.toFixed(0)}/s: ${(total / result.masters).toFixed(0)}/s per master process, ` +
      `${(total / cores).toFixed(0)}/s per core of the machine, ` +
      `${busy.masters > 0 ? (total / busy.masters).toFixed(0) : 'n/a'} per CPU-second of the masters`,
    `  cores busy: masters ${busy.masters.toFixed(2)}, haproxy ${busy.haproxy.toFixed(2)}, ` +
      `database server ${busy.database.toFixed(2)}, load generator ${busy.generator.toFixed(2)} ` +
      `(of ${cores}; load average ${loadavg()[0]?.toFixed(2)})`,
  ];
}

const options = parseOptions(process.argv.slice(2));
process.stderr.write('building dist/ …\n');
await build();
const cores = cpus().length;
const root = await mkdtemp(join(tmpdir(), 'bench-masters-'));
const postgres = options.store === 'postgres' ? await startPostgresCluster() : undefined;
console.log(
  `several masters on ${options.store === 'postgres' ? 'PostgreSQL' : 'one SQLite file'}: ${NODES} nodes × ${PARTITIONS} partitions, ` +
    `${options.writers} writers + ${options.readers} readers for ${options.seconds} s, ${cores} cores`,
);
try {
  const rows: RowSpec[] = [{ label: '1 master, direct (no haproxy)', count: 1, direct: true }];
  for (const count of options.masters)
    rows.push({ label: `${count} master${count === 1 ? '' : 's'} behind haproxy`, count, direct: false });
  const results: RowResult[] = [];
  for (const spec of rows) {
    const result = await row(spec, { options, root, postgres });
    results.push(result);
    for (const line of report(result, cores)) console.log(line);
  }
  const one = results.find((result) => result.masters === 1 && !result.label.includes('direct'));
  const rate = (result: RowResult): number =>
    (result.writes.latencies.length + result.reads.latencies.length) / result.seconds;
  for (const result of results)
    if (one && result !== one && result.masters > 1)
      console.log(
        `${result.masters} masters do ${(rate(result) / rate(one)).toFixed(2)}× what one does behind haproxy ` +
          `(${cores} cores shared by the masters, haproxy, the database and the load generator)`,
      );
} finally {
  await postgres?.remove();
  await rm(root, { recursive: true, force: true });
}

/**
 * Master benchmark (`npm run bench -- master [--concurrency 1,8] [--rounds 10] [--warmup-rounds 10 |
 * --no-warmup] [--profile-master DIR] [--token]`); `--token` starts the master with `--token-file` and
 * sends the bearer token on every call (the standalone's setting). `MASTER_NODE_ARGS="--trace-gc …"` passes Node options to the
 * master's process.
 *
 * The master runs `slapos proxy start` (the compiled CLI; dist/ is rebuilt first) in a child
 * process; this process generates the load with undici (keep-alive connections, one per concurrent
 * client), so the two share the machine's cores.
 *
 * Workload of one round (issue 2's): format a fresh compute node with 100 partitions, supply a
 * software release, 100 instance requests with distinct titles, then 1000 reads of the node's
 * instance list. For each concurrency, one master (fresh database) runs the warm-up rounds, then the
 * measured rounds, each on its own compute node. A phase lasts tens of milliseconds, so one
 * scheduler hiccup moves a single round's p99: the table aggregates every round (requests/s = all
 * requests / all phase time; p50/p99 over all samples) and shows the slowest and fastest round's
 * rate so that the variance is visible. It also prints the load average, the master's CPU time per
 * request (from /proc: what the master itself costs, meaningful on a busy machine too) and the load
 * generator's (this process, for telling whether the generator is the limit).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { createAccessToken, writeAccessTokenFile } from '../src/lib/access-token.ts';

const SR = 'https://lab.example.com/software/hello/software.cfg';
const PARTITIONS = 100;
const REQUESTS = 100;
const READS = 1000;

interface Server {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Brings dist/ up to date (incremental), since the master runs the compiled CLI. */
async function build(): Promise<void> {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    timeout: 600_000,
  });
}

async function startServer(databasePath: string, nodeArgs: string[], extraArgs: string[]): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      join(ROOT, 'bin', 'slapos.js'),
      'proxy',
      'start',
      '--port',
      '0',
      '--database',
      databasePath,
      '--computer-id',
      'bench-node',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the master did not start within 60 s')), 60_000);
    let buffer = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n')) {
        const match = /"url":"(http:[^"]+)".*"msg":"master listening"/.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the master exited with ${code}`));
    });
  });
  return {
    child,
    url,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface PhaseResult {
  phase: string;
  concurrency: number;
  count: number;
  seconds: number;
  latencies: number[];
  /** CPU seconds the master process used during the phase (Linux /proc), or NaN. */
  serverCpu: number;
  /** CPU seconds this process (the load generator) used during the phase. */
  clientCpu: number;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; NaN where unavailable. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = 100;

/** CPU seconds this process has used (microsecond resolution). */
function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** The request headers (`authorization` added with --token). */
const HEADERS: Record<string, string> = { 'content-type': 'application/json' };

/** Sends one request; the load generator stays light (the body is not parsed, only checked for success). */
async function post(pool: Pool, path: string, body: string): Promise<void> {
  const response = await pool.request({ path, method: 'POST', headers: HEADERS, body });
  if (response.statusCode === 200) {
    await response.body.dump({ limit: Infinity });
    return;
  }
  throw new Error(`${path}: ${response.statusCode} ${await response.body.text()}`);
}

/** Sends `count` requests, `concurrency` at a time, and records each latency. */
async function phase(
  name: string,
  server: Server,
  pool: Pool,
  concurrency: number,
  count: number,
  make: (index: number) => { path: string; body: string },
): Promise<PhaseResult> {
  const latencies: number[] = [];
  let next = 0;
  const cpuBefore = cpuSeconds(server.child.pid);
  const clientCpuBefore = ownCpuSeconds();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const { path, body } = make(next++);
      const before = performance.now();
      await post(pool, path, body);
      latencies.push(performance.now() - before);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    phase: name,
    concurrency,
    count,
    seconds,
    latencies,
    serverCpu: cpuSeconds(server.child.pid) - cpuBefore,
    clientCpu: ownCpuSeconds() - clientCpuBefore,
  };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? NaN;
}

const TABLE_HEADER =
  'phase     concurrency rounds requests requests/s  round min–max  p50 ms  p99 ms  master CPU µs/req  bench CPU µs/req';

/** One line of the table: a phase over all measured rounds. */
function report(rounds: PhaseResult[]): string {
  const first = rounds[0];
  if (!first) return '';
  const sum = (pick: (result: PhaseResult) => number): number =>
    rounds.reduce((total, result) => total + pick(result), 0);
  const count = sum((result) => result.count);
  const sorted = rounds.flatMap((result) => result.latencies).sort((a, b) => a - b);
  const rates = rounds.map((result) => result.count / result.seconds);
  const perRequest = (seconds: number): string => ((seconds / count) * 1e6).toFixed(0);
  return [
    first.phase.padEnd(9),
    String(first.concurrency).padStart(11),
    String(rounds.length).padStart(6),
    String(count).padStart(8),
    (count / sum((result) => result.seconds)).toFixed(0).padStart(10),
    `${Math.min(...rates).toFixed(0)}–${Math.max(...rates).toFixed(0)}`.padStart(14),
    percentile(sorted, 0.5).toFixed(2).padStart(7),
    percentile(sorted, 0.99).toFixed(2).padStart(7),
    perRequest(sum((result) => result.serverCpu)).padStart(18),
    perRequest(sum((result) => result.clientCpu)).padStart(17),
  ].join(' ');
}

async function runWorkload(
  server: Server,
  pool: Pool,
  concurrency: number,
  node: string,
  prefix: string,
): Promise<PhaseResult[]> {
  // Bodies are prepared before the timed phases.
  const formatBody = JSON.stringify({
    computer_guid: node,
    compute_partition_list: Array.from({ length: PARTITIONS }, (_, index) => ({
      partition_id: `slappart${index}`,
      ip_list: [
        {
          'ip-address': `10.0.${Math.floor(index / 250)}.${(index % 250) + 1}`,
          'network-interface': `slaptap${index}`,
          netmask: '255.255.255.0',
        },
        {
          'ip-address': `fd00::${index + 1}`,
          'network-interface': `slaptap${index}`,
          netmask: 'ffff:ffff:ffff:ffff::',
        },
      ],
    })),
  });
  const supplyBody = JSON.stringify({ software_release_uri: SR, computer_guid: node });
  const requestBodies = Array.from({ length: REQUESTS }, (_, index) =>
    JSON.stringify({
      title: `${prefix}instance-${index}`,
      software_release_uri: SR,
      software_type: 'default',
      parameters: { index, name: `instance ${index}`, enabled: true },
      sla_parameters: { computer_guid: node },
    }),
  );
  const readBody = JSON.stringify({ computer_guid: node });
  const format = await phase('format', server, pool, 1, 1, () => ({
    path: '/slapos.put.v0.compute_node_format',
    body: formatBody,
  }));
  const supply = await phase('supply', server, pool, 1, 1, () => ({
    path: '/slapos.post.v0.software_installation',
    body: supplyBody,
  }));
  const requests = await phase('requests', server, pool, concurrency, REQUESTS, (index) => ({
    path: '/slapos.post.v0.software_instance',
    body: requestBodies[index] ?? '',
  }));
  const reads = await phase('reads', server, pool, concurrency, READS, () => ({
    path: '/slapos.allDocs.v0.compute_node_instance_list',
    body: readBody,
  }));
  return [format, supply, requests, reads];
}

/** The value after `--name`, or undefined. */
function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

function positiveInteger(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} wants a whole number, not ${text}`);
  return value;
}

function loadAverage(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

async function main(args: string[]): Promise<void> {
  const levels = (option(args, '--concurrency') ?? '1,8').split(',').map(Number);
  const rounds = Math.max(1, positiveInteger(option(args, '--rounds'), 10, '--rounds'));
  const warmupRounds = args.includes('--no-warmup')
    ? 0
    : positiveInteger(option(args, '--warmup-rounds'), 10, '--warmup-rounds');
  const profileDirectory = option(args, '--profile-master');
  const withToken = args.includes('--token');
  // A V8 CPU profile of the master, written when it stops.
  const nodeArgs = [
    ...(process.env.MASTER_NODE_ARGS ?? '').split(' ').filter(Boolean),
    ...(profileDirectory ? ['--cpu-prof', `--cpu-prof-dir=${profileDirectory}`] : []),
  ];
  await build();
  process.stdout.write(
    `master benchmark: ${rounds} rounds of (format ${PARTITIONS} partitions, supply, ${REQUESTS} requests, ` +
      `${READS} reads) on fresh compute nodes per concurrency` +
      `${warmupRounds > 0 ? `, after ${warmupRounds} warm-up rounds` : ''}; ` +
      `${withToken ? 'bearer token on every call; ' : ''}` +
      `master in a child process, load from undici (keep-alive) in this one\n`,
  );
  process.stdout.write(`load average before: ${loadAverage()} on ${cpus().length} CPUs\n`);
  process.stdout.write(`${TABLE_HEADER}\n`);
  for (const concurrency of levels) {
    const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-master-'));
    const tokenArgs: string[] = [];
    if (withToken) {
      const token = createAccessToken();
      await writeAccessTokenFile(join(directory, 'master.token'), token);
      HEADERS.authorization = `Bearer ${token}`;
      tokenArgs.push('--token-file', join(directory, 'master.token'));
    }
    const server = await startServer(join(directory, 'proxy.db'), nodeArgs, tokenArgs);
    // Every request has a deadline: the pool's header and body timeouts.
    const pool = new Pool(server.url, {
      connections: concurrency,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    try {
      // Warm-up: the same workload on other compute nodes, so that the measured rounds meet a
      // master whose code V8 has optimised (a few thousand calls) rather than one that has just started.
      for (let round = 0; round < warmupRounds; round++) {
        await runWorkload(server, pool, concurrency, `warmup-node-${round}`, `warmup-${round}-`);
      }
      const byPhase = new Map<string, PhaseResult[]>();
      for (let round = 0; round < rounds; round++) {
        const results = await runWorkload(
          server,
          pool,
          concurrency,
          `bench-node-${round}`,
          `round-${round}-`,
        );
        for (const result of results)
          byPhase.set(result.phase, [...(byPhase.get(result.phase) ?? []), result]);
      }
      for (const results of byPhase.values()) process.stdout.write(`${report(results)}\n`);
    } finally {
      await pool.close();
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    }
  }
  process.stdout.write(`load average after: ${loadAverage()}\n`);
}

await main(process.argv.slice(2));

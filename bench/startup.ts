/**
 * Start-up benchmark (`npm run bench -- startup [runs] [--no-load]`, default 10 runs): how long a
 * master takes from the spawn of the command to its first answer, and what it holds in memory.
 *
 * - `slapos proxy start` on a fresh directory (new SQLite database), then restarted on that
 *   database, each run: the time from the spawn to the first 200 of a cheap JSON API call
 *   (`instance_tree_list`), polled every 2 ms on a fresh connection from the spawn on, and the
 *   master's RSS (/proc) right after that answer. On the last restart a short mixed load follows (20 compute nodes × 50 partitions formatted, then 4 writers
 *   requesting instances spread over the nodes while 8 readers read random nodes' instance lists),
 *   and the RSS after it, idle, is printed too (`--no-load` skips it).
 * - `slapos master start` (HTTPS with the master's own CA): on a fresh directory (the CA and the
 *   server certificate are made then) and restarted on that directory; the first answer is the API's
 *   401 to an unauthenticated call (TLS, authentication and the API all ran), its body checked.
 * - `slapos --help`: spawn to exit.
 *
 * The CPU time of the started process (user + system, /proc) up to the first answer is printed
 * beside the wall time: on a shared machine the wall time also counts waiting for a core.
 * `--only proxy|master|help` runs one measure; `--compare FILE` also measures another tree's
 * (built) `bin/slapos.js`, e.g. a former commit's, run after run in turn with this one's, for a
 * before/after under the same load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { build, call } from './_master-servers.ts';

const args = process.argv.slice(2);
const runs = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 10);
const withLoad = !args.includes('--no-load');
const optionValue = (name: string): string | undefined => {
  const index = args.indexOf(name);
  return index < 0 ? undefined : args[index + 1];
};
const BIN = fileURLToPath(new URL('../bin/slapos.js', import.meta.url));
/** `--compare FILE`: another tree's `bin/slapos.js` (built), e.g. a former commit's, measured in turn. */
const COMPARE = optionValue('--compare');
/** `--only proxy|master|help`: one of the three measures. */
const only = optionValue('--only');
const measured = (what: string): boolean => only === undefined || only === what;
const SR = 'https://lab.example.com/software/hello/software.cfg';
const POLL_MS = 2;
const CLOCK_TICKS_PER_SECOND = 100;

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ?? NaN;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** The process's resident memory (MB) and CPU time so far (ms), from /proc. */
function processUsage(pid: number): { rssMb: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  // Fields after the command name (which may hold spaces) in /proc/PID/stat: utime is the 14th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMb: rssKb / 1024, cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_SECOND };
}

interface Probe {
  url: string;
  ca?: () => string | undefined;
  /** True when the answer is the one expected of a running master. */
  accept: (status: number, body: string) => boolean;
}

/** One POST of `{}` on a fresh connection: resolves true on an accepted answer, false otherwise. */
function probeOnce(probe: Probe): Promise<boolean> {
  return new Promise((resolve) => {
    const url = new URL(probe.url);
    const ca = probe.ca?.();
    if (url.protocol === 'https:' && ca === undefined) {
      resolve(false);
      return;
    }
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', connection: 'close' },
        ...(ca === undefined ? {} : { ca }),
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(probe.accept(response.statusCode ?? 0, body)));
        response.on('error', () => resolve(false));
      },
    );
    request.on('error', () => resolve(false));
    request.end('{}');
  });
}

interface Started {
  child: ChildProcess;
  exited: Promise<number | null>;
  firstAnswerMs: number;
  cpuMs: number;
  rssMb: number;
  stop(): Promise<void>;
}

/** Spawns `slapos ARGS` and polls `probe` until it answers: the time from the spawn, CPU and RSS. */
async function startUntilAnswer(bin: string, commandArgs: string[], probe: Probe): Promise<Started> {
  const started = performance.now();
  const child = spawn(process.execPath, [bin, ...commandArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 100_000) stderr += chunk.toString();
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const stop = async (): Promise<void> => {
    if (exitCode !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = started + 60_000;
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`slapos ${commandArgs.join(' ')} exited with ${exitCode}: ${stderr}`);
    if (performance.now() > deadline) {
      await stop();
      throw new Error(`slapos ${commandArgs.join(' ')} did not answer within 60 s: ${stderr}`);
    }
    if (await probeOnce(probe)) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const firstAnswerMs = performance.now() - started;
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  return { child, exited, firstAnswerMs, ...processUsage(pid), stop };
}

/**
 * `startUntilAnswer` on a port free a moment before; again on another if something else took it
 * meanwhile (the machine is shared).
 */
async function startOnFreePort(
  bin: string,
  on: (port: number) => { args: string[]; probe: Probe },
): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    const { args: commandArgs, probe } = on(await freePort());
    try {
      return await startUntilAnswer(bin, commandArgs, probe);
    } catch (error) {
      if (attempt >= 3 || !/cannot listen/.test(String(error))) throw error;
    }
  }
}

/** 20 compute nodes × 50 partitions, then 4 writers (instance requests) and 8 readers at once. */
async function mixedLoad(url: string): Promise<{ writes: number; reads: number; seconds: number }> {
  const NODES = 20;
  const PARTITIONS = 50;
  const WRITES_PER_WRITER = 250;
  const pool = new Pool(url, { connections: 12, keepAliveTimeout: 60_000 });
  try {
    const nodes = Array.from({ length: NODES }, (_, index) => `COMP-${index}`);
    for (const node of nodes) {
      await call(pool, '/slapos.put.v0.compute_node_format', {
        computer_guid: node,
        compute_partition_list: Array.from({ length: PARTITIONS }, (_, index) => ({
          partition_id: `slappart${index}`,
          ip_list: [{ 'ip-address': `10.0.0.${index + 1}`, 'network-interface': `slaptap${index}` }],
        })),
      });
      await call(pool, '/slapos.post.v0.software_installation', {
        software_release_uri: SR,
        computer_guid: node,
      });
    }
    const started = performance.now();
    let writes = 0;
    let reads = 0;
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, writer) => {
      for (let index = 0; index < WRITES_PER_WRITER; index++) {
        await call(pool, '/slapos.post.v0.software_instance', {
          title: `instance-${writer}-${index}`,
          software_release_uri: SR,
          software_type: 'default',
          parameters: { writer, index },
          sla_parameters: { computer_guid: nodes[(writer * WRITES_PER_WRITER + index) % NODES] },
        });
        writes++;
      }
    });
    const readers = Array.from({ length: 8 }, async () => {
      while (writing) {
        const node = nodes[Math.floor(Math.random() * NODES)];
        await call(pool, '/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: node });
        reads++;
      }
    });
    await Promise.all(writers);
    writing = false;
    await Promise.all(readers);
    return { writes, reads, seconds: (performance.now() - started) / 1000 };
  } finally {
    await pool.close();
  }
}

const apiError = (status: number, body: string): boolean => {
  try {
    const parsed = JSON.parse(body) as { status?: unknown; type?: unknown; title?: unknown };
    return parsed.status === status && typeof parsed.type === 'string' && typeof parsed.title === 'string';
  } catch {
    return false;
  }
};

interface Row {
  name: string;
  samples: { firstAnswerMs: number; cpuMs: number; rssMb: number }[];
}

const figure = (value: number, digits: number): string => (Number.isNaN(value) ? '-' : value.toFixed(digits));

function printRow(row: Row): void {
  const wall = row.samples.map((sample) => sample.firstAnswerMs);
  const cpu = row.samples.map((sample) => sample.cpuMs);
  const rss = row.samples.map((sample) => sample.rssMb);
  console.log(
    [
      row.name.padEnd(42),
      String(row.samples.length).padStart(4),
      figure(percentile(wall, 0.5), 0).padStart(8),
      figure(percentile(wall, 0.99), 0).padStart(8),
      figure(percentile(cpu, 0.5), 0).padStart(8),
      figure(percentile(rss, 0.5), 1).padStart(8),
      figure(Math.max(...rss), 1).padStart(8),
    ].join(' '),
  );
}

await build();
const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-startup-'));
try {
  console.log(
    `start-up, ${runs} runs each (node ${process.version}, load average ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}): ms from the spawn to the first answer, CPU ms of the process, RSS in MB after it`,
  );
  console.log(
    `${'command'.padEnd(42)} runs ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'cpu p50'.padStart(8)} ${'rss p50'.padStart(8)} ${'rss max'.padStart(8)}`,
  );

  /** The trees measured, run after run in turn (so that the machine's load falls on each alike). */
  const trees =
    COMPARE === undefined
      ? [{ bin: BIN, label: '' }]
      : [
          { bin: BIN, label: ' [this]' },
          { bin: COMPARE, label: ' [compared]' },
        ];
  const rows = (name: string): Row[] => trees.map(({ label }) => ({ name: `${name}${label}`, samples: [] }));

  const proxy = rows('proxy start (fresh database)');
  const proxyRestart = rows('proxy start (restart)');
  const afterLoad: string[] = [];
  for (let run = 0; run < (measured('proxy') ? runs : 0); run++) {
    for (const [tree, { bin, label }] of trees.entries()) {
      const database = join(directory, `proxy-${run}-${tree}`, 'proxy.db');
      for (const row of [proxy[tree], proxyRestart[tree]]) {
        let url = '';
        const master = await startOnFreePort(bin, (port) => {
          url = `http://127.0.0.1:${port}`;
          return {
            args: ['proxy', 'start', '--port', String(port), '--database', database],
            probe: { url: `${url}/slapos.allDocs.v0.instance_tree_list`, accept: (status) => status === 200 },
          };
        });
        try {
          row?.samples.push(master);
          if (withLoad && run === runs - 1 && row === proxyRestart[tree]) {
            const load = await mixedLoad(url);
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            const pid = master.child.pid;
            if (pid !== undefined)
              afterLoad.push(
                `proxy after the mixed load${label} (20 nodes × 50 partitions; ${load.writes} requests by 4 writers, ` +
                  `${load.reads} reads by 8 readers, ${load.seconds.toFixed(1)} s), 1 s idle: RSS ${processUsage(pid).rssMb.toFixed(1)} MB`,
              );
          }
        } finally {
          await master.stop();
        }
      }
    }
  }
  if (measured('proxy')) for (const row of [...proxy, ...proxyRestart]) printRow(row);

  const masterFresh = rows('master start (fresh directory)');
  const masterRestart = rows('master start (restart)');
  for (let run = 0; run < (measured('master') ? runs : 0); run++) {
    for (const [tree, { bin }] of trees.entries()) {
      const masterDirectory = join(directory, `master-${run}-${tree}`);
      for (const row of [masterFresh[tree], masterRestart[tree]]) {
        const caFile = join(masterDirectory, 'ca.crt');
        const master = await startOnFreePort(bin, (port) => ({
          args: ['master', 'start', '--dir', masterDirectory, '--port', String(port)],
          probe: {
            url: `https://127.0.0.1:${port}/slapos.allDocs.v0.instance_tree_list`,
            ca: () => (existsSync(caFile) ? readFileSync(caFile, 'utf8') : undefined),
            accept: (status, body) => status === 401 && apiError(401, body),
          },
        }));
        row?.samples.push(master);
        await master.stop();
      }
    }
  }
  if (measured('master')) for (const row of [...masterFresh, ...masterRestart]) printRow(row);

  const help = rows('--help (to exit)');
  for (let run = 0; run < (measured('help') ? runs : 0); run++) {
    for (const [tree, { bin }] of trees.entries()) {
      const started = performance.now();
      const child = spawn(process.execPath, [bin, '--help'], { stdio: 'ignore' });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      if (code !== 0) throw new Error(`slapos --help exited with ${code}`);
      // Its CPU and memory: `npm run bench -- cli`.
      help[tree]?.samples.push({ firstAnswerMs: performance.now() - started, cpuMs: NaN, rssMb: NaN });
    }
  }
  if (measured('help')) for (const row of help) printRow(row);
  for (const line of afterLoad) console.log(line);
} finally {
  await rm(directory, { recursive: true, force: true });
}

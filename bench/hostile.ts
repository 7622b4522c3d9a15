/**
 * Hostile requests against the master: `npm run bench -- hostile [--runs 3] [--case TEXT] [--cpu-prof DIR]`. The
 * master runs in its own process (bench/_master-process.ts: 127.0.0.1, SQLite in a temporary
 * directory) and measures its own event loop delay (perf_hooks.monitorEventLoopDelay, 1 ms
 * resolution); bodies are built before timing. `--cpu-prof DIR` writes the master's CPU profile there.
 *
 * For each hostile request (median and worst of the runs): its latency and status, the master's
 * longest event loop block meanwhile, and the p99 and worst latency of cheap requests
 * (`get.v0.hateoas_url`, one after another) sent while it is in flight. Cases (docs/master.md,
 * "Limits"): the 80,000-descending-keys instance request (issue 14: 40 s before the fix; now
 * refused), ~1 MiB parameter dictionaries (refused: over the stored parameter XML cap) and the
 * largest ones stored, a format of as many partitions as allowed, the largest promise results, a
 * 2 MiB body (413 after reading), and 1 MiB of nested objects whose keys must be counted.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { BODY_LIMIT_BYTES, MAX_OBJECT_MEMBERS } from '../src/master/http/request-body.ts';
import { ARRAY_CAPS } from '../src/master/http/request-rules.ts';
import { MAX_PARAMETER_XML_BYTES } from '../src/master/services/stored-parameters.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'cpu-prof': { type: 'string' },
    case: { type: 'string' },
  },
  allowPositionals: true,
});
const runs = Math.max(1, Number(values.runs));
const SR = 'http://sr//';
const HEADERS = { 'content-type': 'application/json' };

interface Case {
  name: string;
  path: string;
  body: (run: number) => Buffer;
}

function descendingKeys(count: number, value: string): Record<string, string> {
  const keys: Record<string, string> = {};
  for (let i = count; i > 0; i--) keys[i.toString(36).padStart(4, '0')] = value;
  return keys;
}

function instance(title: string, parameters: unknown): Buffer {
  return Buffer.from(JSON.stringify({ title, software_release_uri: SR, software_type: 'x', parameters }));
}

const largestValue = 'v'.repeat(Math.floor((BODY_LIMIT_BYTES - 4096) / MAX_OBJECT_MEMBERS) - 16);
/** Values filling the stored parameter XML: about 40 bytes of markup per key. */
const storableValue = 'v'.repeat(Math.floor((MAX_PARAMETER_XML_BYTES - 4096) / MAX_OBJECT_MEMBERS) - 40);
const partitions = ARRAY_CAPS.compute_partition_list ?? 0;
/** The instance whose promise results are reported (requested before the cases). */
const PROMISE_INSTANCE = 'P';

/** 200 failed promise results of PROMISE_INSTANCE, each message `run` then `length` characters. */
function promiseResults(run: number, length: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      instance_guid: `${PROMISE_INSTANCE}______0`,
      result_list: Array.from({ length: 200 }, (_, i) => ({
        name: `promise-${i}`,
        status: 'fail',
        message: `${run}${'m'.repeat(length)}`,
        date: '2026-12-07T03:00:00Z',
      })),
    }),
  );
}

const CASES: Case[] = [
  {
    name: '80,000 descending keys',
    path: '/slapos.post.v0.software_instance',
    body: () => instance('H', descendingKeys(80_000, '')),
  },
  {
    name: `${MAX_OBJECT_MEMBERS} keys, ~1 MiB (over the XML cap)`,
    path: '/slapos.post.v0.software_instance',
    body: () => instance('L', descendingKeys(MAX_OBJECT_MEMBERS, largestValue)),
  },
  {
    name: `${MAX_OBJECT_MEMBERS} keys at the XML cap`,
    path: '/slapos.post.v0.software_instance',
    body: (run) => instance('C', descendingKeys(MAX_OBJECT_MEMBERS, `${run}${storableValue.slice(1)}`)),
  },
  {
    name: 'one ~1 MiB value (over the XML cap)',
    path: '/slapos.post.v0.software_instance',
    body: () => instance('V', { big: '\u00e9'.repeat((BODY_LIMIT_BYTES - 4096) / 2) }),
  },
  {
    name: 'one value at the XML cap',
    path: '/slapos.post.v0.software_instance',
    body: (run) => instance('W', { big: `${run}${'\u00e9'.repeat((MAX_PARAMETER_XML_BYTES - 4096) / 2)}` }),
  },
  {
    name: `format ${partitions} partitions (the cap)`,
    path: '/slapos.put.v0.compute_node_format',
    body: (run) =>
      Buffer.from(
        JSON.stringify({
          computer_guid: `hostile${run}`,
          compute_partition_list: Array.from({ length: partitions }, (_, i) => ({
            partition_id: `p${i}`,
            ip_list: [
              { 'ip-address': `10.0.${i % 250}.1`, 'network-interface': 'tap0', netmask: '255.255.255.0' },
              { 'ip-address': `fd00::${i.toString(16)}`, 'network-interface': 'tap0', netmask: 'ffff::' },
            ],
          })),
        }),
      ),
  },
  {
    name: '200 promise results of 1.2 kB (the cap, ~250 kB)',
    path: '/slapos.put.ext.software_instance_promise_result',
    body: (run) => promiseResults(run, 1180),
  },
  {
    name: '200 promise results of 4 kB (~850 kB, over the cap)',
    path: '/slapos.put.ext.software_instance_promise_result',
    body: (run) => promiseResults(run, 4095),
  },
  {
    name: '2 MiB body',
    path: '/slapos.post.v0.software_instance',
    body: () => Buffer.alloc(2 * 1024 * 1024, 'x'),
  },
  {
    name: '1 MiB of small objects',
    path: '/slapos.post.v0.software_instance',
    body: () => instance('O', { list: Array.from({ length: 110_000 }, () => ({ a: 1 })) }),
  },
];

async function post(pool: Pool, path: string, body: Buffer | string): Promise<number> {
  const response = await pool.request({ path, method: 'POST', headers: HEADERS, body });
  await response.body.dump({ limit: Infinity });
  return response.statusCode;
}

type Answer =
  | { kind: 'listening'; url: string }
  | { kind: 'reset' }
  | { kind: 'report'; maxMs: number; maxCpuMs: number };

/** The next message of the master process of the given kind. */
async function answer<K extends Answer['kind']>(
  child: ChildProcess,
  kind: K,
): Promise<Extract<Answer, { kind: K }>> {
  for (;;) {
    const [message] = (await once(child, 'message')) as [Answer];
    if (message.kind === kind) return message as Extract<Answer, { kind: K }>;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-hostile-'));
const profile = values['cpu-prof'];
const child = fork(new URL('./_master-process.ts', import.meta.url), [join(directory, 'proxy.db')], {
  execArgv: [
    '--import',
    'tsx',
    ...(profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-interval', '250', '--cpu-prof-dir', profile]),
  ],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const master = await answer(child, 'listening');
const hostilePool = new Pool(master.url, { connections: 1, bodyTimeout: 120_000, headersTimeout: 120_000 });
const cheapPool = new Pool(master.url, { connections: 1 });
try {
  await post(
    cheapPool,
    '/slapos.put.v0.compute_node_format',
    JSON.stringify({
      computer_guid: 'bench',
      compute_partition_list: Array.from({ length: 10 }, (_, i) => ({ partition_id: `slappart${i}` })),
    }),
  );
  const promiseInstance = await post(
    cheapPool,
    '/slapos.post.v0.software_instance',
    instance(PROMISE_INSTANCE, {}),
  );
  if (promiseInstance !== 200) throw new Error(`requesting ${PROMISE_INSTANCE} answered ${promiseInstance}`);
  for (let i = 0; i < 200; i++) await post(cheapPool, '/slapos.get.v0.hateoas_url', '{}');
  process.stdout.write(
    `hostile requests against a master in its own process, ${runs} runs each, median / worst of the runs (master block = the master's longest event loop delay; block CPU = the most CPU it used between two ticks of a 1 ms timer; cheap = get.v0.hateoas_url sent one after another meanwhile)\n`,
  );
  process.stdout.write(
    'case                                      bytes  status      hostile ms  master block ms    block CPU ms    cheap p99 ms    cheap max ms\n',
  );
  for (const hostile of CASES.filter((item) => item.name.includes(values.case ?? ''))) {
    const latencies: number[] = [];
    const cheapP99s: number[] = [];
    const cheapMaxima: number[] = [];
    const blocks: number[] = [];
    const cpuBlocks: number[] = [];
    let status = 0;
    let bytes = 0;
    for (let run = 0; run < runs; run++) {
      const body = hostile.body(run);
      bytes = body.length;
      child.send({ kind: 'reset' });
      await answer(child, 'reset');
      let done = false;
      const cheapLatencies: number[] = [];
      const cheap = (async () => {
        while (!done) {
          const started = performance.now();
          const answer = await post(cheapPool, '/slapos.get.v0.hateoas_url', '{}');
          if (answer !== 200) throw new Error(`cheap request answered ${answer}`);
          cheapLatencies.push(performance.now() - started);
        }
      })();
      const started = performance.now();
      status = await post(hostilePool, hostile.path, body).catch(() => 0);
      latencies.push(performance.now() - started);
      done = true;
      await cheap;
      child.send({ kind: 'report' });
      const report = await answer(child, 'report');
      blocks.push(report.maxMs);
      cpuBlocks.push(report.maxCpuMs);
      cheapLatencies.sort((x, y) => x - y);
      cheapP99s.push(percentile(cheapLatencies, 99));
      cheapMaxima.push(cheapLatencies.at(-1) ?? NaN);
    }
    const cell = (values: number[]): string => {
      const sorted = [...values].sort((x, y) => x - y);
      const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
      return `${median.toFixed(1)} / ${(sorted.at(-1) ?? NaN).toFixed(1)}`;
    };
    process.stdout.write(
      `${hostile.name.padEnd(40)} ${String(bytes).padStart(8)}  ${String(status).padStart(6)}  ${cell(latencies).padStart(14)}  ${cell(blocks).padStart(15)}  ${cell(cpuBlocks).padStart(15)}  ${cell(cheapP99s).padStart(14)}  ${cell(cheapMaxima).padStart(14)}\n`,
    );
  }
} finally {
  await hostilePool.close();
  await cheapPool.close();
  child.send({ kind: 'close' });
  await once(child, 'exit');
  await rm(directory, { recursive: true, force: true });
}

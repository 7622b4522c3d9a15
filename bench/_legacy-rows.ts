/**
 * The master benchmark's legacy rows (issue 9): the SLAP XML protocol as SlapOS's own tools speak it,
 * against `slapos proxy start` in a child process, load from undici (keep-alive) in this process.
 *
 * - requests: `requestComputerPartition` form POSTs (marshalled state, parameters and SLA, as
 *   slapos.slap sends them), distinct titles spread over compute nodes of 100 partitions each;
 * - full-information reads: `getFullComputerInformation` of a node whose 100 partitions all hold an
 *   instance, by readers at a concurrency asking for gzip as Python's `requests` does, while one
 *   writer publishes a new connection parameter (`setComputerPartitionConnectionXml`) on one of its
 *   partitions: 20 times a second, then as fast as its awaited writes go. The reads between two
 *   writes are answered from the node's memoized answer; each write makes the next read rebuild,
 *   re-encode and re-compress it. Every read checks that it shows at least the value of the last
 *   write acknowledged before the read was sent: a cached answer that outlived a change is counted
 *   as stale (the goal is none).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { encodeMarshal, type MarshalDict } from '../src/core/xml-marshaller.ts';
import { startProxyMode, type Server } from './_master-servers.ts';

const SR = 'https://lab.example.com/software/hello/software.cfg';
const PARTITIONS = 100;

export interface LegacyOptions {
  concurrency: number;
  /** Instance requests measured (spread over ceil(requests / 100) compute nodes). */
  requests: number;
  /** How long the read phase lasts. */
  readSeconds: number;
}

function marshalDict(entries: Record<string, unknown>): MarshalDict {
  return Object.assign(Object.create(null) as MarshalDict, entries);
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

async function send(pool: Pool, method: 'GET' | 'POST', path: string, body?: string): Promise<string> {
  const response = await pool.request({
    path,
    method,
    headers: {
      'user-agent': 'slapos.core/bench',
      ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${text.slice(0, 300)}`);
  return text;
}

function formatXml(computerId: string): string {
  return encodeMarshal(
    marshalDict({
      reference: computerId,
      address: '10.0.0.1',
      netmask: '255.255.255.0',
      partition_list: Array.from({ length: PARTITIONS }, (_, index) =>
        marshalDict({
          reference: `slappart${index}`,
          tap: marshalDict({ name: `slaptap${index}` }),
          address_list: [
            marshalDict({
              addr: `10.0.${Math.floor(index / 250)}.${(index % 250) + 2}`,
              netmask: '255.255.0.0',
            }),
            marshalDict({ addr: `fd00::${index.toString(16)}`, netmask: 'ffff:ffff:ffff:ffff::' }),
          ],
        }),
      ),
    }),
  );
}

const STARTED = encodeMarshal('started');
const NOT_SHARED = encodeMarshal(false);

function requestForm(title: string, computerId: string): string {
  return form({
    software_release: SR,
    software_type: 'default',
    partition_reference: title,
    state: STARTED,
    shared_xml: NOT_SHARED,
    partition_parameter_xml: encodeMarshal(marshalDict({ name: title, port: 8080 + title.length })),
    filter_xml: encodeMarshal(marshalDict({ computer_guid: computerId })),
  });
}

async function prepareNode(pool: Pool, computerId: string): Promise<void> {
  await send(
    pool,
    'POST',
    '/loadComputerConfigurationFromXML',
    form({ computer_id: computerId, xml: formatXml(computerId) }),
  );
  await send(pool, 'POST', '/supplySupply', form({ url: SR, computer_id: computerId, state: 'available' }));
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? NaN;
}

function row(name: string, count: number, seconds: number, latencies: number[], extra = ''): string {
  latencies.sort((a, b) => a - b);
  return (
    `legacy ${name.padEnd(58)} ${String(count).padStart(7)} ${(count / seconds).toFixed(0).padStart(9)}/s` +
    `  p50 ${percentile(latencies, 0.5).toFixed(2)} ms  p99 ${percentile(latencies, 0.99).toFixed(2)} ms${extra}`
  );
}

async function requestsPhase(pool: Pool, options: LegacyOptions): Promise<string> {
  const nodes = Math.ceil(options.requests / PARTITIONS);
  for (let node = 0; node < nodes; node++) await prepareNode(pool, `bench-req-${node}`);
  const bodies = Array.from({ length: options.requests }, (_, index) =>
    requestForm(`instance-${index}`, `bench-req-${Math.floor(index / PARTITIONS)}`),
  );
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        const before = performance.now();
        await send(pool, 'POST', '/requestComputerPartition', body);
        latencies.push(performance.now() - before);
      }
    }),
  );
  return row(
    `requestComputerPartition c${options.concurrency}`,
    bodies.length,
    (performance.now() - started) / 1000,
    latencies,
  );
}

const COUNTER_MARK = '<string>bench_counter</string><string>';

/** The counter the last write published, as one read shows it (0 before the first write). */
function counterIn(text: string): number {
  const at = text.indexOf(COUNTER_MARK);
  if (at < 0) return 0;
  const start = at + COUNTER_MARK.length;
  return Number(text.slice(start, text.indexOf('<', start)));
}

/**
 * A read as Python's `requests` makes it (gzip accepted): the counter it shows and its bytes on the
 * wire. The load generator shares the cores with the master, so an answer is decompressed and
 * searched only the first time its bytes are seen (`counters`, by digest): the same bytes always
 * hold the same counter.
 */
async function readCounter(
  pool: Pool,
  path: string,
  counters: Map<string, number>,
): Promise<{ counter: number; wire: number; size: number }> {
  const response = await pool.request({
    path,
    method: 'GET',
    headers: { 'user-agent': 'slapos.core/bench', 'accept-encoding': 'gzip, deflate' },
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  if (response.statusCode !== 200)
    throw new Error(`${path}: ${response.statusCode} ${bytes.toString().slice(0, 300)}`);
  const digest = createHash('sha1').update(bytes).digest('base64');
  let counter = counters.get(digest);
  let size = -1;
  if (counter === undefined) {
    const text = (response.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes).toString();
    counter = counterIn(text);
    size = text.length;
    counters.set(digest, counter);
  }
  return { counter, wire: bytes.length, size };
}

/** A node whose partitions all hold an instance, for the read phases. */
async function prepareReadNode(pool: Pool, computerId: string): Promise<void> {
  await prepareNode(pool, computerId);
  for (let index = 0; index < PARTITIONS; index++)
    await send(pool, 'POST', '/requestComputerPartition', requestForm(`${computerId}-${index}`, computerId));
}

/**
 * Readers at the concurrency while one writer publishes a new connection parameter on one of the
 * node's partitions, `writesPerSecond` times a second (paced), or as fast as its awaited writes go
 * (`unpaced`). Each write makes the next read rebuild and re-encode the node's answer.
 */
async function readsPhase(
  pool: Pool,
  options: LegacyOptions,
  computerId: string,
  writesPerSecond: number | 'unpaced',
): Promise<string> {
  const path = `/getFullComputerInformation?computer_id=${computerId}`;
  const counters = new Map<string, number>();
  const sample = await readCounter(pool, path, new Map());
  let acknowledged = 0;
  let writes = 0;
  let stale = 0;
  let wireBytes = 0;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + options.readSeconds * 1000;
  const writer = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const value = writes + 1;
      await send(
        pool,
        'POST',
        '/setComputerPartitionConnectionXml',
        form({
          computer_id: computerId,
          computer_partition_id: 'slappart0',
          connection_xml: encodeMarshal(marshalDict({ bench_counter: String(value) })),
        }),
      );
      writes = value;
      acknowledged = value;
      if (writesPerSecond !== 'unpaced') {
        const due = started + (value * 1000) / writesPerSecond;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
    }
  };
  const reader = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const floor = acknowledged;
      const before = performance.now();
      const { counter, wire } = await readCounter(pool, path, counters);
      latencies.push(performance.now() - before);
      wireBytes += wire;
      if (counter < floor) stale++;
    }
  };
  await Promise.all([writer(), ...Array.from({ length: options.concurrency }, reader)]);
  const seconds = (performance.now() - started) / 1000;
  const pace = writesPerSecond === 'unpaced' ? 'unpaced writer' : `writer at ${writesPerSecond}/s`;
  return row(
    `getFullComputerInformation c${options.concurrency}, ${pace}`.slice(0, 60),
    latencies.length,
    seconds,
    latencies,
    `  (${writes} writes, ${(latencies.length / Math.max(writes, 1)).toFixed(0)} reads per write; ` +
      `${(sample.size / 1024).toFixed(0)} KiB, ${(wireBytes / Math.max(latencies.length, 1) / 1024).toFixed(0)} KiB gzip'd; stale answers ${stale})`,
  );
}

/** Runs the legacy rows against a fresh proxy-mode master and prints them. */
export async function legacyRows(nodeArgs: string[], options: LegacyOptions): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-legacy-'));
  let server: Server | undefined;
  let pool: Pool | undefined;
  try {
    server = await startProxyMode(join(directory, 'proxy.db'), nodeArgs);
    pool = new Pool(server.url, { connections: options.concurrency + 1, pipelining: 1 });
    process.stdout.write(
      'legacy SLAP API (proxy mode; the original slapproxy: 35–45 full-information reads/s on this machine)\n',
    );
    process.stdout.write(`${await requestsPhase(pool, options)}\n`);
    await prepareReadNode(pool, 'bench-read');
    for (const pace of [20, 'unpaced'] as const)
      process.stdout.write(`${await readsPhase(pool, options, 'bench-read', pace)}\n`);
  } finally {
    await pool?.close();
    await server?.stop();
    await rm(directory, { recursive: true, force: true });
  }
}

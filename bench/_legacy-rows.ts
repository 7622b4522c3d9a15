/**
 * The master benchmark's legacy rows (issue 9): the SLAP XML protocol as SlapOS's own tools speak it,
 * against `slapos proxy start` in a child process, load from undici (keep-alive) in this process.
 *
 * - requests: `requestComputerPartition` form POSTs (marshalled state, parameters and SLA, as
 *   slapos.slap sends them), distinct titles spread over compute nodes of 100 partitions each;
 * - full-information reads: `getFullComputerInformation` of a node whose 100 partitions all hold an
 *   instance, by readers at a concurrency, while one writer keeps publishing a new connection
 *   parameter (`setComputerPartitionConnectionXml`) on one of its partitions, each write awaited
 *   before the next. Every read checks that it shows at least the value of the last write
 *   acknowledged before the read was sent: a cached answer that outlived a change is counted as
 *   stale (the goal is none).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
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
    `legacy ${name.padEnd(28)} ${String(count).padStart(7)} ${(count / seconds).toFixed(0).padStart(9)}/s` +
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

const COUNTER = /<string>bench_counter<\/string><string>(\d+)<\/string>/;

async function readsPhase(pool: Pool, options: LegacyOptions): Promise<string> {
  const computerId = 'bench-read';
  await prepareNode(pool, computerId);
  for (let index = 0; index < PARTITIONS; index++)
    await send(pool, 'POST', '/requestComputerPartition', requestForm(`read-${index}`, computerId));
  const path = `/getFullComputerInformation?computer_id=${computerId}`;
  const sample = await send(pool, 'GET', path);
  let acknowledged = 0;
  let writes = 0;
  let stale = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + options.readSeconds * 1000;
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
    }
  };
  const reader = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const floor = acknowledged;
      const before = performance.now();
      const text = await send(pool, 'GET', path);
      latencies.push(performance.now() - before);
      const seen = Number(COUNTER.exec(text)?.[1] ?? 0);
      if (seen < floor) stale++;
    }
  };
  const started = performance.now();
  await Promise.all([writer(), ...Array.from({ length: options.concurrency }, reader)]);
  const seconds = (performance.now() - started) / 1000;
  return row(
    `getFullComputerInformation c${options.concurrency}`,
    latencies.length,
    seconds,
    latencies,
    `  (${PARTITIONS} busy partitions, ${(sample.length / 1024).toFixed(0)} KiB; ${writes} writes interleaved, ${(writes / seconds).toFixed(0)}/s; stale answers ${stale})`,
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
    process.stdout.write(`${await readsPhase(pool, options)}\n`);
  } finally {
    await pool?.close();
    await server?.stop();
    await rm(directory, { recursive: true, force: true });
  }
}

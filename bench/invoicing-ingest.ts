/**
 * Usage ingestion for billing: `npm run bench -- invoicing-ingest [--movements 300000] [--postgres]`
 * (bench/invoicing.ts calls `measureIngest` too). Issue 15 asks for at least 15,000 journal
 * movements per second.
 *
 * Measured at the service level (`reportComputeNodeUsage`, no HTTP): a proxy-mode master's services
 * on a fresh store, nodes of 100 partitions each holding an instance, each node sending hourly
 * journals (start and stop dates, every partition's CPU time, memory and disk: 300 movements), the
 * nodes in turn; one journal in 20 is sent a second time (a node that did not get the answer), which
 * stores nothing. Each journal is parsed, checked, stored as received, as usage records, as
 * intervals and as billed charges. Only the first sending of each journal counts in the rate.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fixedClock } from '../src/core/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import {
  createMasterServices,
  createServiceContext,
  LOCAL_CALLER,
  proxyModeAuthorizer,
} from '../src/master/services/index.ts';
import { openMasterStore } from '../src/master/storage/open-store.ts';
import type { MasterStore } from '../src/master/storage/repository.ts';
import type { PostgresCluster } from '../src/testing/postgres-cluster.ts';

export interface IngestOptions {
  /** The URI of an empty PostgreSQL database to use (migrated here); else a fresh SQLite file. */
  postgres?: string;
  /** About how many movements to ingest (rounded up to whole journals); default 300,000. */
  movements?: number;
  /** Told the progress (default: printed on stderr). */
  progress?: (line: string) => void;
}

export interface IngestResult {
  /** Over the wall-clock time of the calls. */
  movementsPerSecond: number;
  /**
   * Over this process's CPU time in the calls (user + system; SQLite runs in it, PostgreSQL's server
   * does not): what one free core would do, on a machine whose load distorts the wall clock.
   */
  movementsPerCpuSecond: number;
  /** Journals ingested (first sendings). */
  journals: number;
  movements: number;
  /** Journals sent a second time (not counted above). */
  resent: number;
  store: 'sqlite' | 'postgres';
}

const PARTITIONS = 100;
const RESOURCES = ['service_module/cpu_time', 'service_module/memory_used', 'service_module/disk_used'];
const MOVEMENTS_PER_JOURNAL = PARTITIONS * RESOURCES.length;
const NODES = 4;
const RESEND_EVERY = 20;
const SR = 'https://example.com/software.cfg';
/** 2026-11-01T00:00:00Z: the journals cross a month boundary or two. */
const T0 = Date.UTC(2026, 10, 1) / 1000;

function journalDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/** An hourly journal as a node sends it (usage-xml.ts's shape, with the interval's start). */
function journal(node: string, hour: number): string {
  const start = T0 + hour * 3600;
  const movements: string[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const quantities = [(p * 7 + hour) % 3600, 64 + ((p * 13 + hour) % 2048) + 0.5, 1024 + p * 3.25];
    RESOURCES.forEach((resource, r) =>
      movements.push(
        `    <movement>\n      <resource>${resource}</resource>\n      <title>${resource} for slappart${p}</title>\n` +
          `      <reference>slappart${p}</reference>\n      <quantity>${quantities[r]}</quantity>\n` +
          `      <price>0.0</price>\n      <VAT/>\n      <category/>\n    </movement>`,
      ),
    );
  }
  return (
    `<?xml version='1.0' encoding='utf-8'?>\n<journal>\n  <transaction type="Sale Packing List">\n` +
    `    <title>Resource consumptions</title>\n    <start_date>${journalDate(start)}</start_date>\n` +
    `    <stop_date>${journalDate(start + 3600)}</stop_date>\n    <reference>${node}</reference>\n` +
    `    <currency/>\n    <payment_mode/>\n    <category/>\n` +
    `    <arrow type="Administration">\n      <source/>\n      <destination/>\n    </arrow>\n` +
    `${movements.join('\n')}\n  </transaction>\n</journal>\n`
  );
}

export async function measureIngest(options: IngestOptions = {}): Promise<IngestResult> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const journals = Math.max(1, Math.ceil((options.movements ?? 300_000) / MOVEMENTS_PER_JOURNAL));
  const directory = options.postgres ? undefined : await mkdtemp(join(tmpdir(), 'slapos-bench-ingest-'));
  const store: MasterStore = await openMasterStore(
    options.postgres
      ? { kind: 'postgres', uri: options.postgres }
      : { kind: 'sqlite', path: join(directory ?? '', 'master.db') },
  );
  try {
    const clock = fixedClock(T0);
    const services = createMasterServices(
      createServiceContext({ store, clock, logger: silentLogger(), authorizer: proxyModeAuthorizer }),
    );
    const nodes = Array.from({ length: NODES }, (_, n) => `COMP-${n + 1}`);
    progress(`setting up ${NODES} nodes of ${PARTITIONS} partitions, each holding an instance…`);
    for (const node of nodes) {
      await services.formatComputeNode({
        caller: LOCAL_CALLER,
        format: {
          computeNodeId: node,
          address: null,
          netmask: null,
          partitions: Array.from({ length: PARTITIONS }, (_, p) => ({
            reference: `slappart${p}`,
            addresses: [],
          })),
        },
      });
      await services.supplySoftware({
        caller: LOCAL_CALLER,
        computeNodeId: node,
        url: SR,
        state: 'available',
      });
      for (let p = 0; p < PARTITIONS; p++)
        await services.requestInstance({
          caller: LOCAL_CALLER,
          title: `${node}-tree-${p}`,
          softwareRelease: SR,
          softwareType: '',
          parameters: {},
          shared: false,
          state: 'started',
          sla: { computer_guid: node },
        });
    }
    const hours = Math.ceil(journals / NODES);
    clock.set(T0 + (hours + 1) * 3600);
    progress(`ingesting ${journals} journals of ${MOVEMENTS_PER_JOURNAL} movements…`);
    let sent = 0;
    let resent = 0;
    let spent = 0;
    /** This process's CPU time (ms) in the same calls: the figure a loaded machine distorts least. */
    let cpuSpent = 0;
    for (let hour = 0; sent < journals; hour++)
      for (const node of nodes) {
        if (sent >= journals) break;
        // Built outside the timing: the node's side.
        const usageXml = journal(node, hour);
        const started = performance.now();
        const cpuStarted = process.cpuUsage();
        await services.reportComputeNodeUsage({ caller: LOCAL_CALLER, computeNodeId: node, usageXml });
        spent += performance.now() - started;
        const cpu = process.cpuUsage(cpuStarted);
        cpuSpent += (cpu.user + cpu.system) / 1000;
        sent++;
        if (sent % RESEND_EVERY === 0) {
          await services.reportComputeNodeUsage({ caller: LOCAL_CALLER, computeNodeId: node, usageXml });
          resent++;
        }
        if (sent % 200 === 0)
          progress(
            `  ${sent}/${journals} journals, ${Math.round((sent * MOVEMENTS_PER_JOURNAL) / (spent / 1000))}/s ` +
              `(${Math.round((sent * MOVEMENTS_PER_JOURNAL) / (cpuSpent / 1000))}/CPU-s)`,
          );
      }
    const movements = journals * MOVEMENTS_PER_JOURNAL;
    return {
      movementsPerSecond: Math.round(movements / (spent / 1000)),
      movementsPerCpuSecond: Math.round(movements / (cpuSpent / 1000)),
      journals,
      movements,
      resent,
      store: options.postgres ? 'postgres' : 'sqlite',
    };
  } finally {
    await store.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      movements: { type: 'string', default: '300000' },
      postgres: { type: 'boolean', default: false },
    },
  });
  const movements = Number(values.movements);
  if (!Number.isSafeInteger(movements) || movements < 1) throw new Error('--movements is a positive integer');
  let cluster: PostgresCluster | undefined;
  try {
    let postgres: string | undefined;
    if (values.postgres) {
      const { startPostgresCluster } = await import('../src/testing/postgres-cluster.ts');
      cluster = await startPostgresCluster();
      postgres = await cluster.createDatabase('bench_ingest');
    }
    const result = await measureIngest({ movements, ...(postgres ? { postgres } : {}) });
    process.stdout.write(
      `${result.store}: ${result.journals} journals, ${result.movements} movements (+${result.resent} journals resent): ` +
        `${result.movementsPerSecond} movements/s, ${result.movementsPerCpuSecond} per CPU-second ` +
        `(issue 15: >= 15,000/s; load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} CPUs)\n`,
    );
  } finally {
    await cluster?.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

/**
 * Usage ingestion benchmark: `npm run bench -- usage [--partitions 100] [--journals 200]`.
 *
 * A proxy-mode master's services on a fresh SQLite store, one node of `--partitions` partitions each
 * holding an instance; then `--journals` usage reports as our node sends them (every partition's CPU,
 * memory and disk: 3 movements each), one hourly interval after the other, then one journal of the
 * maximum size (100,000 movements). Prints movements stored per second (issue 15 asks for 15,000),
 * the time of the largest journal (parse, check, store), and of a node's CPU series over all of it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fixedClock } from '../src/core/clock.ts';
import { MAX_USAGE_MOVEMENTS } from '../src/core/usage-journal.ts';
import { silentLogger } from '../src/lib/logger.ts';
import {
  createMasterServices,
  createServiceContext,
  LOCAL_CALLER,
  proxyModeAuthorizer,
} from '../src/master/services/index.ts';
import { openSqliteStore } from '../src/master/storage/sqlite-store.ts';
import { usageJournal, usageMovements } from '../src/node/report/usage-xml.ts';

const { values } = parseArgs({
  options: { partitions: { type: 'string', default: '100' }, journals: { type: 'string', default: '200' } },
  allowPositionals: true,
});
const partitions = Math.max(1, Number(values.partitions));
const journals = Math.max(1, Number(values.journals));
const SR = 'https://example.com/software.cfg';
const T0 = 1_700_000_000;

const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-usage-'));
const store = await openSqliteStore({ path: join(directory, 'master.db') });
try {
  const clock = fixedClock(T0);
  const services = createMasterServices(
    createServiceContext({
      store,
      clock,
      logger: silentLogger(),
      defaultComputeNodeId: 'computer',
      authorizer: proxyModeAuthorizer,
    }),
  );
  const ids = Array.from({ length: partitions }, (_, n) => `slappart${n}`);
  await services.formatComputeNode({
    caller: LOCAL_CALLER,
    format: {
      computeNodeId: 'computer',
      address: null,
      netmask: null,
      partitions: ids.map((reference) => ({ reference, addresses: [] })),
    },
  });
  await services.supplySoftware({
    caller: LOCAL_CALLER,
    computeNodeId: 'computer',
    url: SR,
    state: 'available',
  });
  for (let n = 0; n < partitions; n++)
    await services.requestInstance({
      caller: LOCAL_CALLER,
      title: `tree-${n}`,
      softwareRelease: SR,
      softwareType: '',
      parameters: {},
      shared: false,
      state: 'started',
      sla: {},
    });

  const journal = (stop: number, count: number): string =>
    usageJournal({
      computerId: 'computer',
      now: stop,
      movements: Array.from({ length: count }, (_, i) =>
        usageMovements({
          partitionId: ids[i % partitions] ?? 'slappart0',
          cpuSeconds: i,
          memoryBytes: i * 2 ** 20,
          diskBytes: i * 2 ** 24,
        }),
      ).flat(),
    });
  const texts = Array.from({ length: journals }, (_, j) => journal(T0 + 3600 * (j + 1), partitions));
  clock.set(T0 + 3600 * (journals + 1));
  const started = performance.now();
  for (const usageXml of texts)
    await services.reportComputeNodeUsage({ caller: LOCAL_CALLER, computeNodeId: 'computer', usageXml });
  const seconds = (performance.now() - started) / 1000;
  const movements = journals * partitions * 3;
  console.log(
    `${journals} journals of ${partitions * 3} movements: ${Math.round(movements / seconds)} movements/s ` +
      `(${(seconds * 1000).toFixed(0)} ms)`,
  );

  // The largest journal: distinct (partition, resource) per movement need distinct resources here.
  const big = usageJournal({
    computerId: 'computer',
    now: T0 + 3600 * (journals + 1),
    movements: Array.from({ length: MAX_USAGE_MOVEMENTS }, (_, i) => ({
      resource: `resource-${Math.floor(i / partitions)}`,
      reference: ids[i % partitions] ?? 'slappart0',
      quantity: 1,
      price: 0,
      VAT: '',
      category: [],
    })),
  });
  const bigStarted = performance.now();
  await services.reportComputeNodeUsage({ caller: LOCAL_CALLER, computeNodeId: 'computer', usageXml: big });
  const bigMs = performance.now() - bigStarted;
  console.log(
    `one journal of ${MAX_USAGE_MOVEMENTS} movements (${(big.length / 2 ** 20).toFixed(1)} MiB): ` +
      `${bigMs.toFixed(0)} ms (${Math.round(MAX_USAGE_MOVEMENTS / (bigMs / 1000))} movements/s)`,
  );

  const seriesStarted = performance.now();
  const [series] = await services.readUsageSeries({
    caller: LOCAL_CALLER,
    computeNodeId: 'computer',
    resources: ['service_module/cpu_time'],
    from: 0,
    to: T0 + 3600 * (journals + 2),
  });
  console.log(
    `node CPU series (${series?.points.length ?? 0} points over ${partitions} partitions): ` +
      `${(performance.now() - seriesStarted).toFixed(1)} ms`,
  );
} finally {
  await store.close();
  await rm(directory, { recursive: true, force: true });
}

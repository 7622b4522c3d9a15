/**
 * What a `/metrics` scrape of the master costs (docs/panel.md "Metrics"): a proxy-mode master on a
 * SQLite file with `--instances` instances (started and stopped, spread over 10 compute nodes that
 * have each called once), scraped `--scrapes` times over HTTP on 127.0.0.1, one at a time; prints
 * the scrape's median and p95 wall time and the size of its answer.
 *
 *   npm run bench -- metrics [--instances 1000] [--scrapes 50]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startMaster } from '../src/master/server.ts';
import { LOCAL_CALLER } from '../src/master/services/index.ts';

const { values } = parseArgs({
  options: { instances: { type: 'string', default: '1000' }, scrapes: { type: 'string', default: '50' } },
});
const instances = Number(values.instances);
const scrapes = Number(values.scrapes);
const NODES = 10;
const SR = 'https://lab.example.com/software/hello/software.cfg';

const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-metrics-'));
const master = await startMaster({
  port: 0,
  database: { kind: 'sqlite', path: join(directory, 'master.db') },
});
try {
  const { services } = master;
  const perNode = Math.ceil(instances / NODES);
  for (let n = 0; n < NODES; n++) {
    await services.formatComputeNode({
      caller: LOCAL_CALLER,
      format: {
        computeNodeId: `COMP-${n}`,
        address: null,
        netmask: null,
        partitions: Array.from({ length: perNode }, (_, p) => ({ reference: `slappart${p}`, addresses: [] })),
      },
    });
    await services.supplySoftware({
      caller: LOCAL_CALLER,
      computeNodeId: `COMP-${n}`,
      url: SR,
      state: 'available',
    });
    await services.readNodeSnapshot({ caller: LOCAL_CALLER, computeNodeId: `COMP-${n}` });
  }
  for (let i = 0; i < instances; i++)
    await services.requestInstance({
      caller: LOCAL_CALLER,
      title: `instance ${i}`,
      softwareRelease: SR,
      softwareType: 'default',
      parameters: {},
      shared: false,
      state: i % 3 === 0 ? 'stopped' : 'started',
      sla: { computer_guid: `COMP-${i % NODES}` },
    });
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < scrapes + 5; i++) {
    const started = performance.now();
    const response = await fetch(`${master.url}/metrics`);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`scrape answered ${response.status}`);
    if (i >= 5) times.push(performance.now() - started); // the first ones warm up
    bytes = Buffer.byteLength(text);
  }
  times.sort((a, b) => a - b);
  const at = (q: number): string =>
    (times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0).toFixed(2);
  process.stdout.write(
    `metrics scrape, ${instances} instances on ${NODES} nodes, ${scrapes} scrapes: ` +
      `median ${at(0.5)} ms, p95 ${at(0.95)} ms, ${bytes} bytes\n`,
  );
} finally {
  await master.close();
  await rm(directory, { recursive: true, force: true });
}

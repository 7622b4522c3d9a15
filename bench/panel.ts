/**
 * The panel's server-side cost and liveness, on a real master (proxy mode with a local token, SQLite):
 * - the services page of a user with `--trees` instance trees (default 1,000; first page, a filter,
 *   a search), each tree page, and the page of a compute node with `--node-partitions` busy
 *   partitions (default 200): latency of the whole HTTP request on loopback (an upper bound of the
 *   server's render time), p50/p99 over distinct requests (nothing cached by the panel);
 * - the weight of each page (bytes, without images);
 * - how long a change takes to reach an open page: a write through the API, the page's change
 *   stream (/panel/events) hears it, and the page is fetched again (what panel.js does); with
 *   `--browser`, also in Debian's chromium: from the write to the new value shown in the open page.
 *
 *   npm run bench -- panel [--trees 1000] [--node-partitions 200] [--rounds 200] [--changes 30] [--browser]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { startMaster } from '../src/master/server.ts';
import { PanelClient } from '../src/testing/panel.ts';

const { values } = parseArgs({
  options: {
    trees: { type: 'string', default: '1000' },
    'node-partitions': { type: 'string', default: '200' },
    rounds: { type: 'string', default: '200' },
    changes: { type: 'string', default: '30' },
    browser: { type: 'boolean', default: false },
  },
});
const trees = Number(values.trees);
const nodePartitions = Number(values['node-partitions']);
const rounds = Number(values.rounds);
const changes = Number(values.changes);
const TOKEN = 'panel-bench-token-0123456789abcdefghijklmnop';
const RELEASE = 'https://example.invalid/software/hello/software.cfg';

const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-panel-'));
const master = await startMaster({
  host: '127.0.0.1',
  port: 0,
  database: { kind: 'sqlite', path: join(directory, 'master.db') },
  computerId: 'COMP-BIG',
  accessToken: TOKEN,
});
const auth = { authorization: `Bearer ${TOKEN}` };

async function api(path: string, body: unknown): Promise<void> {
  const response = await request(`${master.url}${path}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${text}`);
}

function partitions(count: number): unknown[] {
  return Array.from({ length: count }, (_, index) => ({
    partition_id: `slappart${index}`,
    ip_list: [{ 'ip-address': '10.0.0.1', 'network-interface': 'tap0' }],
  }));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms (${samples.length} requests)`;
}

try {
  process.stdout.write(
    `setting up: ${trees} instance trees, a node with ${nodePartitions} busy partitions…\n`,
  );
  await api('/slapos.put.v0.compute_node_format', {
    computer_guid: 'COMP-BIG',
    compute_partition_list: partitions(trees),
  });
  await api('/slapos.put.v0.compute_node_format', {
    computer_guid: 'COMP-NODE',
    compute_partition_list: partitions(nodePartitions),
  });
  for (let index = 0; index < trees; index++) {
    await api('/slapos.post.v0.software_instance', {
      title: `service ${index}`,
      software_release_uri: RELEASE,
      software_type: 'default',
      parameters: { name: `visitor ${index}` },
      sla_parameters: { computer_guid: index < nodePartitions ? 'COMP-NODE' : 'COMP-BIG' },
    });
  }

  const panel = new PanelClient(master.url);
  await panel.signIn(TOKEN);
  const pages: { name: string; paths: (round: number) => string }[] = [
    { name: 'services (first page)', paths: () => '/panel/services' },
    {
      name: 'services (a status, pages 1-3)',
      paths: (round) => `/panel/services?status=waiting-software&page=${1 + (round % 3)}`,
    },
    { name: 'services (search)', paths: (round) => `/panel/services?q=service+${round % trees}` },
    {
      name: 'an instance tree',
      paths: (round) => `/panel/services/${encodeURIComponent(`service ${round % trees}`)}`,
    },
    { name: `a node of ${nodePartitions} partitions`, paths: () => '/panel/nodes/COMP-NODE' },
  ];
  for (const { name, paths } of pages) {
    const first = await panel.get(paths(0));
    if (first.status === 200 && !first.html.includes('<main')) throw new Error(`${paths(0)}: no page`);
    if (first.status !== 200) {
      process.stdout.write(`${name.padEnd(32)} answered ${first.status}: not measured\n`);
      continue;
    }
    for (let round = 0; round < 20; round++) await panel.get(paths(round)); // warm-up
    const samples: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      const answer = await panel.get(paths(round));
      samples.push(performance.now() - started);
      if (answer.status !== 200) throw new Error(`${paths(round)} answered ${answer.status}`);
    }
    const bytes = Buffer.byteLength(first.html);
    process.stdout.write(`${name.padEnd(32)} ${summary(samples)}; ${(bytes / 1024).toFixed(1)} kB\n`);
  }

  // A change reaching an open page: write, hear the event, fetch the page again.
  const cookie = panel.sessionCookie ?? '';
  const stream = await request(`${master.url}/panel/events`, { headers: { cookie } });
  const events: (() => void)[] = [];
  void (async () => {
    for await (const chunk of stream.body) if (String(chunk).includes('event: change')) events.shift()?.();
  })().catch(() => undefined);
  const latencies: number[] = [];
  for (let round = 0; round < changes; round++) {
    const heard = new Promise<void>((resolve) => events.push(resolve));
    const started = performance.now();
    await api('/slapos.post.v0.software_instance', {
      title: `service ${round % trees}`,
      software_release_uri: RELEASE,
      software_type: 'default',
      parameters: { name: `changed ${round}` },
      sla_parameters: {},
    });
    await heard;
    await panel.get(`/panel/services/${encodeURIComponent(`service ${round % trees}`)}`);
    latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 60));
  }
  process.stdout.write(
    `${'change → open page refreshed'.padEnd(32)} ${summary(latencies)} (write, event, refetch)\n`,
  );
  stream.body.destroy();

  if (values.browser) {
    const { launchTestBrowser, signIn, waitForLiveStream } = await import('../src/testing/browser.ts');
    const browser = await launchTestBrowser();
    try {
      const page = await browser.newPage();
      await signIn(page, master.url, TOKEN, `/panel/services/${encodeURIComponent('service 0')}`);
      await waitForLiveStream(page);
      const shown: number[] = [];
      for (let round = 0; round < changes; round++) {
        const text = `shown in the browser ${round}`;
        const started = performance.now();
        await api('/slapos.post.v0.software_instance', {
          title: 'service 0',
          software_release_uri: RELEASE,
          software_type: 'default',
          parameters: { name: text },
          sla_parameters: {},
        });
        await page.getByText(text, { exact: true }).first().waitFor({ state: 'attached' });
        shown.push(performance.now() - started);
      }
      process.stdout.write(`${'change → shown in chromium'.padEnd(32)} ${summary(shown)}\n`);
    } finally {
      await browser.close();
    }
  }
  await panel.close();
} finally {
  await master.close();
  await rm(directory, { recursive: true, force: true });
}

/**
 * Convergence benchmark: `npm run bench -- converge [--requests 20] [--partitions 100] [--burst 50]
 * [--burst-partitions 60] [--only requests|burst|idle]` (build first: the standalone runs the
 * compiled `slapos`).
 *
 * 1. Request → URL answering: a standalone SlapOS (real master, supervisor and node agent processes,
 *    `slapos standalone start`), examples/hello already built; N times: request an instance with a
 *    new name, time until its published URL answers "Hello <name>!", destroy it. Prints p50 and p99
 *    (the original waits for its one-minute cron).
 * 2. A node pass with nothing changed over M deployed partitions (each with a service and a
 *    promise), in process: the instance pass reading the node's state from the change stream's
 *    snapshot (one call) and from the JSON API v0 (2 + M calls); time and processes spawned.
 * 3. Idle memory (VmRSS) of the standalone's agent and supervisor.
 * 4. A burst: a standalone with 60 partitions and examples/hello built; 50 instances requested at
 *    once; time from the requests until each one's URL answers its greeting: all, p50, p99.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request as httpRequest } from 'undici';
import type { ExecFunction } from '../src/buildout/recipe.ts';
import type { MasterClient } from '../src/client/master-client.ts';
import { startBenchStandalone } from './_standalone.ts';
import { execFile } from '../src/lib/exec.ts';
import { SnapshotStateSource } from '../src/node/agent/snapshot-source.ts';
import { runInstancePass } from '../src/node/instance/instance-pass.ts';
import { runSoftwarePass } from '../src/node/software/software-pass.ts';
import { JsonApiStateSource } from '../src/node/state-source.ts';
import { helloSoftwareUrl } from '../src/standalone/demo.ts';
import { COMPUTER_ID, startNodeHarness, writeSoftwareRelease } from '../src/testing/node-passes.ts';
import { runSlaposProcess, shortTempDir } from '../src/testing/standalone.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20' },
    partitions: { type: 'string', default: '100' },
    burst: { type: 'string', default: '50' },
    'burst-partitions': { type: 'string', default: '60' },
    only: { type: 'string' },
  },
});
const REQUESTS = Number(values.requests);
const PARTITIONS = Number(values.partitions);
const BURST = Number(values.burst);
const BURST_PARTITIONS = Number(values['burst-partitions']);
const ROWS = ['requests', 'burst', 'idle'] as const;
if (values.only !== undefined && !(ROWS as readonly string[]).includes(values.only)) {
  process.stderr.write(`bench/converge: --only takes one of ${ROWS.join(', ')}\n`);
  process.exit(5);
}
const runs = (row: (typeof ROWS)[number]): boolean => values.only === undefined || values.only === row;
if (!existsSync(new URL('../dist/src/cli/main.js', import.meta.url))) {
  process.stderr.write('bench/converge: the CLI is not built: run `npm run build` first\n');
  process.exit(1);
}

const ms = (value: number): string => `${value.toFixed(0)} ms`;
const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;

function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
}

async function answers(url: string, expected: string): Promise<boolean> {
  try {
    const response = await httpRequest(url, { signal: AbortSignal.timeout(1000) });
    return response.statusCode === 200 && (await response.body.text()).trim() === expected;
  } catch {
    return false;
  }
}

/**
 * Polls until the instance's URL answers its greeting; returns the URL. The master is asked every
 * `publishedEveryMs` until the URL and name are published, then only the URL every `answerEveryMs`.
 */
async function untilAnswering(
  client: MasterClient,
  guid: string,
  name: string,
  every: { publishedEveryMs: number; answerEveryMs: number } = { publishedEveryMs: 5, answerEveryMs: 5 },
): Promise<string> {
  const deadline = Date.now() + 120_000;
  const expected = `Hello ${name}!`;
  const inTime = async (delayMs: number): Promise<void> => {
    if (Date.now() > deadline) throw new Error(`${guid} did not answer in time`);
    await sleep(delayMs);
  };
  let url: string | undefined;
  for (;;) {
    const published = (await client.getInstance(guid)).connection_parameters;
    if (typeof published.url === 'string' && published.name === expected) {
      url = published.url;
      break;
    }
    await inTime(every.publishedEveryMs);
  }
  while (!(await answers(url, expected))) await inTime(every.answerEveryMs);
  return url;
}

async function untilFreed(client: MasterClient, computer: string, title: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while ((await client.listComputeNodeInstances(computer)).some((item) => item.title === title)) {
    if (Date.now() > deadline) throw new Error(`${title} was not destroyed in time`);
    await sleep(20);
  }
}

async function convergence(): Promise<string[]> {
  const dir = await shortTempDir('bench-sa-');
  const lines: string[] = [];
  try {
    const { info, client } = await startBenchStandalone(dir, 3);
    try {
      const software = await warmUp(client, info.computer_guid);

      const samples: number[] = [];
      for (let index = 0; index < REQUESTS; index++) {
        const title = `bench-${index}`;
        const name = `N${index}`;
        const start = performance.now();
        await client.requestInstance({ title, softwareReleaseUri: software, parameters: { name } });
        await untilAnswering(client, `${title}______0`, name);
        samples.push(performance.now() - start);
        await client.requestInstance({ title, softwareReleaseUri: software, state: 'destroyed' });
        await untilFreed(client, info.computer_guid, title);
      }
      lines.push(
        `request → URL answering (examples/hello, software built, ${REQUESTS} requests, real processes):`,
        `  p50 ${ms(quantile(samples, 0.5))}, p99 ${ms(quantile(samples, 0.99))}, min ${ms(Math.min(...samples))}, max ${ms(Math.max(...samples))}`,
      );

      // Idle memory, with one instance deployed and nothing to do.
      await client.requestInstance({
        title: 'idle',
        softwareReleaseUri: software,
        parameters: { name: 'Idle' },
      });
      await untilAnswering(client, 'idle______0', 'Idle');
      await sleep(15_000);
      lines.push(
        `idle memory (VmRSS, one instance deployed): agent ${mb(await rssKb(info.pids.agent))}, supervisor ${mb(await rssKb(info.pids.supervisor))}`,
      );
    } finally {
      await client.close();
    }
  } finally {
    await runSlaposProcess(['standalone', 'stop', '--dir', dir], { timeoutMs: 120_000 });
    await rm(dir, { recursive: true, force: true });
  }
  return lines;
}

/** A service (sleep) and a file promise per partition: cheap enough to deploy 100 of them. */
const SLEEPER = `[buildout]
parts = service promise

[service]
recipe = slapos.recipe.template
output = $\${buildout:directory}/etc/service/sleeper
mode = 0755
inline =
  #!/bin/sh
  exec sleep 100000

[promise]
recipe = slapos.recipe.template
output = $\${buildout:directory}/etc/promise.d/ready.json
inline = {"kind": "file", "path": "etc/service/sleeper"}
`;

async function idlePass(): Promise<string[]> {
  const h = await startNodeHarness({ partitions: PARTITIONS });
  try {
    const url = await writeSoftwareRelease(h.dir, 'sleeper', { instance: SLEEPER });
    await mkdir(h.config.softwareRoot, { recursive: true });
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    await runSoftwarePass(h.config, { master: h.client });
    for (let index = 0; index < PARTITIONS; index++)
      await h.client.requestInstance({ title: `sleeper-${index}`, softwareReleaseUri: url });
    const snapshot = new SnapshotStateSource(h.client, COMPUTER_ID);
    const deployed = await runInstancePass(h.config, {
      master: h.client,
      supervisor: h.supervisor,
      source: snapshot,
      concurrency: 8,
    });
    const started = deployed.items.filter((item) => item.outcome === 'started').length;
    if (started !== PARTITIONS) throw new Error(`deployed ${started} of ${PARTITIONS} partitions`);

    const lines = [`node pass with nothing changed, ${PARTITIONS} deployed partitions (in process):`];
    for (const [label, source] of [
      ['change-stream snapshot (1 call)', snapshot],
      [`JSON API v0 (${PARTITIONS + 2} calls)`, new JsonApiStateSource(h.client, COMPUTER_ID)],
    ] as const) {
      const times: number[] = [];
      let spawned = 0;
      const exec: ExecFunction = (file, args, options) => {
        spawned++;
        return execFile(file, args, options);
      };
      // Each source has its own markers: a first pass records them (not timed).
      await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor, source, concurrency: 8 });
      for (let round = 0; round < 5; round++) {
        const start = performance.now();
        const result = await runInstancePass(h.config, {
          master: h.client,
          supervisor: h.supervisor,
          source,
          exec,
        });
        times.push(performance.now() - start);
        if (result.items.some((item) => item.outcome !== 'up-to-date'))
          throw new Error(`a partition was processed again: ${JSON.stringify(result.items[0])}`);
      }
      lines.push(
        `  ${label}: median ${ms(quantile(times, 0.5))}, max ${ms(Math.max(...times))} (5 passes), ${spawned} processes spawned`,
      );
    }
    return lines;
  } finally {
    await h.close();
  }
}

/** Builds examples/hello in the standalone (not measured): one instance deployed, then destroyed. */
async function warmUp(client: MasterClient, computerGuid: string): Promise<string> {
  const software = helloSoftwareUrl();
  await client.supply({ softwareReleaseUri: software, computerGuid });
  await client.requestInstance({
    title: 'warm-up',
    softwareReleaseUri: software,
    parameters: { name: 'Warm' },
  });
  await untilAnswering(client, 'warm-up______0', 'Warm');
  await client.requestInstance({ title: 'warm-up', softwareReleaseUri: software, state: 'destroyed' });
  await untilFreed(client, computerGuid, 'warm-up');
  return software;
}

/**
 * BURST instances requested at once on a standalone of BURST_PARTITIONS partitions; each is timed
 * from the moment the requests are sent until its URL answers. Each waiter asks the master every
 * 100 ms until its URL is published, then tries the URL every 20 ms (50 waiters asking the master
 * every 5 ms would take the cores the node needs).
 */
async function burst(): Promise<string[]> {
  const dir = await shortTempDir('bench-burst-');
  try {
    const { info, client } = await startBenchStandalone(dir, BURST_PARTITIONS);
    try {
      const software = await warmUp(client, info.computer_guid);
      const start = performance.now();
      const samples = await Promise.all(
        Array.from({ length: BURST }, async (_, index) => {
          const title = `burst-${index}`;
          const name = `B${index}`;
          await client.requestInstance({ title, softwareReleaseUri: software, parameters: { name } });
          await untilAnswering(client, `${title}______0`, name, {
            publishedEveryMs: 100,
            answerEveryMs: 20,
          });
          return performance.now() - start;
        }),
      );
      return [
        `burst: ${BURST} instances requested at once (examples/hello built, ${BURST_PARTITIONS} partitions, real processes):`,
        `  all answering after ${ms(Math.max(...samples))}, p50 ${ms(quantile(samples, 0.5))}, p99 ${ms(quantile(samples, 0.99))}, first ${ms(Math.min(...samples))}`,
      ];
    } finally {
      await client.close();
    }
  } finally {
    await runSlaposProcess(['standalone', 'stop', '--dir', dir], { timeoutMs: 120_000 });
    await rm(dir, { recursive: true, force: true });
  }
}

const report: string[] = [];
if (runs('requests')) report.push(...(await convergence()));
if (runs('burst')) report.push(...(await burst()));
if (runs('idle')) report.push(...(await idlePass()));
process.stdout.write(`${report.join('\n')}\n`);

/**
 * Figures for the node's passes over many deployed partitions where nothing changed (goal: a
 * `node instance` pass over 100 partitions under 300 ms, zero processes spawned). Run:
 *   npx tsc -p tsconfig.build.json && node dist/bench/node-pass.js [partitions] [passes]
 * Sets up a real master on 127.0.0.1, the real supervisor daemon, N partitions each running a
 * service and having a promise, then times no-op `node instance` and `node software` passes.
 * Processes are counted by wrapping node:child_process (every spawn of this process goes through it).
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { performance } from 'node:perf_hooks';
import { runInstancePass } from '../src/node/instance/instance-pass.ts';
import { runSoftwarePass } from '../src/node/software/software-pass.ts';
import { COMPUTER_ID, startNodeHarness, writeSoftwareRelease } from '../src/testing/node-passes.ts';

const PARTITIONS = Number(process.argv[2] ?? 100);
const PASSES = Number(process.argv[3] ?? 10);

let spawned = 0;
for (const name of ['spawn', 'execFile', 'exec', 'fork', 'spawnSync', 'execFileSync', 'execSync'] as const) {
  const original = childProcess[name] as (...args: unknown[]) => unknown;
  (childProcess as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
    spawned += 1;
    return original.apply(childProcess, args);
  };
}
syncBuiltinESMExports();

const INSTANCE = [
  '[buildout]',
  'parts = service promise',
  '',
  '[service]',
  'recipe = slapos.recipe.template',
  'output = $${buildout:directory}/etc/service/sleeper',
  'mode = 0755',
  'inline =',
  '  #!/bin/sh',
  '  exec /bin/sleep 100000',
  '',
  '[promise]',
  'recipe = slapos.recipe.template',
  'output = $${buildout:directory}/etc/promise.d/profile.json',
  'inline = {"kind": "file", "path": "buildout.cfg"}',
  '',
].join('\n');

function stats(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `min ${at(0).toFixed(0)} ms, median ${at(0.5).toFixed(0)} ms, max ${at(1).toFixed(0)} ms`;
}

const h = await startNodeHarness({ partitions: PARTITIONS });
try {
  const url = await writeSoftwareRelease(h.dir, 'bench', { instance: INSTANCE });
  await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
  await runSoftwarePass(h.config, { master: h.client });
  for (let i = 0; i < PARTITIONS; i += 1)
    await h.client.requestInstance({ title: `bench-${i}`, softwareReleaseUri: url });
  const options = { master: h.client, supervisor: h.supervisor };

  let start = performance.now();
  const first = await runInstancePass(h.config, options);
  const deployMs = performance.now() - start;
  const started = first.items.filter((i) => i.outcome === 'started').length;
  if (started !== PARTITIONS) throw new Error(`only ${started} of ${PARTITIONS} partitions started`);
  console.log(
    `node instance, first pass: ${PARTITIONS} partitions deployed and started in ${deployMs.toFixed(0)} ms`,
  );

  // The first no-op pass warms the caches (JIT, file system); then measure.
  await runInstancePass(h.config, options);
  const durations: number[] = [];
  spawned = 0;
  for (let i = 0; i < PASSES; i += 1) {
    start = performance.now();
    const result = await runInstancePass(h.config, options);
    durations.push(performance.now() - start);
    const upToDate = result.items.filter((item) => item.outcome === 'up-to-date').length;
    if (upToDate !== PARTITIONS) throw new Error(`pass ${i}: ${upToDate} of ${PARTITIONS} up to date`);
  }
  console.log(
    `node instance, nothing changed, ${PARTITIONS} partitions, ${PASSES} passes: ${stats(durations)}; ` +
      `${spawned} processes spawned`,
  );

  const softwareDurations: number[] = [];
  spawned = 0;
  for (let i = 0; i < PASSES; i += 1) {
    start = performance.now();
    await runSoftwarePass(h.config, { master: h.client });
    softwareDurations.push(performance.now() - start);
  }
  console.log(`node software, nothing changed: ${stats(softwareDurations)}; ${spawned} processes spawned`);
} finally {
  await h.close();
}

/**
 * Instance profile benchmark: `npm run bench -- hello [--runs 20]`. Deploys `examples/hello` in a
 * temporary partition against a real master (127.0.0.1, SQLite), as e2e/hello-example.test.ts does,
 * and times:
 * 1. the software release run (`slapos buildout` of software.cfg: copy + Jinja2 rendering);
 * 2. the first instance run (slapconfiguration, mkdirectory, free_port, wrapper, promise, publish:
 *    two master calls to read the partition, one to publish);
 * 3. re-runs where nothing changed (one master round trip per run, no process, no file written).
 *    Goal: under 100 ms.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runBuildout } from '../src/buildout/index.ts';
import type { ExecFunction } from '../src/buildout/recipe.ts';
import { execFile } from '../src/lib/exec.ts';
import { startMasterWithNode } from '../src/testing/master-with-node.ts';
import { preparePartition } from '../src/testing/slapgrid.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' } },
  allowPositionals: true,
});
const runs = Math.max(1, Number(values.runs));
const example = fileURLToPath(new URL('../examples/hello/', import.meta.url));

const ms = (value: number): string => `${value.toFixed(1)} ms`;
async function time(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await action();
  return performance.now() - started;
}

const root = await mkdtemp(join(tmpdir(), 'slapos-bench-hello-'));
const env = await startMasterWithNode({ computerGuid: 'computer', partitions: 1 });
let spawned = 0;
const exec: ExecFunction = (file, args, options) => {
  spawned++;
  return execFile(file, args, options);
};
try {
  const softwareUrl = join(example, 'software.cfg');
  const softwareDir = join(root, 'opt', createHash('md5').update(softwareUrl).digest('hex'));
  await mkdir(softwareDir, { recursive: true });
  await writeFile(join(softwareDir, 'buildout.cfg'), `[buildout]\nextends = ${softwareUrl}\n`);
  const software = await time(() =>
    runBuildout({
      configFile: join(softwareDir, 'buildout.cfg'),
      newest: false,
      assignments: [`node:executable=${process.execPath}`],
      exec,
    }),
  );
  const instance = await env.client.requestInstance({ title: 'hello', softwareReleaseUri: softwareUrl });
  const profile = await preparePartition({
    partitionDir: join(root, 'srv', instance.compute_partition_id),
    softwareDir,
    computerId: 'computer',
    partitionId: instance.compute_partition_id,
    serverUrl: env.url,
    softwareReleaseUrl: softwareUrl,
  });
  const first = await time(() => runBuildout({ configFile: profile, exec }));
  const again: number[] = [];
  for (let i = 0; i < runs; i++) again.push(await time(() => runBuildout({ configFile: profile, exec })));
  again.sort((a, b) => a - b);
  const median = again[Math.floor(again.length / 2)] ?? NaN;
  const p95 = again[Math.min(again.length - 1, Math.floor(0.95 * again.length))] ?? NaN;
  process.stdout.write(
    [
      `software release run:        ${ms(software)}`,
      `first instance run:          ${ms(first)}`,
      `instance re-run, no change:  median ${ms(median)}, p95 ${ms(p95)} (${runs} runs)`,
      `processes spawned:           ${spawned}`,
      '',
    ].join('\n'),
  );
} finally {
  await env.close();
  await rm(root, { recursive: true, force: true });
}

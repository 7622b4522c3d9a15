/**
 * The software release developer's loop: `npm run bench -- dev-loop [--edits 10]` (build first: the
 * standalone runs the compiled `slapos`).
 *
 * A standalone SlapOS (real processes), a copy of examples/hello in a temporary directory (its
 * instance profile's md5sum left out, as docs/developing-software-releases.md says) supplied by its
 * local path and requested once. Then N times: an edit of the instance profile (the default name),
 * timed until the instance's URL answers with the new name, without any command (the agent's
 * `watch_local_software`: rebuild, then redeploy). Prints p50 and max; then the time of `slapos node
 * software --force --only-sr URL` and `slapos node instance --force` run while the agent runs (the
 * agent does them through its control channel).
 */
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request as httpRequest } from 'undici';
import { startBenchStandalone } from './_standalone.ts';
import { helloSoftwareUrl } from '../src/standalone/demo.ts';
import { standaloneLayout } from '../src/standalone/layout.ts';
import { runSlaposProcess, shortTempDir } from '../src/testing/standalone.ts';

const { values } = parseArgs({ options: { edits: { type: 'string', default: '10' } } });
const EDITS = Number(values.edits);
if (!existsSync(new URL('../dist/src/cli/main.js', import.meta.url))) {
  process.stderr.write('bench/dev-loop: the CLI is not built: run `npm run build` first\n');
  process.exit(1);
}

const ms = (value: number): string => `${value.toFixed(0)} ms`;

function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

async function untilAnswering(url: string, expected: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const response = await httpRequest(url, { signal: AbortSignal.timeout(1000) });
      if (response.statusCode === 200 && (await response.body.text()).trim() === expected) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${expected} in time`);
    await sleep(5);
  }
}

async function timed(what: string, args: string[]): Promise<string> {
  const start = performance.now();
  const run = await runSlaposProcess(args, { timeoutMs: 120_000 });
  if (run.exitCode !== 0) throw new Error(`${what} failed: ${run.stderr}`);
  return `  ${what}: ${ms(performance.now() - start)} (a whole \`slapos\` process)`;
}

const dir = await shortTempDir('bench-dev-');
const release = await mkdtemp(join(tmpdir(), 'bench-release-'));
const lines: string[] = [];
try {
  await cp(dirname(helloSoftwareUrl()), release, { recursive: true });
  const hashes = join(release, 'buildout.hash.cfg');
  await writeFile(
    hashes,
    (await readFile(hashes, 'utf8')).replace(/(\[instance-profile\]\nfilename = .*\n)md5sum = .*\n/, '$1'),
  );
  const software = join(release, 'software.cfg');
  const profile = join(release, 'instance.cfg.in');
  const original = await readFile(profile, 'utf8');
  const { info, client } = await startBenchStandalone(dir, 2);
  const cfg = ['--cfg', standaloneLayout(dir).config];
  try {
    await client.supply({ softwareReleaseUri: software, computerGuid: info.computer_guid });
    const instance = await client.requestInstance({ title: 'dev', softwareReleaseUri: software });
    let url: string | undefined;
    const deadline = Date.now() + 120_000;
    while (url === undefined) {
      const value = (await client.getInstance(instance.instance_guid)).connection_parameters.url;
      if (typeof value === 'string') url = value;
      else if (Date.now() > deadline) throw new Error('the instance did not publish its URL');
      else await sleep(20);
    }
    await untilAnswering(url, 'Hello World!');

    const samples: number[] = [];
    for (let index = 0; index < EDITS; index++) {
      const name = `Edit${index}`;
      const start = performance.now();
      await writeFile(
        profile,
        original.replace('configuration.name = World', `configuration.name = ${name}`),
      );
      await untilAnswering(url, `Hello ${name}!`);
      samples.push(performance.now() - start);
    }
    lines.push(
      `edit of the instance profile → new content served (examples/hello copy, ${EDITS} edits, real processes):`,
      `  p50 ${ms(quantile(samples, 0.5))}, max ${ms(Math.max(...samples))}, min ${ms(Math.min(...samples))}`,
      'node commands while the agent runs (through its control channel):',
      await timed('slapos node software --force --only-sr URL', [
        'node',
        'software',
        '--force',
        '--only-sr',
        software,
        '--now',
        ...cfg,
      ]),
      await timed('slapos node instance --force', ['node', 'instance', '--force', '--now', ...cfg]),
    );
  } finally {
    await client.close();
  }
} finally {
  await runSlaposProcess(['standalone', 'stop', '--dir', dir], { timeoutMs: 120_000 });
  await rm(dir, { recursive: true, force: true });
  await rm(release, { recursive: true, force: true });
}
process.stdout.write(`${lines.join('\n')}\n`);

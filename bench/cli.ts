/**
 * Start-up cost of the `slapos` command, as a user feels it: wall time (from spawn to exit) and peak
 * memory (max RSS) of `--help`, `service list` and `request`, each run as a fresh process of the
 * compiled CLI against a master on 127.0.0.1 (temporary SQLite, a formatted node, 10 services).
 * The CPU time (user + system) is printed too: wall time depends on what else the machine runs.
 *
 * Run: `npm run bench -- cli [runs]` (default 15 runs per command; build first: `npm run build`).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isolatedClientEnv } from '../src/testing/client-env.ts';
import { startMasterWithNode } from '../src/testing/master-with-node.ts';

const runs = Number(process.argv[2] ?? 15);
const bin = fileURLToPath(new URL('../bin/slapos.js', import.meta.url));
const SOFTWARE = 'https://example.com/software.cfg';

/** Preloaded in the measured process: its own max RSS and CPU time, written at exit. */
const PRELOAD = `
import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  const usage = process.resourceUsage();
  writeFileSync(process.env.BENCH_USAGE_FILE, JSON.stringify({
    maxRssKb: usage.maxRSS,
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
  }));
});
`;

interface Sample {
  wallMs: number;
  maxRssKb: number;
  cpuMs: number;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function runOnce(args: readonly string[], directory: string, env: NodeJS.ProcessEnv): Promise<Sample> {
  const usageFile = join(directory, 'usage.json');
  await rm(usageFile, { force: true });
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', join(directory, 'preload.mjs'), bin, ...args], {
    env: { ...env, BENCH_USAGE_FILE: usageFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`slapos ${args.join(' ')} exited with ${code}: ${stderr}`);
  const usage = JSON.parse(await readFile(usageFile, 'utf8')) as { maxRssKb: number; cpuMs: number };
  return { wallMs, ...usage };
}

const directory = await mkdtemp(join(tmpdir(), 'slapos-bench-cli-'));
await writeFile(join(directory, 'preload.mjs'), PRELOAD);
const master = await startMasterWithNode({ computerGuid: 'COMP-BENCH', partitions: 20 });
try {
  for (let i = 0; i < 10; i++)
    await master.client.requestInstance({
      title: `service-${i}`,
      softwareReleaseUri: SOFTWARE,
      slaParameters: { computer_guid: 'COMP-BENCH' },
    });
  const env = isolatedClientEnv({ HOME: directory });
  const cases: [string, string[]][] = [
    ['--help', ['--help']],
    ['service list', ['service', 'list', '--master-url', master.url]],
    [
      'request',
      ['request', 'service-0', SOFTWARE, '--node', 'computer_guid=COMP-BENCH', '--master-url', master.url],
    ],
  ];
  console.log(`slapos CLI, ${runs} runs each (node ${process.version}), wall and CPU in ms, max RSS in MB`);
  console.log(
    `${'command'.padEnd(14)} ${'wall p50'.padStart(9)} ${'wall p95'.padStart(9)} ${'cpu p50'.padStart(8)} ${'rss p50'.padStart(8)} ${'rss max'.padStart(8)}`,
  );
  for (const [name, args] of cases) {
    await runOnce(args, directory, env); // warm the file system cache
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) samples.push(await runOnce(args, directory, env));
    const wall = samples.map((s) => s.wallMs);
    const rss = samples.map((s) => s.maxRssKb / 1024);
    console.log(
      `${name.padEnd(14)} ${percentile(wall, 50).toFixed(0).padStart(9)} ${percentile(wall, 95).toFixed(0).padStart(9)} ${percentile(
        samples.map((s) => s.cpuMs),
        50,
      )
        .toFixed(0)
        .padStart(8)} ${percentile(rss, 50).toFixed(1).padStart(8)} ${Math.max(...rss)
        .toFixed(1)
        .padStart(8)}`,
    );
  }
} finally {
  await master.close();
  await rm(directory, { recursive: true, force: true });
}

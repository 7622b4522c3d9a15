/**
 * Test network benchmark: `npm run bench -- netns [--hosts 4] [--rounds 10]` (root, iproute2).
 *
 * Creates and destroys a test network (src/testing/netns.ts: a switch namespace with a bridge, one
 * namespace per host) ROUNDS times and prints the setup and teardown times, and the cost of one
 * command run inside a host (`ip netns exec … true`), which every step of a multi-host test pays.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createTestNetwork } from '../src/testing/netns.ts';

const { values } = parseArgs({
  options: { hosts: { type: 'string', default: '4' }, rounds: { type: 'string', default: '10' } },
});
const hostCount = Number(values.hosts);
const rounds = Number(values.rounds);
if (!Number.isSafeInteger(hostCount) || hostCount < 1 || !Number.isSafeInteger(rounds) || rounds < 1) {
  process.stderr.write('bench/netns: --hosts and --rounds take positive integers\n');
  process.exit(2);
}

const ms = (value: number): string => `${value.toFixed(1)} ms`;

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return `median ${ms(at(0.5))}, max ${ms(sorted.at(-1) ?? NaN)} (${samples.length} rounds)`;
}

const setup: number[] = [];
const teardown: number[] = [];
const execs: number[] = [];
const hosts = Array.from({ length: hostCount }, (_, index) => `host${index}`);
for (let round = 0; round < rounds; round++) {
  let started = performance.now();
  const network = await createTestNetwork({ hosts });
  setup.push(performance.now() - started);
  try {
    started = performance.now();
    const result = await network.exec('host0', ['true']);
    execs.push(performance.now() - started);
    if (result.exitCode !== 0) throw new Error(`ip netns exec … true: ${result.stderr}`);
  } finally {
    started = performance.now();
    await network.destroy();
    teardown.push(performance.now() - started);
  }
}
const rows: [string, string][] = [
  [`setup, ${hostCount} hosts`, summary(setup)],
  [`teardown, ${hostCount} hosts`, summary(teardown)],
  ['one `ip netns exec HOST true`', summary(execs)],
];
const width = Math.max(...rows.map(([name]) => name.length));
for (const [name, value] of rows) process.stdout.write(`${name.padEnd(width)}  ${value}\n`);

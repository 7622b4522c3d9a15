/**
 * MasterClient call rate against a real master on 127.0.0.1 (temporary SQLite):
 * sequential latency of a node's typical poll call, the rate with several calls in flight on one
 * client, and the cost of a fresh client (no kept-alive connection) per call, for comparison.
 *
 * Run: `npx tsc -p tsconfig.build.json && node dist/bench/client-calls.js [calls]`
 */
import { createMasterClient } from '../src/client/master-api.ts';
import { startMasterWithNode } from '../src/testing/master-with-node.ts';

const calls = Number(process.argv[2] ?? 2000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function report(name: string, totalMs: number, count: number, latencies?: number[]): void {
  const rate = (count / totalMs) * 1000;
  let line = `${name.padEnd(44)} ${String(count).padStart(6)} calls  ${rate.toFixed(0).padStart(6)} calls/s`;
  if (latencies) {
    const sorted = [...latencies].sort((a, b) => a - b);
    line += `  p50 ${percentile(sorted, 50).toFixed(2)} ms  p99 ${percentile(sorted, 99).toFixed(2)} ms`;
  }
  console.log(line);
}

const master = await startMasterWithNode({ computerGuid: 'COMP-BENCH', partitions: 10 });
try {
  const { client } = master;
  for (let i = 0; i < 10; i++) {
    await client.requestInstance({
      title: `bench-${i}`,
      softwareReleaseUri: 'https://example.com/software.cfg',
      parameters: { index: String(i) },
      slaParameters: { computer_guid: 'COMP-BENCH' },
    });
  }
  for (let i = 0; i < 100; i++) await client.listComputeNodeInstances('COMP-BENCH'); // warm-up

  const latencies: number[] = [];
  let started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await client.listComputeNodeInstances('COMP-BENCH');
    latencies.push(performance.now() - t);
  }
  report('sequential listComputeNodeInstances', performance.now() - started, calls, latencies);

  latencies.length = 0;
  started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await client.getComputePartition({ computerGuid: 'COMP-BENCH', partitionId: `slappart${i % 10}` });
    latencies.push(performance.now() - t);
  }
  report('sequential getComputePartition', performance.now() - started, calls, latencies);

  for (const inFlight of [8, 32]) {
    started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next++ < calls) await client.listComputeNodeInstances('COMP-BENCH');
      }),
    );
    report(`${inFlight} in flight, one client`, performance.now() - started, calls);
  }

  const fresh = Math.min(calls, 500);
  started = performance.now();
  for (let i = 0; i < fresh; i++) {
    const once = createMasterClient({ api: 'json', masterUrl: master.url });
    await once.listComputeNodeInstances('COMP-BENCH');
    await once.close();
  }
  report('sequential, a new client per call', performance.now() - started, fresh);
} finally {
  await master.close();
}

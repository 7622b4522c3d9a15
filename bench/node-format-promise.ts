/**
 * Figures for `node format` (sandbox) and the promise runner. Run:
 *   npx tsc -p tsconfig.build.json && node dist/bench/node-format-promise.js
 * Prints: time of a first format of N partitions and of the no-op second run; time to check
 * N in-process socket promises versus N legacy executables on one partition.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadNodeConfig } from '../src/node/config.ts';
import { formatComputeNode } from '../src/node/format/format.ts';
import { Host } from '../src/node/format/host.ts';
import { runPromises } from '../src/node/promise/run-promises.ts';
import { makeTempDir, RecordingRegistrar, writeSandboxCfg } from '../src/testing/node.ts';

const PARTITIONS = 100;
const PROMISES = 40;

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await run();
  return [value, performance.now() - start];
}

async function benchFormat(): Promise<void> {
  const dir = await makeTempDir('slapos-bench-format-');
  try {
    const cfg = await writeSandboxCfg(dir, { slapformat: { partition_amount: PARTITIONS } });
    const config = await loadNodeConfig({ cfg, isRoot: false });
    const registrar = new RecordingRegistrar();
    const run = async () => {
      const host = new Host();
      const result = await formatComputeNode(config, { registrar, host, ipv6Loopback: true });
      return { changes: result.actions.length, processes: host.commandLog.length };
    };
    const [first, firstMs] = await timed(run);
    const [second, secondMs] = await timed(run);
    console.log(
      `format, sandbox, ${PARTITIONS} partitions: first run ${firstMs.toFixed(0)} ms (${first.changes} changes), ` +
        `second run ${secondMs.toFixed(0)} ms (${second.changes} changes, ${second.processes} processes spawned)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchPromises(): Promise<void> {
  const dir = await makeTempDir('slapos-bench-promise-');
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const inProcess = join(dir, 'in-process');
    const legacy = join(dir, 'legacy');
    await mkdir(join(inProcess, 'etc', 'promise.d'), { recursive: true });
    await mkdir(join(legacy, 'etc', 'promise'), { recursive: true });
    for (let i = 0; i < PROMISES; i += 1) {
      await writeFile(
        join(inProcess, 'etc', 'promise.d', `p${i}.json`),
        JSON.stringify({ kind: 'socket', host: '127.0.0.1', port }),
      );
      const script = join(legacy, 'etc', 'promise', `p${i}`);
      await writeFile(script, '#!/bin/sh\necho ok\n');
      await chmod(script, 0o755);
    }
    for (const [label, partition] of [
      ['in-process socket checks', inProcess],
      ['legacy executables', legacy],
    ] as const) {
      const [report, ms] = await timed(() => runPromises(partition, { mode: 'test', force: true }));
      console.log(
        `promises: ${PROMISES} ${label}: ${ms.toFixed(0)} ms (${(ms / PROMISES).toFixed(2)} ms each, ok=${String(report.ok)}, concurrency 4)`,
      );
    }
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await benchFormat();
await benchPromises();

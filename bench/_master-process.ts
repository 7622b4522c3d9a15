/**
 * A master in its own process for benchmarks (bench/hostile.ts): started with `fork`, it answers on
 * the IPC channel with its URL, then measures its own event loop (perf_hooks.monitorEventLoopDelay,
 * 1 ms resolution) between a `reset` message and the next `report`, so that the figure is the
 * master's longest block, not the load generator's. `close` closes the master and exits (a
 * `--cpu-prof` profile is then written).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startMaster } from '../src/master/server.ts';

type Message = { kind: 'reset' } | { kind: 'report' } | { kind: 'close' };

const [databasePath] = process.argv.slice(2);
if (databasePath === undefined || !process.send)
  throw new Error('usage: fork(_master-process.ts, [databasePath])');
const send = process.send.bind(process);
const master = await startMaster({ port: 0, databasePath, computerId: 'bench' });
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
process.on('message', (message: Message) => {
  if (message.kind === 'reset') {
    histogram.reset();
    send({ kind: 'reset' });
  } else if (message.kind === 'report') {
    send({ kind: 'report', maxMs: histogram.max / 1e6 });
  } else {
    histogram.disable();
    void master.close().then(() => process.disconnect());
  }
});
send({ kind: 'listening', url: master.url });

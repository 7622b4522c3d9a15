/**
 * A master in its own process for benchmarks (bench/hostile.ts): started with `fork`, it answers on
 * the IPC channel with its URL, then measures its own event loop (perf_hooks.monitorEventLoopDelay,
 * 1 ms resolution) between a `reset` message and the next `report`, so that the figure is the
 * master's longest block, not the load generator's. It also reports the most CPU time the process
 * used between two ticks of a 1 ms timer: on a busy machine the delay also counts the time the
 * process waited for a core, the CPU time does not (it counts the process's other threads, though).
 * `close` closes the master and exits (a `--cpu-prof` profile is then written).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startMaster } from '../src/master/server.ts';

type Message = { kind: 'reset' } | { kind: 'report' } | { kind: 'close' };

const [databasePath] = process.argv.slice(2);
if (databasePath === undefined || !process.send)
  throw new Error('usage: fork(_master-process.ts, [databasePath])');
const send = process.send.bind(process);
const master = await startMaster({
  port: 0,
  database: { kind: 'sqlite', path: databasePath },
  computerId: 'bench',
});
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
let maxCpuMs = 0;
let lastCpu = process.cpuUsage();
const ticker = setInterval(() => {
  const cpu = process.cpuUsage();
  maxCpuMs = Math.max(maxCpuMs, (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000);
  lastCpu = cpu;
}, 1);
process.on('message', (message: Message) => {
  if (message.kind === 'reset') {
    histogram.reset();
    maxCpuMs = 0;
    lastCpu = process.cpuUsage();
    send({ kind: 'reset' });
  } else if (message.kind === 'report') {
    send({ kind: 'report', maxMs: histogram.max / 1e6, maxCpuMs });
  } else {
    histogram.disable();
    clearInterval(ticker);
    void master.close().then(() => process.disconnect());
  }
});
send({ kind: 'listening', url: master.url });

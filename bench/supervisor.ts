/**
 * Supervisor benchmark: `npx tsx bench/supervisor.ts [--programs 100]` (build first: it runs the
 * compiled daemon, `dist/src/node/supervisor/daemon-main.js`, as `slapos node supervisord` does).
 *
 * Starts the daemon in the background, declares N `sleep` programs over N/10 partitions, and
 * prints: idle memory of the daemon (VmRSS; RssAnon is its private part, the rest being mostly the
 * node binary's pages, shared), start and stop latency of one program through the socket, time to
 * start and stop every program, and time for a killed daemon's successor to re-attach to them all.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SupervisorClient } from '../src/node/supervisor/client.ts';
import { launchSupervisorDaemon } from '../src/node/supervisor/launch.ts';
import { supervisorPaths } from '../src/node/supervisor/paths.ts';
import type { ProgramSpec } from '../src/node/supervisor/types.ts';

const { values } = parseArgs({ options: { programs: { type: 'string', default: '100' } } });
const programCount = Number(values.programs);
const daemonScript = new URL('../dist/src/node/supervisor/daemon-main.js', import.meta.url).pathname;
if (!existsSync(daemonScript)) {
  process.stderr.write(`bench/supervisor: ${daemonScript} is missing: run \`npm run build\` first\n`);
  process.exit(1);
}

async function memory(pid: number): Promise<{ rss: number; anon: number; pss: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (text: string, key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  return { rss: kb(status, 'VmRSS'), anon: kb(status, 'RssAnon'), pss: kb(rollup, 'Pss') };
}

const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
const ms = (value: number): string => `${value.toFixed(1)} ms`;

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return `median ${ms(at(0.5))}, p95 ${ms(at(0.95))} (${samples.length} samples)`;
}

async function timed<T>(action: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await action();
  return [result, performance.now() - started];
}

const root = await mkdtemp(join(tmpdir(), 'svbench-'));
const paths = supervisorPaths(root);
const client = new SupervisorClient({ socketPath: paths.socket });
const rows: [string, string][] = [];
try {
  const [launched, launchMs] = await timed(() => launchSupervisorDaemon({ ...paths, daemonScript }));
  rows.push(['daemon launch (until it answers)', ms(launchMs)]);
  await sleep(2000);
  const empty = await memory(launched.pid);
  rows.push([
    'idle memory, no program',
    `VmRSS ${mb(empty.rss)} (private ${mb(empty.anon)}, PSS ${mb(empty.pss)})`,
  ]);

  const groups = Math.max(1, Math.ceil(programCount / 10));
  const groupNames: string[] = [];
  for (let g = 0; g < groups; g++) {
    const programs: ProgramSpec[] = [];
    for (let p = g * 10; p < Math.min(programCount, (g + 1) * 10); p++)
      programs.push({
        name: `service-${p}`,
        command: '/bin/sleep',
        args: ['100000'],
        autostart: false,
        startsecs: 0,
      });
    groupNames.push(`slappart${g}`);
    await client.updateGroup(`slappart${g}`, programs);
  }

  const sample = Math.min(20, programCount);
  const startTimes: number[] = [];
  const stopTimes: number[] = [];
  for (let i = 0; i < sample; i++) {
    const name = `slappart${Math.floor(i / 10)}:service-${i}`;
    startTimes.push((await timed(() => client.startProcess(name)))[1]);
  }
  for (let i = 0; i < sample; i++) {
    const name = `slappart${Math.floor(i / 10)}:service-${i}`;
    stopTimes.push((await timed(() => client.stopProcess(name)))[1]);
  }
  rows.push(['start one program (until RUNNING)', summary(startTimes)]);
  rows.push(['stop one program (until its group is gone)', summary(stopTimes)]);

  const [, startAllMs] = await timed(() => Promise.all(groupNames.map((group) => client.startGroup(group))));
  rows.push([`start all ${programCount} programs (${groups} groups at once)`, ms(startAllMs)]);
  await sleep(10_000); // let V8's memory reducer run, as it does on an idle daemon
  const loaded = await memory(launched.pid);
  rows.push([
    `idle memory, ${programCount} programs running`,
    `VmRSS ${mb(loaded.rss)} (private ${mb(loaded.anon)}, PSS ${mb(loaded.pss)})`,
  ]);
  const [statusAnswer, statusMs] = await timed(() => client.status());
  const { heapUsed, heapTotal } = statusAnswer.memory;
  rows.push(['  of which V8 heap (used/total)', `${mb(heapUsed / 1024)} / ${mb(heapTotal / 1024)}`]);
  rows.push([`status of ${programCount} programs`, ms(statusMs)]);

  process.kill(launched.pid, 'SIGKILL');
  await sleep(200);
  const [relaunched, reattachMs] = await timed(() => launchSupervisorDaemon({ ...paths, daemonScript }));
  const after = await client.status();
  const adopted = after.processes.filter((p) => p.adopted && p.state === 'RUNNING').length;
  rows.push([`kill -9 the daemon, relaunch: re-attached ${adopted}/${programCount}`, ms(reattachMs)]);
  await sleep(2000);
  const reattached = await memory(relaunched.pid);
  rows.push([
    'idle memory after re-attachment',
    `VmRSS ${mb(reattached.rss)} (private ${mb(reattached.anon)})`,
  ]);

  const [, stopAllMs] = await timed(() => Promise.all(groupNames.map((group) => client.stopGroup(group))));
  rows.push([`stop all ${programCount} programs`, ms(stopAllMs)]);
} finally {
  await client.shutdown({ stopPrograms: true }).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}

const width = Math.max(...rows.map(([label]) => label.length));
process.stdout.write(`supervisor benchmark (node ${process.version}, ${programCount} programs)\n`);
for (const [label, value] of rows) process.stdout.write(`  ${label.padEnd(width)}  ${value}\n`);

/** The node pass commands end to end: real master, real supervisor, the CLI run in-process. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { acquirePidLock } from '../../lib/pid-lock.ts';
import { agentPaths } from '../../node/agent/settings.ts';
import { runSlapos } from '../../testing/cli.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
  type NodeHarness,
} from '../../testing/node-passes.ts';

let h: NodeHarness;
let url: string;

before(async () => {
  h = await startNodeHarness({ partitions: 2 });
  url = await writeSoftwareRelease(h.dir, 'hello', { instance: helloInstance() });
});

after(async () => {
  await h.close();
});

const slapos = (...args: string[]) =>
  runSlapos(args, { env: { ...process.env, SLAPOS_CONFIGURATION: h.cfg } });

test('slapos node software, instance, report: install, deploy, report, in order', async () => {
  await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
  const software = await slapos('node', 'software', '--now');
  assert.equal(software.code, 0, software.stderr);
  assert.match(software.stdout, /^1 software release: 1 installed, 0 already installed, 0 removed, 0 failed/);
  assert.match(
    software.stderr,
    new RegExp(`Installing software release ${url}\n  Installing instance-profile\\.\n`),
  );

  const partition = (await h.client.requestInstance({ title: 'cli', softwareReleaseUri: url }))
    .compute_partition_id;
  const instance = await slapos('node', 'instance', '--now', '--json');
  assert.equal(instance.code, 0, instance.stderr);
  const result = JSON.parse(instance.stdout) as {
    items: { partitionId: string; outcome: string }[];
    exitCode: number;
  };
  assert.deepEqual(
    result.items.map((i) => [i.partitionId, i.outcome]).filter(([id]) => id === partition),
    [[partition, 'started']],
  );

  const again = await slapos('-v', 'node', 'instance', '--now');
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`${partition}: up to date`));
  assert.match(again.stdout, /^2 partitions: 1 up-to-date, 1 free/);

  const report = await slapos('node', 'report', '--now', '--json');
  assert.equal(report.code, 0, report.stderr);
  const sent = JSON.parse(report.stdout) as { sent: boolean; usage: { partitionId: string }[] };
  assert.equal(sent.sent, true);
  assert.deepEqual(
    sent.usage.map((u) => u.partitionId),
    [partition],
  );

  const unknown = await slapos('node', 'instance', '--now', '--only-cp', 'slappart9');
  assert.equal(unknown.code, 5);
  assert.match(unknown.stderr, /unknown partition: slappart9/);
});

test('a second run of the same command while one runs exits 10 (pidfile lock)', async () => {
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const pidfile = join(h.config.instanceRoot, 'var', 'run', 'slapgrid-cp.pid');
    await mkdir(join(h.config.instanceRoot, 'var', 'run'), { recursive: true });
    await writeFile(pidfile, `${holder.pid ?? 0}\n`);
    const locked = await slapos('node', 'instance', '--now');
    assert.equal(locked.code, 10);
    assert.match(locked.stderr, /another node instance process is already running/);
    // The software and report commands have their own locks.
    assert.equal((await slapos('node', 'software', '--now')).code, 0);
  } finally {
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
  }
  assert.equal((await slapos('node', 'instance', '--now')).code, 0, 'a dead holder: stale lock taken over');
});

test('slapos node bang, boot and watchdog', async () => {
  const bang = await slapos('node', 'bang', '-m', 'disk replaced');
  assert.equal(bang.code, 0, bang.stderr);
  assert.equal(h.db.computeNodeBang(), 'disk replaced');

  const boot = await slapos('node', 'boot', '--json');
  assert.equal(boot.code, 0, boot.stderr);
  const booted = JSON.parse(boot.stdout) as { formatAttempts: number; cleared: string[] };
  assert.equal(booted.formatAttempts, 1);
  assert.ok(booted.cleared.length >= 1, 'deployed partitions will be deployed again');
  assert.equal(h.db.computeNodeBang(), 'Reboot');

  // Not while a node agent runs (its lock held by a live node process): said, nothing done.
  const agent = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  const lock = await acquirePidLock(agentPaths(h.config.instanceRoot).pidFile, { pid: agent.pid as number });
  try {
    await h.client.bangComputeNode({ computerGuid: COMPUTER_ID, message: 'before' });
    const refused = await slapos('node', 'boot');
    assert.equal(refused.code, 10, refused.stderr);
    assert.match(refused.stderr, new RegExp(`a node agent is running \\(pid ${agent.pid}\\)`));
    assert.match(refused.stderr, /slapos node instance --force/);
    assert.equal(h.db.computeNodeBang(), 'before');
  } finally {
    agent.kill();
    await lock.release();
  }

  const ignored = await slapos('node', 'watchdog', '--event', '{"group": "slappart0", "program": "once"}');
  assert.equal(ignored.code, 0, ignored.stderr);
  assert.equal(ignored.stdout, 'Not banged: not a watched service.\n');
  const bad = await slapos('node', 'watchdog', '--event', '{}');
  assert.equal(bad.code, 5);
});

test("the original's cron lines run as they are (--logfile, --maximal_delay, ignored options)", async () => {
  const log = join(h.dir, 'cron-report.log');
  const report = await slapos(
    'node',
    'report',
    '--maximal_delay=0',
    '--verbose',
    `--logfile=${log}`,
    '--supervisord-socket',
    join(h.dir, 'unused.sock'),
  );
  assert.equal(report.code, 0, report.stderr);
  assert.match(await readFile(log, 'utf8'), /"msg":"master call"/, 'the log goes to the file');
  const other = await slapos('node', 'software', '--now', `--log_file=${join(h.dir, 'other.log')}`);
  assert.equal(other.code, 0, other.stderr);
  const bad = await slapos('node', 'report', '--maximal_delay=soon');
  assert.equal(bad.code, 5);
  assert.match(bad.stderr, /--maximal_delay .*expected a whole number of seconds/);
});

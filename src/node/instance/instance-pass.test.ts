/**
 * `node instance` against a real master, the real supervisor daemon and real services: deploy,
 * no-op re-runs, parameter changes, stop/start, failing promises, independence of partitions,
 * destruction, crash → bang, offline mode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecFunction } from '../../buildout/recipe.ts';
import type { MasterClient } from '../../client/master-client.ts';
import { createMasterClient } from '../../client/master-api.ts';
import type { PromiseResult } from '../../client/types.ts';
import { systemClock } from '../../core/clock.ts';
import type { RequestedState } from '../../core/states.ts';
import { execFile } from '../../lib/exec.ts';
import { createLogger } from '../../lib/logger.ts';
import { freePort } from '../../standalone/config-file.ts';
import type { NodeProgressEvent } from '../pass.ts';
import { runSoftwarePass } from '../software/software-pass.ts';
import type { ProcessInfo } from '../supervisor/types.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
  type NodeHarness,
} from '../../testing/node-passes.ts';
import { FAKE_RELEASE_BUILDOUT, readRecord } from '../../testing/release-buildout.ts';
import { waitFor } from '../../testing/supervisor.ts';
import { runInstancePass, type InstancePassOptions } from './instance-pass.ts';
import { TAIL_BEGIN } from './buildout-tail.ts';
import { INSTANCE_LOG_FILE, TIMESTAMP_FILE } from './partition-files.ts';
import { SENT_FILE } from './promise-results.ts';

let h: NodeHarness;
let hello: string;
let failingPromise: string;
let brokenInstance: string;

before(async () => {
  h = await startNodeHarness({ partitions: 15 });
  hello = await writeSoftwareRelease(h.dir, 'hello', { instance: helloInstance() });
  failingPromise = await writeSoftwareRelease(h.dir, 'failing-promise', {
    instance: helloInstance({ promise: '{"kind": "file", "path": "var/never-there"}' }),
  });
  brokenInstance = await writeSoftwareRelease(h.dir, 'broken-instance', {
    instance: '[buildout]\nparts = x\n[x]\nrecipe = no.such:recipe\n',
  });
  for (const url of [hello, failingPromise, brokenInstance])
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
  const software = await runSoftwarePass(h.config, { master: h.client });
  assert.equal(software.exitCode, 0);
});

after(async () => {
  await h.close();
});

async function request(
  title: string,
  url: string,
  options: { parameters?: Record<string, unknown>; state?: RequestedState } = {},
): Promise<string> {
  const instance = await h.client.requestInstance({
    title,
    softwareReleaseUri: url,
    ...(options.parameters ? { parameters: options.parameters } : {}),
    ...(options.state ? { state: options.state } : {}),
  });
  return instance.compute_partition_id;
}

function pass(options: Partial<InstancePassOptions> = {}) {
  return runInstancePass(h.config, { master: h.client, supervisor: h.supervisor, ...options });
}

async function processesOf(partition: string): Promise<ProcessInfo[]> {
  return (await h.supervisor.status()).processes.filter((p) => p.group === partition);
}

/** What the partition's server answers (a restarted server rewrites its port: polled). */
async function answer(partition: string): Promise<string> {
  return waitFor(`${partition} answering`, async () => {
    try {
      const port = (await readFile(join(h.config.instanceRoot, partition, 'var', 'port'), 'utf8')).trim();
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
      return await response.text();
    } catch {
      return undefined;
    }
  });
}

test('a started instance is deployed: its service runs and answers, started is reported', async () => {
  const partition = await request('web', hello);
  const events: NodeProgressEvent[] = [];
  const result = await pass({ onlyPartitions: [partition], onProgress: (e) => events.push(e) });
  assert.deepEqual(
    result.items.map((i) => [i.partitionId, i.outcome]),
    [[partition, 'started']],
  );
  assert.equal(result.exitCode, 0);
  const path = join(h.config.instanceRoot, partition);
  const [service] = await processesOf(partition);
  assert.equal(service?.fullName, `${partition}:server-on-watch`);
  assert.equal(service?.state, 'RUNNING');
  assert.equal(await answer(partition), `hello from ${path}`);
  assert.equal(h.db.instance('web')?.reported_state, 'started');
  assert.ok(existsSync(join(path, TIMESTAMP_FILE)));
  assert.ok(events.some((e) => e.type === 'promise' && e.title === 'server' && !e.failed));

  const profile = await readFile(join(path, 'buildout.cfg'), 'utf8');
  const tail = profile.slice(profile.indexOf(TAIL_BEGIN));
  assert.match(tail, /\[slap-connection\]\ncomputer-id = COMP-NODE\n/);
  assert.ok(tail.includes(`\npartition-id = ${partition}\n`));
  assert.ok(tail.includes(`\nserver-url = ${h.config.masterUrl}\n`));
  assert.ok(tail.includes(`\nsoftware-release-url = ${hello}\n`));
  assert.ok(tail.includes('\nrequested-state = started\n'));
  assert.ok(existsSync(join(path, 'software_release')), 'software_release links to the software');
  assert.match(await readFile(join(path, INSTANCE_LOG_FILE), 'utf8'), /Installing server\./);
});

test('nothing changed: no buildout, no process spawned, the service is left alone', async () => {
  const partition = await request('still', hello);
  await pass({ onlyPartitions: [partition] });
  const pid = (await processesOf(partition))[0]?.pid;
  const spawned: string[] = [];
  const exec: ExecFunction = (file, args, options) => {
    spawned.push(file);
    return execFile(file, args, options);
  };
  const events: NodeProgressEvent[] = [];
  const result = await pass({ exec, onProgress: (e) => events.push(e) });
  assert.ok(result.items.every((i) => i.outcome === 'up-to-date' || i.outcome === 'free'));
  assert.deepEqual(spawned, []);
  assert.deepEqual(
    events.filter((e) => e.type === 'buildout'),
    [],
  );
  assert.equal((await processesOf(partition))[0]?.pid, pid);

  // --force processes it again; the service keeps running (its program did not change).
  const forced = await pass({ onlyPartitions: [partition], force: true });
  assert.deepEqual(
    forced.items.map((i) => i.outcome),
    ['started'],
  );
  assert.equal((await processesOf(partition))[0]?.pid, pid);
});

test('a parameter change redeploys; stopped stops the services; started starts them again', async () => {
  const partition = await request('changing', hello, { parameters: { greeting: 'one' } });
  await pass({ onlyPartitions: [partition] });
  const path = join(h.config.instanceRoot, partition);
  const marker = await readFile(join(path, TIMESTAMP_FILE), 'utf8');

  await request('changing', hello, { parameters: { greeting: 'two' } });
  const changed = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    changed.items.map((i) => i.outcome),
    ['started'],
  );
  assert.notEqual(await readFile(join(path, TIMESTAMP_FILE), 'utf8'), marker);

  await request('changing', hello, { parameters: { greeting: 'two' }, state: 'stopped' });
  const stopped = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    stopped.items.map((i) => i.outcome),
    ['stopped'],
  );
  assert.deepEqual(
    (await processesOf(partition)).map((p) => p.state),
    ['STOPPED'],
  );
  assert.equal(h.db.instance('changing')?.reported_state, 'stopped');
  assert.match(await readFile(join(path, 'buildout.cfg'), 'utf8'), /\nrequested-state = stopped\n/);

  await request('changing', hello, { parameters: { greeting: 'two' }, state: 'started' });
  const restarted = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    restarted.items.map((i) => i.outcome),
    ['started'],
  );
  assert.deepEqual(
    (await processesOf(partition)).map((p) => p.state),
    ['RUNNING'],
  );
  assert.equal(await answer(partition), `hello from ${path}`);
  assert.equal(h.db.instance('changing')?.reported_state, 'started');
});

test('stopped with a buildout that fails: the services are stopped all the same, the error reported', async () => {
  const breakable = await writeSoftwareRelease(h.dir, 'breakable', { instance: helloInstance() });
  await h.client.supply({ softwareReleaseUri: breakable, computerGuid: COMPUTER_ID });
  assert.equal((await runSoftwarePass(h.config, { master: h.client })).exitCode, 0);
  const partition = await request('stop-broken', breakable);
  await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    (await processesOf(partition)).map((p) => p.state),
    ['RUNNING'],
  );
  const installed = join(h.config.softwareRoot, createHash('md5').update(breakable).digest('hex'));
  await writeFile(join(installed, 'instance.cfg'), '[buildout]\nparts = x\n[x]\nrecipe = no.such:recipe\n');
  await request('stop-broken', breakable, { state: 'stopped' });
  const stopped = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    stopped.items.map((i) => i.outcome),
    ['failed'],
  );
  assert.deepEqual(
    (await processesOf(partition)).map((p) => p.state),
    ['STOPPED'],
  );
  assert.match(h.db.instance('stop-broken')?.error_message ?? '', /no\.such:recipe/);
  await request('stop-broken', breakable, { state: 'destroyed' });
  await pass({ onlyPartitions: [partition] });
});

test('a release with its own bin/buildout and recipes the engine lacks is deployed with that buildout; its failure is reported with its output', async () => {
  const own = await writeSoftwareRelease(h.dir, 'own-buildout', {
    instance: '[buildout]\nparts = x\n[python-only]\nrecipe = zc.recipe.egg\n[x]\n<= python-only\n',
  });
  await h.client.supply({ softwareReleaseUri: own, computerGuid: COMPUTER_ID });
  assert.equal((await runSoftwarePass(h.config, { master: h.client })).exitCode, 0);
  const software = join(h.config.softwareRoot, createHash('md5').update(own).digest('hex'));
  await mkdir(join(software, 'bin'), { recursive: true });
  await writeFile(join(software, 'bin', 'buildout'), FAKE_RELEASE_BUILDOUT, { mode: 0o755 });
  const partition = await request('own-buildout', own);
  const path = join(h.config.instanceRoot, partition);
  const result = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    result.items.map((i) => i.outcome),
    ['started'],
  );
  assert.equal(h.db.instance('own-buildout')?.reported_state, 'started');
  const { args, values, env } = readRecord(await readFile(join(path, 'record.txt'), 'utf8'));
  assert.equal(values.get('argv0'), join(software, 'bin', 'buildout'));
  assert.deepEqual(args, ['-U']);
  assert.equal(values.get('cwd'), path);
  assert.equal(values.get('umask'), '0027');
  assert.equal(env.get('HOME'), path);
  assert.ok(existsSync(join(path, '.installed.cfg')));
  assert.ok((await readFile(join(path, 'buildout.cfg'), 'utf8')).includes(TAIL_BEGIN));
  const log = await readFile(join(path, INSTANCE_LOG_FILE), 'utf8');
  assert.match(
    log,
    /with the release.s .*bin\/buildout: \[python-only\] recipe = zc\.recipe\.egg is not native/,
  );
  assert.match(log, /Installing instance-profile\./);

  await writeFile(join(software, 'exit-status'), '1\n');
  await request('own-buildout', own, { parameters: { again: 'yes' } });
  const failed = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    failed.items.map((i) => [i.outcome, i.error?.code]),
    [['failed', 'SLAP_ERR_BUILDOUT_FAILED']],
  );
  assert.match(h.db.instance('own-buildout')?.error_message ?? '', /Error: boom/);
  assert.equal(existsSync(join(path, TIMESTAMP_FILE)), false, 'processed again next time');
  await request('own-buildout', own, { state: 'destroyed' });
  await pass({ onlyPartitions: [partition] });
});

test('a failing promise keeps the instance from being started and its message is reported', async () => {
  const partition = await request('unhealthy', failingPromise);
  const result = await pass({ onlyPartitions: [partition], promiseGraceMs: 500 });
  const [item] = result.items;
  assert.equal(item?.outcome, 'promise-failed');
  assert.equal(result.exitCode, 2);
  assert.equal(item?.error?.code, 'SLAP_ERR_PROMISE_FAILED');
  const path = join(h.config.instanceRoot, partition);
  assert.deepEqual(item?.promises, [
    { title: 'server', message: `ERROR ${join(path, 'var', 'never-there')} is not present` },
  ]);
  const row = h.db.instance('unhealthy');
  assert.notEqual(row?.reported_state, 'started');
  assert.equal(
    row?.error_message,
    `Promise 'server' failed with output: ERROR ${join(path, 'var', 'never-there')} is not present`,
  );
  assert.equal(existsSync(join(path, TIMESTAMP_FILE)), false, 'processed again next time');
  assert.match(await readFile(join(path, `.slapgrid-${partition}-error.log`), 'utf8'), /never-there/);
  await request('unhealthy', failingPromise, { state: 'destroyed' });
  assert.deepEqual(
    (await pass({ onlyPartitions: [partition] })).items.map((i) => i.outcome),
    ['destroyed'],
  );
});

test('one failing partition does not keep the others from being deployed', async () => {
  const broken = await request('broken', brokenInstance);
  const fine = await request('fine', hello);
  const notInstalled = await request('not-installed', join(h.dir, 'nowhere', 'software.cfg'));
  const result = await pass({ onlyPartitions: [broken, fine, notInstalled] });
  const outcome = new Map(result.items.map((i) => [i.partitionId, i]));
  assert.equal(outcome.get(fine)?.outcome, 'started');
  assert.equal(outcome.get(broken)?.outcome, 'failed');
  assert.equal(outcome.get(broken)?.error?.code, 'SLAP_ERR_RECIPE_UNSUPPORTED');
  assert.equal(outcome.get(notInstalled)?.error?.code, 'SLAP_ERR_SOFTWARE_NOT_INSTALLED');
  assert.equal(result.exitCode, 1);
  assert.match(h.db.instance('broken')?.error_message ?? '', /no\.such:recipe/);
  assert.equal(h.db.instance('fine')?.reported_state, 'started');
  for (const title of ['broken', 'not-installed'])
    await h.client.requestInstance({
      title,
      softwareReleaseUri: title === 'broken' ? brokenInstance : join(h.dir, 'nowhere', 'software.cfg'),
      state: 'destroyed',
    });
  await pass({ onlyPartitions: [broken, notInstalled] });
});

test('destroyed: services gone, partition wiped, the master frees it', async () => {
  const partition = await request('doomed', hello);
  await pass({ onlyPartitions: [partition] });
  const path = join(h.config.instanceRoot, partition);
  assert.equal((await processesOf(partition)).length, 1);

  await request('doomed', hello, { state: 'destroyed' });
  const result = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    result.items.map((i) => i.outcome),
    ['destroyed'],
  );
  assert.deepEqual(await processesOf(partition), [], 'the supervisor group is removed');
  assert.deepEqual(await readdir(path), ['.slapos-resource'], 'only format’s description is left');
  assert.equal(h.db.instance('doomed'), undefined);
  assert.equal(h.db.partition(partition)?.slap_state, 'free');
  // A free partition is left alone by the next pass.
  const next = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    next.items.map((i) => i.outcome),
    ['free'],
  );
});

test('a crashing service bangs its instance (once per deployment)', async () => {
  const partition = await request('crashy', hello);
  await pass({ onlyPartitions: [partition] });
  const before = h.db.partition(partition)?.timestamp ?? 0;
  // The JSON API's timestamps are whole seconds: crash in a later second than the deployment's.
  await waitFor('the next second', () => systemClock.now() - 3 >= Math.trunc(before) + 1.2);
  const [service] = await processesOf(partition);
  assert.ok(service?.pid);
  process.kill(service.pid, 'SIGKILL');
  const banged = await waitFor('the bang', () => h.db.instance('crashy')?.bang_message ?? undefined, {
    timeoutMs: 60_000,
  });
  assert.match(banged, new RegExp(`server-on-watch process in partition ${partition} encountered a problem`));
  assert.notEqual(h.db.partition(partition)?.timestamp, before, "the partition's timestamp changed");
  const path = join(h.config.instanceRoot, partition);
  const bangedFor = await waitFor('the bang recorded', () =>
    readFile(join(path, '.slapos_latest_bang_timestamp'), 'utf8').catch(() => undefined),
  );
  assert.equal(bangedFor, await readFile(join(path, TIMESTAMP_FILE), 'utf8'));
  // The supervisor restarts the service meanwhile; the next pass deploys the banged partition.
  await waitFor(
    'the service running again',
    async () => (await processesOf(partition))[0]?.state === 'RUNNING',
  );
  const result = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    result.items.map((i) => i.outcome),
    ['started'],
  );
});

test('--only-cp with an unknown partition is refused', async () => {
  await assert.rejects(pass({ onlyPartitions: ['slappart99'] }), { code: 'SLAP_ERR_USAGE' });
});

test('offline: the master cannot be reached, started partitions are started again (exit 3)', async () => {
  const partition = await request('survivor', hello);
  await pass({ onlyPartitions: [partition] });
  await h.supervisor.stopGroup(partition);
  const offline = await h.reload({ master_url: 'http://127.0.0.1:9/' });
  const unreachable = createMasterClient({ api: 'json', masterUrl: offline.masterUrl, timeoutMs: 5000 });
  try {
    const result = await runInstancePass(offline, {
      master: unreachable,
      supervisor: h.supervisor,
      onlyPartitions: [partition],
    });
    assert.equal(result.exitCode, 3);
    assert.equal(result.offline, true);
    assert.deepEqual(
      result.items.map((i) => [i.partitionId, i.outcome]),
      [[partition, 'offline']],
    );
    await waitFor(
      'the service started again',
      async () => (await processesOf(partition))[0]?.state === 'RUNNING',
    );
  } finally {
    await unreachable.close();
  }
});

test('a whole-second timestamp read in the second of its change is processed again once settled', async () => {
  const partition = await request('fresh', hello);
  const changed = Math.trunc(h.db.partition(partition)?.timestamp ?? 0);
  const at = (seconds: number) => ({ now: () => changed + seconds });
  const outcomes = async (seconds: number) =>
    (await pass({ onlyPartitions: [partition], clock: at(seconds) })).items.map((i) => i.outcome);
  assert.deepEqual(await outcomes(0.5), ['started']);
  assert.match(
    await readFile(join(h.config.instanceRoot, partition, TIMESTAMP_FILE), 'utf8'),
    / \(unsettled\)$/,
  );
  assert.deepEqual(await outcomes(0.9), ['started'], 'another change may have come in the same second');
  assert.deepEqual(await outcomes(5), ['started'], 'settled now: processed once more');
  assert.deepEqual(await outcomes(6), ['up-to-date']);
});

test('up to date and started: promises due are checked, and only a change of status is reported', async () => {
  const quiet = await writeSoftwareRelease(h.dir, 'quiet', {
    instance: helloInstance({ promise: '{"kind": "file", "path": "var/port", "bang-on-failure": false}' }),
  });
  await h.client.supply({ softwareReleaseUri: quiet, computerGuid: COMPUTER_ID });
  await runSoftwarePass(h.config, { master: h.client, onlySoftware: [quiet] });
  const partition = await request('watched', quiet);
  const banging = await request('banging', hello);
  await pass({ onlyPartitions: [partition, banging] });
  const later = (seconds: number) => ({ now: () => systemClock.now() + seconds });
  const outcome = async (seconds: number) =>
    (await pass({ onlyPartitions: [partition, banging], clock: later(seconds) })).items.map((i) => i.outcome);
  const row = () => h.db.instance('watched');
  const deployedAt = row()?.reported_at;

  assert.deepEqual(await outcome(200), ['up-to-date', 'up-to-date'], 'due: checked, fine, nothing reported');
  assert.equal(row()?.reported_at, deployedAt);
  for (const id of [partition, banging]) await rm(join(h.config.instanceRoot, id, 'var', 'port'));
  await outcome(250);
  assert.equal(row()?.error_message, null, 'not due yet: not checked');
  assert.deepEqual(await outcome(400), ['up-to-date', 'up-to-date']);
  const port = join(h.config.instanceRoot, partition, 'var', 'port');
  assert.equal(row()?.error_message, `Promise 'server' failed with output: ERROR ${port} is not present`);
  assert.equal(row()?.bang_message, null, 'its promise may not bang');
  assert.equal(h.db.instance('banging')?.bang_message, 'Promise server is failing', 'an anomaly bangs');
  const errorAt = row()?.error_at;
  await outcome(600);
  assert.equal(row()?.error_at, errorAt, 'still failing: not reported again');
  await writeFile(port, '1');
  await outcome(800);
  assert.notEqual(row()?.reported_at, deployedAt, 'fine again: started reported');
});

test('a shared instance requested on a host has the host partition processed again', async () => {
  const partition = await request('host', hello);
  await pass({ onlyPartitions: [partition] });
  // The JSON API's timestamps are whole seconds: request in a later second than the deployment's.
  const deployed = h.db.partition(partition)?.timestamp ?? 0;
  await waitFor('the next second', () => systemClock.now() - 3 >= Math.trunc(deployed) + 1.2);
  const shared = await h.client.requestInstance({
    title: 'tenant',
    softwareReleaseUri: hello,
    shared: true,
    slaParameters: { computer_guid: COMPUTER_ID, instance_guid: `${COMPUTER_ID}-${partition}` },
  });
  assert.equal(shared.compute_partition_id, partition, 'hosted by the host partition');
  const result = await pass({ onlyPartitions: [partition] });
  assert.deepEqual(
    result.items.map((i) => i.outcome),
    ['started'],
    'the host is deployed again: its profile reads the shared instance list',
  );
});

test('promise results are sent once, and again only when they change (deployment and anomaly check)', async () => {
  const flagged = await writeSoftwareRelease(h.dir, 'flagged', {
    instance: helloInstance({ promise: '{"kind": "file", "path": "var/flag", "bang-on-failure": false}' }),
  });
  await h.client.supply({ softwareReleaseUri: flagged, computerGuid: COMPUTER_ID });
  await runSoftwarePass(h.config, { master: h.client, onlySoftware: [flagged] });
  const partition = await request('checked', flagged);
  const path = join(h.config.instanceRoot, partition);
  const flag = join(path, 'var', 'flag');
  const guid = 'checked______0';
  // The node's master, counting the lists it sends (and failing them on demand).
  const sent: PromiseResult[][] = [];
  let failSending = false;
  const master = Object.create(h.client) as MasterClient;
  master.reportPromiseResults = (input, options) => {
    sent.push([...input.results]);
    if (failSending) return Promise.reject(new Error('the master is having a bad day'));
    return h.client.reportPromiseResults(input, options);
  };
  const run = async (options: Partial<InstancePassOptions> = {}) =>
    (await pass({ master, onlyPartitions: [partition], promiseGraceMs: 0, ...options })).items.map(
      (i) => i.outcome,
    );
  const stored = async () => (await h.client.getPromiseResults(guid))?.result_list;

  assert.deepEqual(await run(), ['promise-failed']);
  assert.equal(sent.length, 1);
  const failing = { name: 'server', status: 'fail', message: `ERROR ${flag} is not present` };
  assert.deepEqual(
    sent[0]?.map(({ date: _date, ...rest }) => rest),
    [failing],
  );
  assert.match(sent[0]?.[0]?.date ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual(await stored(), sent[0], 'the master has them');

  assert.deepEqual(await run(), ['promise-failed'], 'processed again: the promise ran again');
  assert.equal(sent.length, 1, 'the same results are not sent again');

  await mkdir(join(path, 'var'), { recursive: true });
  await writeFile(flag, '');
  assert.deepEqual(await run(), ['started']);
  assert.equal(sent.length, 2, 'changed: sent');
  assert.deepEqual(
    sent[1]?.map((r) => [r.name, r.status]),
    [['server', 'pass']],
  );
  assert.deepEqual(await run({ force: true }), ['started']);
  assert.equal(sent.length, 2, 'a one-shot run remembers what was sent (the partition keeps its digest)');
  assert.ok(existsSync(join(path, SENT_FILE)));

  // Up to date: the anomaly check runs the promise when due and sends a change of result.
  const later = (seconds: number) => ({ now: () => systemClock.now() + seconds });
  await rm(flag);
  assert.deepEqual(await run({ clock: later(200) }), ['up-to-date']);
  assert.equal(sent.length, 3);
  assert.deepEqual(
    sent[2]?.map((r) => [r.name, r.status]),
    [['server', 'fail']],
  );
  assert.deepEqual(
    (await stored())?.map((r) => r.status),
    ['fail'],
  );

  // A master that cannot take them never fails the deployment; they are sent at the next run.
  await writeFile(flag, '');
  failSending = true;
  assert.deepEqual(await run({ force: true }), ['started']);
  assert.equal(sent.length, 4);
  assert.deepEqual(
    (await stored())?.map((r) => r.status),
    ['fail'],
    'not received',
  );
  assert.equal(h.db.instance('checked')?.reported_state, 'started');
  failSending = false;
  assert.deepEqual(await run({ force: true }), ['started']);
  assert.equal(sent.length, 5, 'sent again');
  assert.deepEqual(
    (await stored())?.map((r) => r.status),
    ['pass'],
  );
});

/** A service that listens on `port` one second after it starts; its promise checks that port. */
function slowStartInstance(port: number): string {
  const listen = `require('node:http').createServer((q, r) => r.end('up')).listen(${port}, '127.0.0.1')`;
  return [
    '[buildout]',
    'parts = server promise',
    '',
    '[server]',
    'recipe = slapos.recipe.template',
    'output = $${buildout:directory}/etc/service/server',
    'mode = 0755',
    'inline =',
    '  #!/bin/sh',
    '  sleep 1',
    `  exec ${process.execPath} -e "${listen}"`,
    '',
    '[promise]',
    'recipe = slapos.recipe.template',
    'output = $${buildout:directory}/etc/promise.d/server.json',
    `inline = {"kind": "socket", "host": "127.0.0.1", "port": ${port}}`,
    '',
  ].join('\n');
}

/** Promise records of a log file written by pino: [level, retrying, message]. */
async function promiseRecords(file: string): Promise<[number, boolean, string][]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.includes('"promise":"server"'))
    .map((line) => JSON.parse(line) as { level: number; retrying?: boolean; msg: string })
    .map((record) => [record.level, record.retrying === true, record.msg]);
}

test('just (re)started services get a grace period: refused connections are retried, logged at info, not as errors', async () => {
  const port = await freePort();
  const slow = await writeSoftwareRelease(h.dir, 'slow-start', { instance: slowStartInstance(port) });
  await h.client.supply({ softwareReleaseUri: slow, computerGuid: COMPUTER_ID });
  assert.equal((await runSoftwarePass(h.config, { master: h.client })).exitCode, 0);
  const partition = await request('slow-start', slow);
  const logFile = join(h.dir, 'slow-start.log');
  const logger = createLogger({ destination: logFile, level: 'debug' });

  // Started by this pass: the promise fails (connection refused) until the service listens.
  const first = await pass({ onlyPartitions: [partition], promiseGraceMs: 30_000, logger });
  assert.deepEqual(
    first.items.map((i) => i.outcome),
    ['started'],
  );
  const records = await promiseRecords(logFile);
  assert.ok(
    records.some(([level, retrying]) => level === 30 && retrying),
    `a refused connection, retried: ${JSON.stringify(records)}`,
  );
  assert.deepEqual(
    records.filter(([level]) => level >= 50),
    [],
    'nothing logged as an error',
  );
  assert.equal(records.at(-1)?.[1], false, 'the last check passed');

  // Restarted by the supervisor (as after a crash, or `slapos node restart`), then processed again
  // (a bang): nothing is started by the pass, the restart alone gives the grace period.
  await h.supervisor.restartProcess(`${partition}:server-on-watch`);
  const again = await pass({ onlyPartitions: [partition], promiseGraceMs: 30_000, force: true });
  assert.deepEqual(
    again.items.map((i) => [i.outcome, i.error?.message]),
    [['started', undefined]],
  );
  assert.equal(h.db.instance('slow-start')?.reported_state, 'started');

  // Restarted again, the partition up to date: its anomaly check waits for the end of the grace.
  await h.supervisor.restartProcess(`${partition}:server-on-watch`);
  const anomalyLog = join(h.dir, 'slow-start-anomaly.log');
  const anomalyLogger = createLogger({ destination: anomalyLog, level: 'debug' });
  // Its promise is due (a clock 200 s ahead) but the grace period (here an hour) is not over.
  const quiet = await pass({
    onlyPartitions: [partition],
    promiseGraceMs: 3_600_000,
    logger: anomalyLogger,
    clock: { now: () => systemClock.now() + 200 },
  });
  assert.deepEqual(
    quiet.items.map((i) => i.outcome),
    ['up-to-date'],
  );
  assert.deepEqual(await promiseRecords(anomalyLog), [], 'no promise ran during the grace period');
  assert.equal(h.db.instance('slow-start')?.error_message, null);

  await request('slow-start', slow, { state: 'destroyed' });
  await pass({ onlyPartitions: [partition] });
});

test('a pass asks the supervisor for its listing once, however many anomaly checks are due', async () => {
  const partitions = [await request('listing-once-a', hello), await request('listing-once-b', hello)];
  const deployed = await pass({ onlyPartitions: partitions });
  assert.deepEqual(
    deployed.items.map((i) => i.outcome),
    ['started', 'started'],
  );
  let listings = 0;
  const supervisor = new Proxy(h.supervisor, {
    get(target, property, receiver) {
      if (property === 'status') listings++;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  // Both up to date, their promises due (a clock 200 s ahead): each checks its grace period.
  const checked = await pass({
    onlyPartitions: partitions,
    supervisor,
    clock: { now: () => systemClock.now() + 200 },
  });
  assert.deepEqual(
    checked.items.map((i) => i.outcome),
    ['up-to-date', 'up-to-date'],
  );
  assert.equal(listings, 1);

  for (const title of ['listing-once-a', 'listing-once-b'])
    await request(title, hello, { state: 'destroyed' });
  await pass({ onlyPartitions: partitions });
});

test('settle is awaited before the services start, never for a stopped partition', async () => {
  const partition = await request('settled', hello);
  const seen: { partition: string; running: number }[] = [];
  const settle = async (id: string): Promise<void> => {
    // Whatever it finds running now is running before the pass starts anything.
    const running = (await processesOf(id)).filter((p) => p.state === 'RUNNING').length;
    seen.push({ partition: id, running });
  };
  const result = await pass({ onlyPartitions: [partition], settle });
  assert.deepEqual(
    result.items.map((i) => i.outcome),
    ['started'],
  );
  assert.deepEqual(seen, [{ partition, running: 0 }]);
  assert.equal((await processesOf(partition))[0]?.state, 'RUNNING');
  await request('settled', hello, { state: 'stopped' });
  await pass({ onlyPartitions: [partition], settle });
  assert.equal(seen.length, 1, 'not for stopped');
});

/**
 * The backup agent's decisions with a scripted master and a restic stand-in that keeps snapshots in
 * memory (real files in the partitions): backups on the first sync, on the period and on request,
 * pushed to every target after the backup commands; clone restores put in place with their restore
 * and check commands, never under running services; settle before a promoted clone's services
 * start; restore requests on the main; what the reports carry; who may append.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { fixedClock } from '../../core/clock.ts';
import { writePartitionRecord } from '../instance/partition-files.ts';
import { BackupAgent, type BackupAgentOptions, type PartitionServices, type ResticDriver } from './agent.ts';
import { newBackupId as makeBackupId, type ResticTarget } from './restic.ts';

const newBackupId = (ms: number): string => makeBackupId(new Date(ms));
import type { PartitionBackupPlan } from '../../core/backup-declaration.ts';
import { FakeRestic } from '../../testing/fake-restic.ts';
import type { BackupSyncRequest, PartitionBackupAssignment, RestoreSource } from './sync-protocol.ts';

const PASSWORD = 'pw-Zq8s1xY3-secret';
const CERT = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';

class FakeServices implements PartitionServices {
  readonly runningSet = new Set<string>();
  readonly calls: string[];
  constructor(calls: string[]) {
    this.calls = calls;
  }
  stop(id: string): Promise<void> {
    this.calls.push(`stop ${id}`);
    this.runningSet.delete(id);
    return Promise.resolve();
  }
  start(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    this.runningSet.add(id);
    return Promise.resolve();
  }
  runningPartitions(): Promise<ReadonlySet<string>> {
    return Promise.resolve(this.runningSet);
  }
}

interface World {
  dir: string;
  instanceRoot: string;
  directory: string;
  restic: FakeRestic;
  services: FakeServices;
  events: string[];
  bodies: BackupSyncRequest[];
  answer: PartitionBackupAssignment[];
  clock: ReturnType<typeof fixedClock>;
  logs: string[];
  agent: BackupAgent;
  /** Every target restic was given, in order. */
  targets: ResticTarget[];
  close(): Promise<void>;
}

/** `restic`, asserting each target's password and recording the targets. */
function recordingTargets(
  restic: FakeRestic,
  targets: ResticTarget[],
  passwordOf: (url: string) => string,
): ResticDriver {
  const seen = (target: ResticTarget): void => {
    assert.equal(target.password, passwordOf(target.url), `the password of ${target.url}`);
    targets.push(target);
  };
  return {
    init: (target) => (seen(target), restic.init(target)),
    backup: (target, options) => (seen(target), restic.backup(target, options)),
    snapshots: (target) => (seen(target), restic.snapshots(target)),
    restore: (target, snapshotId, into) => (seen(target), restic.restore(target, snapshotId, into)),
    forget: (target, keep) => (seen(target), restic.forget(target, keep)),
    check: (target) => (seen(target), restic.check(target)),
  };
}

const PLAN: PartitionBackupPlan = {
  paths: ['srv/data'],
  exclude: [],
  backupCommands: ['/bin/dump'],
  restoreCommands: ['/bin/load'],
  checkCommands: ['/bin/check'],
  periodSeconds: 60,
  keep: { last: 10, hourly: 24, daily: 7 },
};

async function world(
  options: {
    partitions?: string[];
    plan?: PartitionBackupPlan;
    failCheck?: () => boolean;
    /** Each repository's password (by its URL), checked at every restic call; default: PASSWORD. */
    passwordOf?: (url: string) => string;
  } = {},
): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'backup-agent-'));
  const instanceRoot = join(dir, 'instance');
  const directory = join(dir, 'backup');
  for (const id of options.partitions ?? ['slappart0']) {
    const root = join(instanceRoot, id);
    await mkdir(join(root, 'srv', 'data'), { recursive: true });
    await writeFile(join(root, '.slapos-resource'), '{}');
    await writePartitionRecord(root, {
      instanceGuid: `SOFTINST-${id}`,
      title: id,
      requestedState: 'started',
      softwareReleaseUrl: 'http://sr/',
      reported: 'started',
    });
  }
  const events: string[] = [];
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(chunk.toString());
      callback();
    },
  });
  const w: Partial<World> = {
    dir,
    instanceRoot,
    directory,
    restic: new FakeRestic(options.passwordOf === undefined ? PASSWORD : undefined),
    targets: [],
    services: new FakeServices(events),
    events,
    bodies: [],
    answer: [],
    clock: fixedClock(1_800_000_000),
    logs,
  };
  const agentOptions: BackupAgentOptions = {
    computerId: 'COMP-1',
    instanceRoot,
    directory,
    repository: { url: 'https://127.0.0.1:8700', certificate: CERT },
    sync: (body) => {
      w.bodies!.push(structuredClone(body));
      return Promise.resolve({ heartbeat_interval: 5, partition_list: w.answer });
    },
    restic: recordingTargets(w.restic!, w.targets!, options.passwordOf ?? (() => PASSWORD)),
    readPlan: () => Promise.resolve(options.plan ?? PLAN),
    services: w.services!,
    runCommand: (command, context) => {
      events.push(`${context.kind} ${command} ${relative(instanceRoot, context.partitionRoot)}`);
      if (context.kind === 'check' && options.failCheck?.()) return Promise.reject(new Error('check failed'));
      return Promise.resolve();
    },
    clientCertFile: () => Promise.resolve(join(dir, 'client.pem')),
    logger: pino({ level: 'debug' }, stream),
    clock: w.clock!,
    heartbeatMs: 3_600_000, // syncs are driven by the test
    retry: { initialMs: 1000, maxMs: 1000, jitter: 0 },
  };
  w.agent = new BackupAgent(agentOptions);
  w.close = async () => {
    await w.agent!.close({ graceMs: 1000 });
    await rm(dir, { recursive: true, force: true });
  };
  return w as World;
}

function assignment(
  partition: string,
  role: PartitionBackupAssignment['role'],
  extra: Partial<PartitionBackupAssignment> = {},
): PartitionBackupAssignment {
  return {
    partition_id: partition,
    instance_guid: `SOFTINST-${partition}`,
    repository: 'tree-17',
    password: PASSWORD,
    role,
    epoch: 1,
    targets: [],
    writers: [],
    readers: [],
    backup_requested_at: null,
    restore_request: null,
    ...extra,
  };
}

const TARGETS = [
  { computer_guid: 'COMP-2', url: 'https://127.0.0.2:8700', certificate: CERT },
  { computer_guid: 'COMP-3', url: 'https://127.0.0.3:8700', certificate: CERT },
];

/** Waits (at most 10 s) for `condition`, which work started in the background makes true. */
async function until(what: string, condition: () => boolean): Promise<void> {
  for (let tries = 0; !condition(); tries++) {
    assert.ok(tries < 1000, what);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** This node's repository `name` (served), as restic makes it: a directory with its config. */
async function localRepository(w: World, name: string): Promise<string> {
  const local = join(w.directory, 'repositories', name);
  await mkdir(local, { recursive: true });
  await writeFile(join(local, 'config'), '');
  return local;
}

async function sync(w: World): Promise<void> {
  await w.agent.syncOnce();
  await w.agent.idle();
}

test('a main backs up on its first sync, after its backup commands, to every target', async (t) => {
  const w = await world();
  t.after(() => w.close());
  await writeFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'v1');
  w.answer = [assignment('slappart0', 'main', { targets: TARGETS })];
  await sync(w);
  assert.deepEqual(w.events, ['backup /bin/dump slappart0']);
  const urls = TARGETS.map((target) => `rest:${target.url}/tree-17/`);
  for (const url of urls) {
    const snapshots = w.restic.repositories.get(url);
    assert.equal(snapshots?.length, 1, url);
    assert.equal(snapshots[0]?.files.get('srv/data/db')?.toString(), 'v1');
    assert.ok(snapshots[0]?.tags.includes('slapos-tree:tree-17'));
  }
  const backupId = w.restic.repositories.get(urls[0]!)?.[0]?.backupId;
  assert.equal(w.restic.repositories.get(urls[1]!)?.[0]?.backupId, backupId, 'one id in every repository');
  assert.equal(
    backupId?.slice(0, -5),
    newBackupId(w.clock.now() * 1000).slice(0, -5),
    'named after its start',
  );
  // The next report carries it; the password is in no log line nor in the state files.
  await w.agent.syncOnce();
  assert.deepEqual(w.bodies.at(-1)?.partition_list[0]?.last_backup, {
    backup_id: backupId,
    time: w.clock.now(),
  });
  assert.ok(!w.logs.join('').includes(PASSWORD));
  for (const name of await readdir(join(w.directory, 'state')))
    assert.ok(!(await readFile(join(w.directory, 'state', name), 'utf8')).includes(PASSWORD));
});

test(
  'a main fenced while its push hangs abandons the push: its queue moves on, no failure counted',
  {
    timeout: 20_000,
  },
  async (t) => {
    const w = await world();
    t.after(() => w.close());
    await writeFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'v1');
    w.restic.hangBackup = () => true;
    w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1) })];
    await w.agent.syncOnce();
    await until('the push started', () => w.restic.calls.some((call) => call.startsWith('backup')));
    // The master fences it (a takeover happened while the node was away): the push stops at once.
    w.restic.hangBackup = undefined;
    w.answer = [assignment('slappart0', 'fenced', { writers: ['COMP-2'] })];
    await sync(w);
    const logs = w.logs.join('');
    assert.match(logs, /backup abandoned: the partition is no longer the main/);
    assert.doesNotMatch(logs, /"msg":"backup failed"/);
    // Its queue serves the new role: made a clone, it restores what it receives.
    w.answer = [assignment('slappart0', 'clone', { writers: ['COMP-2'] })];
    await sync(w);
    assert.equal(w.restic.calls.filter((call) => call.startsWith('backup')).length, 1, 'no push since');
  },
);

test(
  "a push to a clone the master stops listing is abandoned; the other clones' push completes",
  {
    timeout: 20_000,
  },
  async (t) => {
    const w = await world();
    t.after(() => w.close());
    await writeFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'v1');
    const [reachable, gone] = TARGETS.map((target) => `rest:${target.url}/tree-17/`);
    w.restic.hangBackup = (target) => target.url === gone;
    w.answer = [assignment('slappart0', 'main', { targets: TARGETS })];
    await w.agent.syncOnce();
    await until('the push to the gone clone started', () =>
      w.restic.calls.some((call) => call.startsWith(`backup ${gone}`)),
    );
    // The master stops listing COMP-3 (its node is out of contact).
    w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1) })];
    await sync(w);
    assert.equal(w.restic.repositories.get(reachable!)?.length, 1, 'pushed to the clone still listed');
    assert.equal(w.restic.repositories.get(gone!)?.length ?? 0, 0);
    const logs = w.logs.join('');
    assert.match(logs, /push abandoned: the master no longer lists that clone/);
    assert.doesNotMatch(logs, /"msg":"backup failed"/);
    // The backup counts: the next report carries it.
    await w.agent.syncOnce();
    assert.equal(
      w.bodies.at(-1)?.partition_list[0]?.last_backup?.backup_id,
      w.restic.repositories.get(reachable!)?.[0]?.backupId,
    );
  },
);

test('backups follow the period and the requests, and a failed push is retried', async (t) => {
  const w = await world();
  t.after(() => w.close());
  await writeFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'v1');
  w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1) })];
  const count = (): number => w.restic.calls.filter((call) => call.startsWith('backup')).length;
  await sync(w);
  assert.equal(count(), 1);
  w.clock.advance(30);
  await sync(w);
  assert.equal(count(), 1, 'not before the period');
  w.answer = [
    assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1), backup_requested_at: w.clock.now() }),
  ];
  await sync(w);
  assert.equal(count(), 2, 'requested');
  await sync(w);
  assert.equal(count(), 2, 'a request is handled once');
  w.clock.advance(60);
  w.restic.failBackup = () => true;
  await sync(w);
  assert.equal(count(), 3, 'the period');
  w.restic.failBackup = undefined;
  await sync(w);
  assert.equal(count(), 3, 'the retry waits');
  w.clock.advance(1);
  await sync(w);
  assert.equal(count(), 4, 'retried');
});

test('a fenced main pushes nothing and reports its services stopped', async (t) => {
  const w = await world();
  t.after(() => w.close());
  w.services.runningSet.add('slappart0');
  w.answer = [assignment('slappart0', 'fenced', { targets: TARGETS })];
  await sync(w);
  assert.equal(w.restic.calls.filter((call) => call.startsWith('backup')).length, 0);
  await w.agent.syncOnce();
  assert.equal(w.bodies.at(-1)?.partition_list[0]?.services_stopped, false);
  await w.services.stop('slappart0');
  await w.agent.syncOnce();
  assert.equal(w.bodies.at(-1)?.partition_list[0]?.services_stopped, true);
});

test('a clone restores the newest backup into place, then its restore and check commands', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const local = await localRepository(w, 'tree-17');
  const old = newBackupId(Date.UTC(2026, 0, 1) * 1);
  const newest = newBackupId(Date.UTC(2026, 0, 2));
  w.restic.add(local, newest, { 'srv/data/db': 'newest' });
  w.restic.add(local, old, { 'srv/data/db': 'old' });
  const partition = join(w.instanceRoot, 'slappart0');
  await writeFile(join(partition, 'srv', 'data', 'stale'), 'x');
  w.answer = [assignment('slappart0', 'clone', { writers: ['COMP-1'] })];
  await sync(w);
  assert.equal(await readFile(join(partition, 'srv', 'data', 'db'), 'utf8'), 'newest');
  assert.deepEqual(await readdir(join(partition, 'srv', 'data')), ['db'], 'the path is replaced as a whole');
  assert.deepEqual(w.events, ['restore /bin/load slappart0', 'check /bin/check slappart0']);
  await w.agent.syncOnce();
  const report = w.bodies.at(-1)?.partition_list[0];
  assert.equal(report?.restored?.backup_id, newest);
  assert.deepEqual(
    report?.backup_list.map((backup) => backup.backup_id),
    [old, newest],
  );
  assert.deepEqual(await readdir(join(w.directory, 'staging')), [], 'no staging left');
  // Nothing new: nothing restored again.
  await sync(w);
  assert.equal(w.events.length, 2);
});

test('a clone never restores under running services, and a failed check is not reported', async (t) => {
  let failCheck = true;
  const w = await world({ failCheck: () => failCheck });
  t.after(() => w.close());
  const local = await localRepository(w, 'tree-17');
  w.restic.add(local, newBackupId(Date.UTC(2026, 0, 2)), { 'srv/data/db': 'new' });
  w.services.runningSet.add('slappart0');
  w.answer = [assignment('slappart0', 'clone')];
  await sync(w);
  assert.equal(w.restic.calls.filter((call) => call.startsWith('restore')).length, 0);
  w.services.runningSet.clear();
  await sync(w);
  assert.deepEqual(w.events, ['restore /bin/load slappart0', 'check /bin/check slappart0']);
  await w.agent.syncOnce();
  assert.equal(w.bodies.at(-1)?.partition_list[0]?.restored, null, 'a failed check is no restore');
  failCheck = false;
  w.clock.advance(2);
  await sync(w);
  await w.agent.syncOnce();
  assert.notEqual(w.bodies.at(-1)?.partition_list[0]?.restored, null);
});

test('settle puts the newest received backup in place before a promoted clone starts, then it backs up', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const local = await localRepository(w, 'tree-17');
  w.restic.add(local, newBackupId(Date.UTC(2026, 0, 1)), { 'srv/data/db': 'one' });
  w.answer = [assignment('slappart0', 'clone')];
  await sync(w);
  const db = join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db');
  assert.equal(await readFile(db, 'utf8'), 'one');
  // A last push arrives, then the master promotes it: no backup before settle.
  w.restic.add(local, newBackupId(Date.UTC(2026, 0, 2)), { 'srv/data/db': 'two' });
  w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1) })];
  await sync(w);
  assert.equal(w.restic.calls.filter((call) => call.startsWith('backup')).length, 0);
  await w.agent.settle('slappart0');
  assert.equal(await readFile(db, 'utf8'), 'two', 'settle restored the newest');
  await w.agent.settle('slappart0'); // settled once
  assert.equal(w.restic.calls.filter((call) => call.startsWith('restore')).length, 2);
  await sync(w);
  const pushed = w.restic.repositories.get(`rest:${TARGETS[0]!.url}/tree-17/`);
  assert.equal(pushed?.[0]?.files.get('srv/data/db')?.toString(), 'two', 'its first backup holds the newest');
});

test('settle of a partition that is no clone returns at once', async (t) => {
  const w = await world();
  t.after(() => w.close());
  await w.agent.settle('slappart0');
  await w.agent.settle('no-such-partition');
  assert.deepEqual(w.restic.calls, []);
});

test('a restore request stops the services, restores, runs the commands, starts them, reports once', async (t) => {
  const w = await world();
  t.after(() => w.close());
  const remote = `rest:${TARGETS[0]!.url}/tree-17/`;
  const wanted = newBackupId(Date.UTC(2026, 0, 1));
  w.restic.add(remote, wanted, { 'srv/data/db': 'wanted' });
  w.restic.add(remote, newBackupId(Date.UTC(2026, 0, 2)), { 'srv/data/db': 'later' });
  w.services.runningSet.add('slappart0');
  const request = { request_id: 'req-1', backup_id: wanted, source: null };
  w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1), restore_request: request })];
  // The first backup would run after the restore: the period is far away for this test.
  await sync(w);
  assert.deepEqual(w.events.slice(0, 5), [
    'backup /bin/dump slappart0',
    'stop slappart0',
    'restore /bin/load slappart0',
    'check /bin/check slappart0',
    'start slappart0',
  ]);
  assert.equal(await readFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'utf8'), 'wanted');
  await w.agent.syncOnce();
  assert.deepEqual(w.bodies.at(-1)?.partition_list[0]?.restore_done, {
    request_id: 'req-1',
    ok: true,
    message: `restored ${wanted}`,
    restored_backup_id: wanted,
  });
  // Still asked (the master has not seen it yet): not done twice; once cleared, no longer reported.
  await w.agent.idle();
  assert.equal(w.events.filter((event) => event === 'stop slappart0').length, 1);
  w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1) })];
  await w.agent.syncOnce();
  await w.agent.syncOnce();
  assert.equal(w.bodies.at(-1)?.partition_list[0]?.restore_done, null);
});

test('a restore request for a backup no repository holds is reported failed, services untouched', async (t) => {
  const w = await world();
  t.after(() => w.close());
  w.services.runningSet.add('slappart0');
  const request = { request_id: 'req-2', backup_id: newBackupId(Date.UTC(2026, 0, 1)), source: null };
  w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1), restore_request: request })];
  await sync(w);
  await w.agent.syncOnce();
  const done = w.bodies.at(-1)?.partition_list[0]?.restore_done;
  assert.equal(done?.ok, false);
  assert.match(done?.message ?? '', /in none of the repositories/);
  assert.ok(!w.events.includes('stop slappart0'));
});

test('single: backups go to the local repository, with retention there', async (t) => {
  const w = await world({ plan: { ...PLAN, keep: { last: 1, hourly: 0, daily: 0 } } });
  t.after(() => w.close());
  await writeFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'v1');
  w.answer = [assignment('slappart0', 'single')];
  await sync(w);
  const local = join(w.directory, 'repositories', 'tree-17');
  assert.equal(w.restic.repositories.get(local)?.length, 1);
  assert.ok(w.restic.calls.includes(`forget ${local}`));
  await w.agent.syncOnce();
  assert.equal(w.bodies.at(-1)?.partition_list[0]?.backup_list.length, 1);
});

test('only the writers the master named may append to a clone repository here', async (t) => {
  const w = await world({ partitions: ['slappart0', 'slappart1'] });
  t.after(() => w.close());
  w.answer = [
    assignment('slappart0', 'clone', { writers: ['COMP-9'] }),
    assignment('slappart1', 'main', { repository: 'tree-18', writers: ['COMP-8'] }),
  ];
  await sync(w);
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-9' }, 'tree-17'), 'append');
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-8' }, 'tree-17'), 'none');
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-8' }, 'tree-18'), 'none', 'not for a main');
  w.answer = [];
  await sync(w);
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-9' }, 'tree-17'), 'none', 'the tree left');
});

test('an answer naming a partition this node does not have is ignored; a bad answer is refused', async (t) => {
  const w = await world();
  t.after(() => w.close());
  w.answer = [assignment('slappart7', 'main', { targets: TARGETS })];
  await sync(w);
  assert.deepEqual(w.restic.calls, []);
  w.answer = [assignment('slappart0', 'main', { repository: '../etc' })];
  await assert.rejects(w.agent.syncOnce(), /partition_list\[0\]\.repository/);
});

test('a main without targets yet backs up as soon as the first one is known', async (t) => {
  const w = await world();
  t.after(() => w.close());
  await writeFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'v1');
  w.answer = [assignment('slappart0', 'main')];
  await sync(w);
  assert.deepEqual(w.events, [], 'no backup command without a target');
  w.clock.advance(5);
  w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1) })];
  await sync(w);
  assert.equal(w.restic.calls.filter((call) => call.startsWith('backup')).length, 1);
});

test('a promoted clone whose services were started without settle is backed up anyway', async (t) => {
  const w = await world();
  t.after(() => w.close());
  w.answer = [assignment('slappart0', 'clone')];
  await sync(w);
  await writeFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'v1');
  w.answer = [assignment('slappart0', 'main', { targets: TARGETS.slice(0, 1) })];
  await sync(w);
  assert.equal(w.restic.calls.filter((call) => call.startsWith('backup')).length, 0, 'waits for settle');
  w.services.runningSet.add('slappart0');
  await sync(w);
  assert.equal(w.restic.calls.filter((call) => call.startsWith('backup')).length, 1);
});

const SOURCE_PASSWORD = 'c291cmNlLXRyZWUtcGFzc3dvcmQ';
const SOURCE_REMOTE = { computer_guid: 'COMP-4', url: 'https://127.0.0.4:8700', certificate: CERT };
const SOURCE_REMOTE_URL = `rest:${SOURCE_REMOTE.url}/tree-4/`;

/** tree-4 (the source) has its own password, every other repository the target's. */
const sourcePasswords = (url: string): string => (url.includes('tree-4') ? SOURCE_PASSWORD : PASSWORD);

function restoreFrom(
  locations: RestoreSource['locations'],
  backupId: string | null = null,
): PartitionBackupAssignment['restore_request'] {
  return {
    request_id: 'req-into',
    backup_id: backupId,
    source: { repository: 'tree-4', password: SOURCE_PASSWORD, locations },
  };
}

test('restore --into: the source tree is read remotely with its password, pinned; the target plan runs', async (t) => {
  const w = await world({ passwordOf: sourcePasswords });
  t.after(() => w.close());
  const sourceBackup = newBackupId(Date.UTC(2026, 0, 1));
  w.restic.add(SOURCE_REMOTE_URL, sourceBackup, { 'srv/data/db': 'from tree-4' });
  // The target tree's own backups, newer: never what a restore of the source reads.
  const ownRemote = `rest:${TARGETS[0]!.url}/tree-17/`;
  w.restic.add(ownRemote, newBackupId(Date.UTC(2026, 0, 5)), { 'srv/data/db': 'tree-17 own' });
  w.services.runningSet.add('slappart0');
  w.answer = [
    assignment('slappart0', 'main', {
      targets: TARGETS.slice(0, 1),
      restore_request: restoreFrom([
        SOURCE_REMOTE,
        { computer_guid: 'COMP-5', url: null, certificate: null },
      ]),
    }),
  ];
  await sync(w);
  assert.equal(await readFile(join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db'), 'utf8'), 'from tree-4');
  assert.deepEqual(w.events.slice(0, 5), [
    'backup /bin/dump slappart0',
    'stop slappart0',
    'restore /bin/load slappart0',
    'check /bin/check slappart0',
    'start slappart0',
  ]);
  const restoreTargets = w.targets.filter((target) => target.url.includes('tree-4'));
  assert.deepEqual(
    restoreTargets.map((target) => target.url),
    [SOURCE_REMOTE_URL, SOURCE_REMOTE_URL],
    'listed, then restored from; no other location',
  );
  for (const target of restoreTargets) {
    assert.equal(await readFile(target.caFile!, 'utf8'), CERT, 'the pinned certificate');
    assert.equal(target.clientCertFile, join(w.dir, 'client.pem'));
  }
  assert.ok(
    !w.restic.calls.some((call) => call.startsWith(`snapshots ${ownRemote}`)),
    "the target's own repositories are not read",
  );
  await w.agent.syncOnce();
  assert.deepEqual(w.bodies.at(-1)?.partition_list[0]?.restore_done, {
    request_id: 'req-into',
    ok: true,
    message: `restored ${sourceBackup}`,
    restored_backup_id: sourceBackup,
  });
  assert.ok(!w.logs.join('').includes(SOURCE_PASSWORD));
});

test("restore --into: this node's own repository of the source is read locally, never over its server", async (t) => {
  const w = await world({ passwordOf: sourcePasswords });
  t.after(() => w.close());
  const local = await localRepository(w, 'tree-4');
  const older = newBackupId(Date.UTC(2026, 0, 1));
  const newer = newBackupId(Date.UTC(2026, 0, 2));
  w.restic.add(local, newer, { 'srv/data/db': 'local newer' });
  w.restic.add(SOURCE_REMOTE_URL, older, { 'srv/data/db': 'remote older' });
  const self = { computer_guid: 'COMP-1', url: 'https://127.0.0.1:8700', certificate: CERT };
  w.answer = [assignment('slappart0', 'single', { restore_request: restoreFrom([self, SOURCE_REMOTE]) })];
  await sync(w);
  const db = join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db');
  assert.equal(await readFile(db, 'utf8'), 'local newer', 'the newest of every location');
  assert.ok(w.restic.calls.includes(`restore ${local} ${w.restic.repositories.get(local)![0]!.snapshotId}`));
  assert.ok(!w.targets.some((target) => target.url.startsWith(`rest:${self.url}`)), 'never its own server');
  await w.agent.syncOnce();
  assert.equal(w.bodies.at(-1)?.partition_list[0]?.restore_done?.restored_backup_id, newer);

  // A backup asked for by id is taken where it is.
  w.answer = [
    assignment('slappart0', 'single', {
      restore_request: { ...restoreFrom([self, SOURCE_REMOTE], older)!, request_id: 'req-into-2' },
    }),
  ];
  await sync(w);
  assert.equal(await readFile(db, 'utf8'), 'remote older');
  await w.agent.syncOnce();
  assert.equal(w.bodies.at(-1)?.partition_list[0]?.restore_done?.restored_backup_id, older);
});

test('restore --into: a node without the source repository locally skips itself; none found → failed', async (t) => {
  const w = await world({ passwordOf: sourcePasswords });
  t.after(() => w.close());
  w.services.runningSet.add('slappart0');
  const self = { computer_guid: 'COMP-1', url: 'https://127.0.0.1:8700', certificate: CERT };
  w.answer = [assignment('slappart0', 'single', { restore_request: restoreFrom([self]) })];
  await sync(w);
  await w.agent.syncOnce();
  const done = w.bodies.at(-1)?.partition_list[0]?.restore_done;
  assert.equal(done?.ok, false);
  assert.equal(done?.restored_backup_id, null);
  assert.match(done?.message ?? '', /no node holding backups of tree-4 can be read from this one/);
  assert.ok(!w.events.includes('stop slappart0'), 'services untouched');
  assert.ok(!w.targets.some((target) => target.url.includes('tree-4')), 'nothing to read');
});

test('restore --into: a failing check is reported failed and rolled back, without a restored backup id', async (t) => {
  const w = await world({ passwordOf: sourcePasswords, failCheck: () => true });
  t.after(() => w.close());
  w.restic.add(SOURCE_REMOTE_URL, newBackupId(Date.UTC(2026, 0, 1)), { 'srv/data/db': 'from tree-4' });
  const db = join(w.instanceRoot, 'slappart0', 'srv', 'data', 'db');
  await writeFile(db, 'current');
  w.services.runningSet.add('slappart0');
  w.answer = [assignment('slappart0', 'main', { restore_request: restoreFrom([SOURCE_REMOTE]) })];
  await sync(w);
  // The data in place saved first (services running), then the restore; the check fails: the
  // previous files go back and the restore commands run on them; the services start again.
  assert.deepEqual(w.events, [
    'backup /bin/dump slappart0',
    'stop slappart0',
    'restore /bin/load slappart0',
    'check /bin/check slappart0',
    'restore /bin/load slappart0',
    'start slappart0',
  ]);
  assert.equal(await readFile(db, 'utf8'), 'current');
  assert.deepEqual(await readdir(join(w.instanceRoot, 'slappart0', 'srv')), ['data'], 'no copy left aside');
  await w.agent.syncOnce();
  const done = w.bodies.at(-1)?.partition_list[0]?.restore_done;
  assert.equal(done?.ok, false);
  assert.equal(done?.restored_backup_id, null);
  assert.match(done?.message ?? '', /check failed; rolled back to the data in place before the restore/);
});

test("readers the master named may read this node's repository of the tree; writers append", async (t) => {
  const w = await world({ partitions: ['slappart0', 'slappart1'] });
  t.after(() => w.close());
  w.answer = [
    assignment('slappart0', 'clone', { writers: ['COMP-9'], readers: ['COMP-7', 'COMP-9'] }),
    assignment('slappart1', 'single', { repository: 'tree-18', readers: ['COMP-7'] }),
  ];
  await sync(w);
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-7' }, 'tree-17'), 'read');
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-7' }, 'tree-18'), 'read', 'any role');
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-9' }, 'tree-17'), 'append', 'append wins');
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-9' }, 'tree-18'), 'none');
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-8' }, 'tree-17'), 'none');
  w.answer = [assignment('slappart0', 'clone', { writers: ['COMP-9'] })];
  await sync(w);
  assert.equal(w.agent.authorize({ computeNodeId: 'COMP-7' }, 'tree-17'), 'none', 'no longer named');
});

/**
 * Backups and takeover of resilient trees at the service level: what the node sync tells each node
 * (and nothing of a tree to a node outside it), the promotion of a clone (partitions, connection
 * parameters, roles, epoch), the monitor with a fake clock, and fenced members becoming clones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import { openMasterModeServices, type MasterModeServices } from '../../testing/master-mode-services.ts';
import type { BackupPartitionReport } from './backup-sync.ts';
import { promoteClone, startFailoverMonitor } from './failover.ts';
import type { Caller } from './index.ts';
import { serviceReport } from '../../testing/backup-sync-report.ts';

const SR = 'https://example.com/sr.cfg';
const START = 1_700_000_000;
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
const PEM = (n: number) => `-----BEGIN CERTIFICATE-----\nTk9ERS0${n}=\n-----END CERTIFICATE-----\n`;

type World = MasterModeServices & {
  clock: ReturnType<typeof fixedClock>;
  ids: { x: number; c1: number; c2: number };
};

/** Nodes COMP-1..n (alice's, 2 partitions each, the SR supplied) and X resilient with 2 clones. */
async function world(nodes = 3): Promise<World> {
  const clock = fixedClock(START);
  const master = await openMasterModeServices({ clock });
  await master.setUp({
    users: ['alice', 'bob'],
    nodes: Array.from({ length: nodes }, (_, n) => ({ owner: 'alice', title: `node ${n + 1}` })),
  });
  for (let n = 1; n <= nodes; n++) {
    await master.format(`COMP-${n}`, 2);
    await master.services.supplySoftware({
      caller: alice,
      computeNodeId: `COMP-${n}`,
      url: SR,
      state: 'available',
    });
  }
  await master.request(alice, 'X', SR, { sla: { resilient: 'true', clones: '2' } });
  const ids = await master.store.read(async (repository) => {
    const id = async (title: string, requestedBy: string) =>
      (await repository.findInstance({ owner: 'alice', title, requestedBy, shared: false }))?.id ?? -1;
    return { x: await id('X', ''), c1: await id('X (clone 1)', 'X'), c2: await id('X (clone 2)', 'X') };
  });
  return { ...master, clock, ids };
}

const report = serviceReport;

function sync(w: World, node: number, partitions: BackupPartitionReport[] = []) {
  return w.services.syncBackups({
    caller: { kind: 'compute_node', computeNodeId: `COMP-${node}` },
    computeNodeId: `COMP-${node}`,
    repository: { url: `https://127.0.0.${node}:8700`, certificate: PEM(node) },
    partitions,
  });
}

test("a clone's node out of contact is left out of the main's targets until it makes contact again", async () => {
  const w = await world();
  try {
    const { x } = w.ids;
    await sync(w, 2);
    await sync(w, 3);
    const targets = async () =>
      (await sync(w, 1, [report(x)])).partitions[0]?.targets.map((target) => target.computeNodeId);
    assert.deepEqual(await targets(), ['COMP-2', 'COMP-3']);
    // failover_after (15 s by default) without COMP-3: it is gone for the main's pushes.
    w.clock.advance(10);
    await sync(w, 2);
    w.clock.advance(6);
    await sync(w, 2);
    assert.deepEqual(await targets(), ['COMP-2']);
    await sync(w, 3);
    assert.deepEqual(await targets(), ['COMP-2', 'COMP-3']);
  } finally {
    await w.store.close();
  }
});

test('the sync tells each node of the tree its role, password, targets and writers, and nothing to other nodes', async () => {
  const w = await world(4);
  try {
    const { x, c1, c2 } = w.ids;
    const tree = await w.store.read((repository) => repository.getBackupTree(x));
    assert.ok(tree);
    await sync(w, 2);
    await sync(w, 3);
    const main = await sync(w, 1, [report(x)]);
    assert.equal(main.heartbeatInterval, 5);
    assert.deepEqual(main.partitions, [
      {
        partitionId: 'slappart0',
        instanceGuid: `SOFTINST-${x}`,
        repository: `tree-${x}`,
        password: tree.password,
        role: 'main',
        epoch: 0,
        targets: [
          { computeNodeId: 'COMP-2', url: 'https://127.0.0.2:8700', certificate: PEM(2) },
          { computeNodeId: 'COMP-3', url: 'https://127.0.0.3:8700', certificate: PEM(3) },
        ],
        writers: [],
        readers: [],
        backupRequestedAt: null,
        restoreRequest: null,
      },
    ]);
    const clone = await sync(w, 2, [report(c1)]);
    assert.deepEqual(
      clone.partitions.map((order) => [
        order.instanceGuid,
        order.role,
        order.password,
        order.targets,
        order.writers,
      ]),
      [[`SOFTINST-${c1}`, 'clone', tree.password, [], ['COMP-1']]],
    );
    assert.deepEqual(
      (await sync(w, 3)).partitions.map((order) => order.instanceGuid),
      [`SOFTINST-${c2}`],
    );
    // A node outside the tree learns nothing of it, whatever it reports.
    const outsider = await sync(w, 4, [report(x), report(c1, { partitionId: 'slappart1' })]);
    assert.deepEqual(outsider.partitions, []);
    // A clone's node reporting the main's instance on its partition changes nothing of the main.
    await sync(w, 2, [report(x, { lastBackup: { backupId: '20261207T203015123Z-a1b2', time: 5 } })]);
    assert.equal((await w.store.read((repository) => repository.getBackupMember(x)))?.lastBackupId, null);
    // Another node's certificate may not sync in its name.
    await assert.rejects(
      w.services.syncBackups({
        caller: { kind: 'compute_node', computeNodeId: 'COMP-4' },
        computeNodeId: 'COMP-1',
        repository: null,
        partitions: [],
      }),
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
    );
  } finally {
    await w.store.close();
  }
});

test('a takeover swaps partitions and connection parameters, fences the former main, and bumps both nodes', async () => {
  const w = await world();
  try {
    const { x, c1 } = w.ids;
    await w.store.write(async (repository) => {
      await repository.updateInstance(x, {
        connectionXml: '<instance><parameter id="url">main</parameter></instance>',
        now: START,
      });
      await repository.updateInstance(c1, {
        connectionXml: '<instance><parameter id="url">clone</parameter></instance>',
        now: START,
      });
    });
    await sync(w, 1, [report(x)]);
    await sync(w, 2, [report(c1, { restored: { backupId: '20261207T203015123Z-a1b2', time: START - 2 } })]);
    await sync(w, 3, [
      report(w.ids.c2, { restored: { backupId: '20261207T203014000Z-0000', time: START - 9 } }),
    ]);
    const revisions = () =>
      w.store.read(async (repository) => [
        await repository.getNodeRevision('COMP-1'),
        await repository.getNodeRevision('COMP-2'),
      ]);
    const [one, two] = await revisions();
    w.clock.advance(1);
    const answer = await w.services.takeoverInstance({ caller: alice, title: 'X', clone: null });
    assert.deepEqual(answer, { title: 'X', computeNodeId: 'COMP-2', partitionId: 'slappart0', epoch: 1 });
    const [oneAfter, twoAfter] = await revisions();
    assert.ok((oneAfter ?? 0) > (one ?? 0) && (twoAfter ?? 0) > (two ?? 0), 'both nodes see the change');
    await w.store.read(async (repository) => {
      const root = await repository.getInstanceById(x);
      const fenced = await repository.getInstanceById(c1);
      assert.deepEqual(root?.location, { computeNodeId: 'COMP-2', partitionId: 'slappart0' });
      assert.equal(root?.requestedState, 'started');
      assert.match(root?.connectionXml ?? '', />clone</);
      assert.deepEqual(fenced?.location, { computeNodeId: 'COMP-1', partitionId: 'slappart0' });
      assert.equal(fenced?.requestedState, 'stopped');
      assert.match(fenced?.connectionXml ?? '', />main</);
      assert.equal((await repository.getBackupMember(c1))?.role, 'fenced');
      assert.equal((await repository.getBackupMember(x))?.role, 'main');
      assert.equal((await repository.getBackupTree(x))?.epoch, 1);
      const [event] = await repository.listInstanceEvents(x, 1);
      assert.equal(event?.kind, 'takeover');
      assert.match(event?.detail ?? '', /^from COMP-1\/slappart0 to COMP-2\/slappart0: asked by its owner$/);
      const history = (await repository.listPartitionAllocations('COMP-1')).filter(
        (row) => row.partitionId === 'slappart0',
      );
      assert.deepEqual(
        history.map((row) => [row.instanceId, row.releasedAt]),
        [
          [x, START + 1],
          [c1, null],
        ],
      );
    });
    // The former main's node is told to stop and whom to let push; once stopped it is a clone.
    let fenced = await sync(w, 1, [report(c1)]);
    assert.deepEqual(
      fenced.partitions.map((order) => [order.instanceGuid, order.role, order.writers]),
      [[`SOFTINST-${c1}`, 'fenced', ['COMP-2']]],
    );
    const main = await sync(w, 2, [report(x)]);
    assert.deepEqual(
      main.partitions.map((order) => [order.role, order.targets.map((target) => target.computeNodeId)]),
      [['main', ['COMP-3']]],
    );
    fenced = await sync(w, 1, [report(c1, { servicesStopped: true })]);
    assert.equal(fenced.partitions[0]?.role, 'clone');
    assert.deepEqual(
      (await sync(w, 2, [])).partitions[0]?.targets.map((target) => target.computeNodeId),
      ['COMP-1', 'COMP-3'],
    );
    const [unfenced] = await w.store.read((repository) => repository.listInstanceEvents(c1, 1));
    assert.equal(unfenced?.kind, 'unfenced');
  } finally {
    await w.store.close();
  }
});

test('takeover is refused (409) when no clone can take over, to other users, and for a tree without clones', async () => {
  const w = await world();
  try {
    const conflict = (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_CONFLICT';
    // No clone restored anything yet.
    await assert.rejects(w.services.takeoverInstance({ caller: alice, title: 'X', clone: null }), conflict);
    await sync(w, 2, [report(w.ids.c1, { restored: { backupId: '20261207T203015123Z-a1b2', time: START } })]);
    await sync(w, 3);
    // The named clone restored nothing; a title that is no clone of the tree.
    await assert.rejects(
      w.services.takeoverInstance({ caller: alice, title: 'X', clone: 'X (clone 2)' }),
      conflict,
    );
    await assert.rejects(w.services.takeoverInstance({ caller: alice, title: 'X', clone: 'X' }), conflict);
    await assert.rejects(
      w.services.takeoverInstance({ caller: bob, title: 'X', clone: null }),
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
    );
    await w.request(alice, 'plain', SR);
    await assert.rejects(
      w.services.takeoverInstance({ caller: alice, title: 'plain', clone: null }),
      conflict,
    );
    assert.equal((await w.store.read((repository) => repository.getBackupTree(w.ids.x)))?.epoch, 0);
    const named = await w.services.takeoverInstance({ caller: alice, title: 'X', clone: 'X (clone 1)' });
    assert.equal(named.computeNodeId, 'COMP-2');
  } finally {
    await w.store.close();
  }
});

test('the epoch compare-and-set makes a second concurrent promotion a no-op', async () => {
  const w = await world();
  try {
    const { x, c1, c2 } = w.ids;
    const promote = (cloneInstanceId: number) =>
      w.store.write((repository) =>
        promoteClone(repository, {
          rootInstanceId: x,
          cloneInstanceId,
          expectedEpoch: 0,
          reason: 'test',
          now: START + 1,
        }),
      );
    const results = await Promise.all([promote(c1), promote(c2)]);
    assert.equal(results.filter((result) => result !== undefined).length, 1);
    const winner = results[0] ? c1 : c2;
    const loser = winner === c1 ? c2 : c1;
    await w.store.read(async (repository) => {
      assert.equal((await repository.getBackupTree(x))?.epoch, 1);
      assert.equal((await repository.getBackupMember(winner))?.role, 'fenced');
      assert.equal((await repository.getBackupMember(loser))?.role, 'clone');
      const winnerNode = winner === c1 ? 'COMP-2' : 'COMP-3';
      assert.deepEqual((await repository.getInstanceById(x))?.location, {
        computeNodeId: winnerNode,
        partitionId: 'slappart0',
      });
      assert.deepEqual((await repository.getInstanceById(winner))?.location, {
        computeNodeId: 'COMP-1',
        partitionId: 'slappart0',
      });
      assert.ok(!(await repository.listInstanceEvents(loser, 10)).some((event) => event.kind === 'takeover'));
    });
    // A promotion with the stale epoch changes nothing.
    assert.equal(await promote(loser), undefined);
    assert.equal((await w.store.read((repository) => repository.getBackupTree(x)))?.epoch, 1);
  } finally {
    await w.store.close();
  }
});

test('the monitor promotes the freshest clone once the main is silent for failover_after, never during the grace after start', async () => {
  const w = await world();
  try {
    const { x, c1, c2 } = w.ids;
    w.context.failover.graceAfterStartSeconds = 60;
    const monitor = startFailoverMonitor(w.context, { timer: false });
    const heartbeat = async (withMain: boolean) => {
      if (withMain) await sync(w, 1, [report(x)]);
      await sync(w, 2, [report(c1, { restored: { backupId: '20261207T203015123Z-a1b2', time: START } })]);
      await sync(w, 3, [report(c2, { restored: { backupId: '20261207T203010000Z-0000', time: START - 5 } })]);
    };
    const mainNode = async () =>
      (await w.store.read((repository) => repository.getInstanceById(x)))?.location?.computeNodeId;
    await heartbeat(true);
    // The main's node goes silent; its clones' go on.
    for (let second = 5; second <= 55; second += 5) {
      w.clock.set(START + second);
      await heartbeat(false);
      await monitor.tick();
      assert.equal(
        await mainNode(),
        'COMP-1',
        `still the main at +${second} s: the master is in its grace period`,
      );
    }
    // Past the grace: the main is lost; its promises stopped too. But a promise report keeps it.
    w.clock.set(START + 60);
    await w.store.write((repository) =>
      repository.setPromiseResults(x, { resultListJson: '[]', reportedAt: START + 58 }),
    );
    await heartbeat(false);
    await monitor.tick();
    assert.equal(await mainNode(), 'COMP-1', 'promises reported within failover_after: not lost');
    w.clock.set(START + 74);
    await heartbeat(false);
    const setState = (requestedState: 'started' | 'stopped') =>
      w.store.write((repository) => repository.updateInstance(x, { requestedState, now: START + 74 }));
    await setState('stopped');
    await monitor.tick();
    assert.equal(await mainNode(), 'COMP-1', 'a tree its owner stopped is not taken over');
    await setState('started');
    await monitor.tick();
    assert.equal(await mainNode(), 'COMP-2', 'the most recently restored clone took over');
    assert.equal((await w.store.read((repository) => repository.getBackupTree(x)))?.epoch, 1);
    // The next passes do not move it again (the new main's node is live).
    w.clock.set(START + 76);
    await heartbeat(false);
    await monitor.tick();
    assert.equal(await mainNode(), 'COMP-2');
    await monitor.close();
  } finally {
    await w.context.contacts.close();
    await w.store.close();
  }
});

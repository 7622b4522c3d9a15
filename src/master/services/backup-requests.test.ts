/**
 * Restores at the service level (backup-requests.ts, backup-sync.ts): a restore into another tree
 * (the target requested like the source, or used as it is), what the sync tells the target's node
 * (the source's repository, password and locations) and the source's nodes (readers, while the
 * request is pending), the refusals, and the tree's restore status from request to outcome.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import { decodeParameterXml } from '../../core/parameter-xml.ts';
import { openMasterModeServices, type MasterModeServices } from '../../testing/master-mode-services.ts';
import { hostileString, LINE_TERMINATORS, seededRandom } from '../../testing/hostile-strings.ts';
import type { BackupPartitionReport } from './backup-sync.ts';
import type { Caller } from './index.ts';
import { serviceReport } from '../../testing/backup-sync-report.ts';

const SR = 'https://example.com/sr.cfg';
const OTHER_SR = 'https://example.com/other.cfg';
const START = 1_700_000_000;
const B1 = '20261207T203015123Z-a1b2';
const B2 = '20261208T203015123Z-c3d4';
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
const PEM = (n: number) => `-----BEGIN CERTIFICATE-----\nTk9ERS0${n}=\n-----END CERTIFICATE-----\n`;
const PARAMETERS = { a: 'x', b: 'y\nz <&>' };

type World = MasterModeServices & { clock: ReturnType<typeof fixedClock> };

/**
 * Nodes COMP-1..4 (one partition each, both releases supplied); X resilient (type db, 1 clone), its
 * main on COMP-1 and its clone elsewhere; both hold B1, the main B2 too.
 */
async function world(): Promise<World & { x: number; clone: number; cloneNode: string }> {
  const clock = fixedClock(START);
  const master = await openMasterModeServices({ clock });
  await master.setUp({
    users: ['alice'],
    nodes: Array.from({ length: 4 }, (_, n) => ({ owner: 'alice', title: `node ${n + 1}` })),
  });
  for (let n = 1; n <= 4; n++) {
    await master.format(`COMP-${n}`, 1);
    for (const url of [SR, OTHER_SR])
      await master.services.supplySoftware({
        caller: alice,
        computeNodeId: `COMP-${n}`,
        url,
        state: 'available',
      });
  }
  await master.services.requestInstance({
    caller: alice,
    title: 'X',
    softwareRelease: SR,
    softwareType: 'db',
    parameters: PARAMETERS,
    shared: false,
    state: 'started',
    sla: { computer_guid: 'COMP-1', resilient: 'true', clones: '1' },
  });
  const w = { ...master, clock };
  const x = await instanceId(w, 'X');
  const clone = await instanceId(w, 'X (clone 1)', 'X');
  const cloneNode = await nodeOf(w, clone);
  await sync(w, 'COMP-1', [report(x, { backupList: [ref(B1, 1), ref(B2, 2)] })]);
  await sync(w, cloneNode, [report(clone, { backupList: [ref(B1, 1)] })]);
  return { ...w, x, clone, cloneNode };
}

const ref = (backupId: string, time: number) => ({ backupId, time });

async function instanceId(w: MasterModeServices, title: string, requestedBy = ''): Promise<number> {
  const found = await w.store.read((repository) =>
    repository.findInstance({ owner: 'alice', title, requestedBy, shared: false }),
  );
  assert.ok(found, title);
  return found.id;
}

async function nodeOf(w: MasterModeServices, id: number): Promise<string> {
  const node = await w.store.read((repository) => repository.instanceComputeNode(id));
  assert.ok(node !== undefined);
  return node;
}

const report = serviceReport;

/** A node's sync; COMP-1 reports no repository server. */
function sync(w: MasterModeServices, node: string, partitions: BackupPartitionReport[] = []) {
  const n = Number(node.slice('COMP-'.length));
  return w.services.syncBackups({
    caller: { kind: 'compute_node', computeNodeId: node },
    computeNodeId: node,
    repository: node === 'COMP-1' ? null : { url: `https://127.0.0.${n}:8700`, certificate: PEM(n) },
    partitions,
  });
}

async function backupList(w: MasterModeServices, title: string) {
  return w.services.listBackups({ caller: alice, title });
}

function refusedWith(code: string) {
  return (error: unknown) => error instanceof SlapError && error.code === code;
}

test('restore into a new tree: requested like the source, the request on its tree, the source read from its nodes', async () => {
  const w = await world();
  try {
    const { requestId } = await w.services.requestRestore({
      caller: alice,
      title: 'X',
      backupId: B1,
      into: 'Y',
    });
    const y = await instanceId(w, 'Y');
    const target = await w.store.read(async (repository) => ({
      instance: await repository.findInstance({ owner: 'alice', title: 'Y', requestedBy: '', shared: false }),
      tree: await repository.getBackupTree(y),
      source: await repository.getBackupTree(w.x),
    }));
    assert.ok(target.instance && target.tree && target.source);
    assert.equal(target.instance.softwareRelease, SR);
    assert.equal(target.instance.softwareType, 'db');
    assert.equal(target.instance.requestedState, 'started');
    assert.deepEqual({ ...decodeParameterXml(target.instance.parameterXml) }, PARAMETERS);
    assert.deepEqual(JSON.parse(target.instance.slaJson), {});
    assert.equal(target.tree.clones, 0, 'the target is not resilient');
    assert.notEqual(target.tree.password, target.source.password);
    assert.equal(target.tree.restoreSourceRootId, w.x);
    assert.equal(target.source.restoreRequestJson, null, "the source's own request is untouched");

    const pending = {
      request_id: requestId,
      state: 'pending',
      backup_id: B1,
      restored_backup_id: null,
      source: 'X',
      message: '',
      requested_at: START,
      finished_at: null,
    };
    assert.deepEqual((await backupList(w, 'Y')).restore, pending);
    assert.deepEqual((await backupList(w, 'Y')).backups, []);
    assert.equal((await backupList(w, 'X')).restore, null);

    // The target's node learns the request once it reports the target declares data.
    const yNode = await nodeOf(w, y);
    assert.ok(!['COMP-1', w.cloneNode].includes(yNode));
    assert.deepEqual((await sync(w, yNode)).partitions, []);
    const [order] = (await sync(w, yNode, [report(y)])).partitions;
    assert.ok(order);
    assert.equal(order.role, 'single');
    assert.equal(order.repository, `tree-${y}`);
    assert.deepEqual(order.readers, []);
    const n = Number(w.cloneNode.slice('COMP-'.length));
    const locations = [
      { computeNodeId: w.cloneNode, url: `https://127.0.0.${n}:8700`, certificate: PEM(n) },
      { computeNodeId: 'COMP-1', url: null, certificate: null },
    ].sort((a, b) => b.computeNodeId.localeCompare(a.computeNodeId));
    assert.deepEqual(order.restoreRequest, {
      requestId,
      backupId: B1,
      source: { repository: `tree-${w.x}`, password: target.source.password, locations },
    });

    // The source's members (any role) let the target's node read, while the request is pending.
    const readers = async () => [
      (await sync(w, 'COMP-1', [report(w.x)])).partitions.map((o) => o.readers),
      (await sync(w, w.cloneNode, [report(w.clone)])).partitions.map((o) => o.readers),
    ];
    assert.deepEqual(await readers(), [[[yNode]], [[yNode]]]);

    // The outcome: the request goes, the status says it, the event is the target's.
    w.clock.advance(3);
    const done = { requestId, ok: true, message: 'checked: kv answers', restoredBackupId: B1 };
    assert.deepEqual(
      (await sync(w, yNode, [report(y, { restoreDone: done })])).partitions[0]?.restoreRequest,
      null,
    );
    assert.deepEqual((await backupList(w, 'Y')).restore, {
      ...pending,
      state: 'done',
      restored_backup_id: B1,
      message: 'checked: kv answers',
      finished_at: START + 3,
    });
    assert.deepEqual(await readers(), [[[]], [[]]]);
    const events = await w.store.read(async (repository) => ({
      y: await repository.listInstanceEvents(y, 50),
      x: await repository.listInstanceEvents(w.x, 50),
    }));
    assert.deepEqual(
      events.y.filter((event) => event.kind === 'restored').map((event) => event.detail),
      [`${requestId} ${B1} of X: done (checked: kv answers)`],
    );
    assert.ok(!events.x.some((event) => event.kind === 'restored'));
    // A second report of the same outcome changes nothing.
    await sync(w, yNode, [report(y, { restoreDone: { ...done, ok: false, message: 'late' } })]);
    assert.equal((await backupList(w, 'Y')).restore?.state, 'done');
  } finally {
    await w.store.close();
  }
});

test('restore into an existing tree: used as it is; without a backup id every listing node is a location; a failure is kept', async () => {
  const w = await world();
  try {
    await w.services.requestInstance({
      caller: alice,
      title: 'Z',
      softwareRelease: OTHER_SR,
      softwareType: 'other',
      parameters: { c: '1' },
      shared: false,
      state: 'started',
      sla: {},
    });
    const z = await instanceId(w, 'Z');
    const { requestId } = await w.services.requestRestore({
      caller: alice,
      title: 'X',
      backupId: null,
      into: 'Z',
    });
    assert.equal(await instanceId(w, 'Z'), z);
    const instance = await w.store.read((repository) =>
      repository.findInstance({ owner: 'alice', title: 'Z', requestedBy: '', shared: false }),
    );
    assert.equal(instance?.softwareRelease, OTHER_SR, "the target's own release is kept");
    assert.deepEqual({ ...decodeParameterXml(instance?.parameterXml) }, { c: '1' });
    const zNode = await nodeOf(w, z);
    const [order] = (await sync(w, zNode, [report(z)])).partitions;
    assert.equal(order?.restoreRequest?.backupId, null);
    assert.deepEqual(
      order?.restoreRequest?.source?.locations.map((location) => location.computeNodeId).sort(),
      ['COMP-1', w.cloneNode],
    );
    w.clock.advance(1);
    const failed = { requestId, ok: false, message: 'check failed: no table t', restoredBackupId: null };
    await sync(w, zNode, [report(z, { restoreDone: failed })]);
    assert.deepEqual((await backupList(w, 'Z')).restore, {
      request_id: requestId,
      state: 'failed',
      backup_id: null,
      restored_backup_id: null,
      source: 'X',
      message: 'check failed: no table t',
      requested_at: START,
      finished_at: START + 1,
    });
  } finally {
    await w.store.close();
  }
});

test('refusals: into the source or one of its members, an unknown backup, bad titles; a new request replaces the pending one', async () => {
  const w = await world();
  try {
    const restore = (into: string | null, backupId: string | null = null, title = 'X') =>
      w.services.requestRestore({ caller: alice, title, backupId, into });
    await assert.rejects(restore('X'), refusedWith('SLAP_ERR_CONFLICT'));
    await assert.rejects(restore('X (clone 1)'), refusedWith('SLAP_ERR_CONFLICT'));
    await assert.rejects(restore('Y', '20991208T203015123Z-ffff'), refusedWith('SLAP_ERR_CONFLICT'));
    await assert.rejects(restore('', null), refusedWith('SLAP_ERR_INVALID_INPUT'));
    await assert.rejects(restore('y'.repeat(201), null), refusedWith('SLAP_ERR_INVALID_INPUT'));
    await assert.rejects(restore('Y', null, 'nothing'), refusedWith('SLAP_ERR_INSTANCE_TREE_NOT_FOUND'));
    await assert.rejects(
      w.services.requestRestore({
        caller: { kind: 'user', userId: 'bob', admin: false },
        title: 'X',
        backupId: null,
        into: 'Y',
      }),
      (error: unknown) => error instanceof SlapError,
    );
    const count = await w.store.read(async (repository) =>
      repository.findInstance({ owner: 'alice', title: 'Y', requestedBy: '', shared: false }),
    );
    assert.equal(count, undefined, 'no refused request created its target');

    // A source listing no backup cannot be restored from.
    await w.request(alice, 'E', SR);
    const e = await instanceId(w, 'E');
    await sync(w, await nodeOf(w, e), [report(e)]);
    await assert.rejects(restore('Y', null, 'E'), refusedWith('SLAP_ERR_CONFLICT'));

    // A plain restore's source is the tree itself; a second request replaces it.
    const first = await restore(null, B2);
    assert.equal((await backupList(w, 'X')).restore?.source, 'X');
    w.clock.advance(1);
    const second = await restore(null);
    assert.deepEqual((await backupList(w, 'X')).restore, {
      request_id: second.requestId,
      state: 'pending',
      backup_id: null,
      restored_backup_id: null,
      source: 'X',
      message: '',
      requested_at: START + 1,
      finished_at: null,
    });
    const [order] = (await sync(w, 'COMP-1', [report(w.x)])).partitions;
    assert.deepEqual(order?.restoreRequest, { requestId: second.requestId, backupId: null, source: null });
    // The replaced request's outcome is not this one's.
    await sync(w, 'COMP-1', [
      report(w.x, {
        restoreDone: { requestId: first.requestId, ok: true, message: '', restoredBackupId: B2 },
      }),
    ]);
    assert.equal((await backupList(w, 'X')).restore?.state, 'pending');
  } finally {
    await w.store.close();
  }
});

test('a restore whose source tree is destroyed fails with why, and its node is told nothing', async () => {
  const w = await world();
  try {
    const { requestId } = await w.services.requestRestore({
      caller: alice,
      title: 'X',
      backupId: B1,
      into: 'Y',
    });
    const y = await instanceId(w, 'Y');
    await w.store.write((repository) => repository.deleteInstance(w.x));
    const [order] = (await sync(w, await nodeOf(w, y), [report(y)])).partitions;
    assert.equal(order?.restoreRequest, null);
    const status = (await backupList(w, 'Y')).restore;
    assert.equal(status?.request_id, requestId);
    assert.equal(status?.state, 'failed');
    assert.match(status?.message ?? '', /source tree X/);
  } finally {
    await w.store.close();
  }
});

test('a hostile into (property): refused as bad input or a conflict, or a target whose title round-trips exactly', async () => {
  const w = await world();
  try {
    const random = seededRandom(18);
    let created = 0;
    for (let run = 0; run < 300; run++) {
      const into =
        run < LINE_TERMINATORS.length ? `Y${LINE_TERMINATORS[run] ?? ''}` : `${hostileString(random, 6)}`;
      let requestId: string;
      try {
        ({ requestId } = await w.services.requestRestore({ caller: alice, title: 'X', backupId: B1, into }));
      } catch (error) {
        assert.ok(
          error instanceof SlapError && ['SLAP_ERR_INVALID_INPUT', 'SLAP_ERR_CONFLICT'].includes(error.code),
          `${JSON.stringify(into)}: ${String(error)}`,
        );
        continue;
      }
      created++;
      const root = await w.store.read((repository) =>
        repository.findInstance({ owner: 'alice', title: into, requestedBy: '', shared: false }),
      );
      assert.equal(root?.title, into);
      assert.equal((await backupList(w, into)).restore?.request_id, requestId);
    }
    assert.ok(created > 0, 'some hostile titles are acceptable ones');
  } finally {
    await w.store.close();
  }
});

/** Resilient requests (backup-trees.ts): clones created, placed apart, updated and destroyed with their root. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import { openMasterModeServices, type MasterModeServices } from '../../testing/master-mode-services.ts';
import type { Caller } from './index.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { resilienceOf } from './backup-trees.ts';

const SR = 'https://example.com/sr.cfg';
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };

async function world(nodes: number, partitions = 2): Promise<MasterModeServices> {
  const master = await openMasterModeServices({ clock: fixedClock(1_700_000_000) });
  await master.setUp({
    users: ['alice'],
    nodes: Array.from({ length: nodes }, (_, n) => ({ owner: 'alice', title: `node ${n + 1}` })),
  });
  for (let n = 1; n <= nodes; n++) {
    await master.format(`COMP-${n}`, partitions);
    await master.services.supplySoftware({
      caller: alice,
      computeNodeId: `COMP-${n}`,
      url: SR,
      state: 'available',
    });
  }
  return master;
}

async function treeOf(master: MasterModeServices, title: string) {
  return master.store.read(async (repository) => {
    const root = await repository.findInstance({ owner: 'alice', title, requestedBy: '', shared: false });
    assert.ok(root);
    const children = await repository.listChildren('alice', title);
    return {
      root,
      children,
      tree: await repository.getBackupTree(root.id),
      members: await repository.listBackupMembers(root.id),
    };
  });
}

test('resilienceOf: the SLA and the software type suffix; bad values refused', () => {
  assert.equal(resilienceOf({}, 'default'), undefined);
  assert.equal(resilienceOf({ resilient: 'false' }, 'default'), undefined);
  assert.deepEqual(resilienceOf({ resilient: 'true' }, ''), { clones: 1, softwareType: 'default' });
  assert.deepEqual(resilienceOf({ resilient: 'true', clones: '5' }, 'db'), { clones: 5, softwareType: 'db' });
  assert.deepEqual(resilienceOf({}, 'db-resilient'), { clones: 1, softwareType: 'db' });
  assert.deepEqual(resilienceOf({ clones: '2' }, 'resilient'), { clones: 2, softwareType: 'default' });
  assert.deepEqual(resilienceOf({}, '-resilient'), { clones: 1, softwareType: 'default' });
  for (const sla of [
    { resilient: 'yes' },
    { resilient: 'true', clones: '0' },
    { resilient: 'true', clones: '6' },
    { resilient: 'true', clones: '01' },
    { resilient: 'true', clones: '1.5' },
    { resilient: 'true', clones: ' 1' },
    { resilient: 'true', clones: '1\n' },
    { clones: '2' },
  ])
    assert.throws(
      () => resilienceOf(sla, 'default'),
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_INVALID_INPUT',
      JSON.stringify(sla),
    );
});

test('resilienceOf (property): any other clones or resilient value is refused, never read as something else', () => {
  const random = seededRandom(12);
  for (let run = 0; run < 2000; run++) {
    const value = random() < 0.5 ? hostileString(random, 4) : String(Math.floor(random() * 12) - 3);
    const clones = /^[1-5]$/.test(value) ? Number(value) : undefined;
    const asked = (): unknown => resilienceOf({ resilient: 'true', clones: value }, 'default');
    if (clones === undefined)
      assert.throws(
        asked,
        (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_INVALID_INPUT',
        JSON.stringify(value),
      );
    else assert.deepEqual(asked(), { clones, softwareType: 'default' });
    const flag = hostileString(random, 3);
    const resilient = (): unknown => resilienceOf({ resilient: flag }, 'default');
    if (['true', 'True'].includes(flag))
      assert.deepEqual(resilient(), { clones: 1, softwareType: 'default' });
    else if (['false', 'False'].includes(flag)) assert.equal(resilient(), undefined);
    else assert.throws(resilient, SlapError, JSON.stringify(flag));
    // A software type keeps everything but its suffix.
    const type = hostileString(random, 3);
    assert.equal(resilienceOf({}, `${type}-resilient`)?.softwareType, type === '' ? 'default' : type);
  }
});

test('a resilient request over 3 nodes places the main and its 2 clones on 3 different nodes, stopped', async () => {
  const master = await world(3);
  try {
    const view = await master.request(alice, 'X', SR, { sla: { resilient: 'true', clones: '2' } });
    assert.equal(view.computeNodeId, 'COMP-1');
    const { root, children, tree, members } = await treeOf(master, 'X');
    assert.deepEqual(
      children.map((child) => [child.title, child.requestedState, child.location?.computeNodeId]),
      [
        ['X (clone 1)', 'stopped', 'COMP-2'],
        ['X (clone 2)', 'stopped', 'COMP-3'],
      ],
    );
    for (const child of children) {
      assert.equal(child.softwareRelease, SR);
      assert.equal(child.softwareType, root.softwareType);
      assert.equal(child.parameterXml, root.parameterXml);
    }
    assert.equal(tree?.clones, 2);
    assert.equal(tree?.epoch, 0);
    assert.match(tree?.password ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(
      members.map((member) => member.role),
      ['main', 'clone', 'clone'],
    );
  } finally {
    await master.store.close();
  }
});

test('a clone waits, with why, while every node holds a member of its tree; a new node takes it', async () => {
  const master = await world(2, 3);
  try {
    await master.request(alice, 'X', SR, { sla: { resilient: 'true', clones: '2' } });
    let { children } = await treeOf(master, 'X');
    assert.equal(children[0]?.location?.computeNodeId, 'COMP-2');
    assert.equal(children[1]?.location, null);
    assert.match(
      children[1]?.allocationMessage ?? '',
      /other than those holding its resilient instance tree's other instances \(COMP-1, COMP-2\)/,
    );
    // Re-requesting does not put it beside another member either.
    await master.request(alice, 'X', SR, { sla: { resilient: 'true', clones: '2' } });
    ({ children } = await treeOf(master, 'X'));
    assert.equal(children[1]?.location, null);
    const third = await master.store.write((repository) =>
      repository.registerComputeNode({ owner: 'alice', title: 'three', now: 1 }),
    );
    await master.format(third, 1);
    await master.services.supplySoftware({
      caller: alice,
      computeNodeId: third,
      url: SR,
      state: 'available',
    });
    ({ children } = await treeOf(master, 'X'));
    assert.equal(children[1]?.location?.computeNodeId, third);
    assert.equal(children[1]?.allocationMessage, null);
  } finally {
    await master.store.close();
  }
});

test('re-requesting the root updates its clones; fewer clones destroy the extra ones; destroying the root destroys them', async () => {
  const master = await world(3);
  try {
    await master.request(alice, 'X', SR, { sla: { resilient: 'true', clones: '2' } });
    await master.services.requestInstance({
      caller: alice,
      title: 'X',
      softwareRelease: SR,
      softwareType: 'default-resilient',
      parameters: { size: '2' },
      shared: false,
      state: 'started',
      sla: { clones: '2' },
    });
    let { root, children } = await treeOf(master, 'X');
    assert.equal(root.softwareType, 'default');
    for (const child of children) {
      assert.equal(child.parameterXml, root.parameterXml);
      assert.equal(child.requestedState, 'stopped');
    }
    await master.request(alice, 'X', SR, {
      sla: { resilient: 'true', clones: '1' },
      parameters: { size: '2' },
    });
    ({ children } = await treeOf(master, 'X'));
    assert.deepEqual(
      children.map((child) => [child.title, child.requestedState]),
      [
        ['X (clone 1)', 'stopped'],
        ['X (clone 2)', 'destroyed'],
      ],
    );
    await master.services.requestInstance({
      caller: alice,
      title: 'X',
      softwareRelease: SR,
      softwareType: '',
      parameters: { size: '2' },
      shared: false,
      state: 'destroyed',
      sla: {},
    });
    ({ root, children } = await treeOf(master, 'X'));
    assert.equal(root.requestedState, 'destroyed');
    assert.deepEqual(
      children.map((child) => child.requestedState),
      ['destroyed', 'destroyed'],
    );
  } finally {
    await master.store.close();
  }
});

test('resilience is refused where it cannot be: bad SLA values, a child asking it', async () => {
  const master = await world(1);
  try {
    await assert.rejects(
      master.request(alice, 'X', SR, { sla: { resilient: 'true', clones: '9' } }),
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_INVALID_INPUT',
    );
    assert.deepEqual(await master.store.read((repository) => repository.listPendingInstances()), []);
  } finally {
    await master.store.close();
  }
});

test('a clone hosts no shared instance: its services are stopped', async () => {
  const master = await world(3);
  try {
    await master.request(alice, 'X', SR, { sla: { resilient: 'true', clones: '2' } });
    const onClone = master.request(alice, 'S', SR, { shared: true, sla: { computer_guid: 'COMP-2' } });
    await assert.rejects(
      onClone,
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_ALLOCATION_FAILED',
    );
    const { children } = await treeOf(master, 'X');
    const named = master.request(alice, 'S', SR, {
      shared: true,
      sla: { instance_guid: `SOFTINST-${children[0]?.id ?? 0}` },
    });
    await assert.rejects(
      named,
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_ALLOCATION_FAILED',
    );
    const hosted = await master.request(alice, 'S', SR, { shared: true });
    assert.equal(hosted.computeNodeId, 'COMP-1');
  } finally {
    await master.store.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededChoices, seededRandom } from '../testing/hostile-strings.ts';
import {
  chooseClone,
  decideFailover,
  type FailoverSettings,
  type MemberRole,
  type MemberState,
  type TreeState,
} from './failover-decision.ts';

const NOW = 1_765_000_000.5;
const settings: FailoverSettings = { failoverAfterSeconds: 15, startedAt: NOW - 3600 };

function member(instanceId: number, role: MemberRole, fields: Partial<MemberState> = {}): MemberState {
  return {
    instanceId,
    role,
    computeNodeId: `COMP-${instanceId}`,
    nodeLastContactAt: NOW - 1,
    promisesReportedAt: NOW - 1,
    restoredAt: role === 'main' ? null : NOW - 60,
    ...fields,
  };
}

function tree(members: MemberState[]): TreeState {
  return { rootInstanceId: 1, epoch: 4, members };
}

const lostMain = member(1, 'main', { nodeLastContactAt: NOW - 16, promisesReportedAt: NOW - 16 });

test('a lost main is taken over by the clone with the newest restored backup', () => {
  const decision = decideFailover(
    tree([
      lostMain,
      member(2, 'clone', { restoredAt: NOW - 90 }),
      member(3, 'clone', { restoredAt: NOW - 30 }),
    ]),
    settings,
    NOW,
  );
  assert.equal(decision.kind, 'promote');
  assert.equal(decision.kind === 'promote' && decision.cloneInstanceId, 3);
  assert.match(decision.reason, /COMP-1 is lost \(no contact for 16 s, no promise results for 16 s\)/);
});

test('failover_after is a bound: contact exactly failover_after ago is still contact', () => {
  const onTheBound = member(1, 'main', { nodeLastContactAt: NOW - 15, promisesReportedAt: null });
  assert.deepEqual(decideFailover(tree([onTheBound, member(2, 'clone')]), settings, NOW), {
    kind: 'none',
    reason: "the main's node COMP-1 is in contact",
  });
  const promises = member(1, 'main', { nodeLastContactAt: null, promisesReportedAt: NOW - 15 });
  assert.deepEqual(decideFailover(tree([promises, member(2, 'clone')]), settings, NOW), {
    kind: 'none',
    reason: "the main's promises still report",
  });
  const silent = member(1, 'main', { nodeLastContactAt: null, promisesReportedAt: null });
  assert.equal(decideFailover(tree([silent, member(2, 'clone')]), settings, NOW).kind, 'promote');
});

test('nothing is promoted during the grace period after the master starts', () => {
  const young = { failoverAfterSeconds: 15, startedAt: NOW - 14.9 };
  const decision = decideFailover(tree([lostMain, member(2, 'clone')]), young, NOW);
  assert.equal(decision.kind, 'none');
  assert.match(decision.reason, /^grace period/);
  assert.equal(
    decideFailover(tree([lostMain, member(2, 'clone')]), { ...young, startedAt: NOW - 15 }, NOW).kind,
    'promote',
  );
});

test('no candidate: fenced, on the main node, node lost, never restored, unallocated', () => {
  const members = [
    lostMain,
    member(2, 'fenced', { restoredAt: NOW }),
    member(3, 'clone', { computeNodeId: 'COMP-1', restoredAt: NOW }),
    member(4, 'clone', { nodeLastContactAt: NOW - 16, restoredAt: NOW }),
    member(5, 'clone', { restoredAt: null }),
    member(6, 'clone', { computeNodeId: null, restoredAt: NOW }),
  ];
  assert.deepEqual(decideFailover(tree(members), settings, NOW), {
    kind: 'none',
    reason:
      "the main's node COMP-1 is lost (no contact for 16 s, no promise results for 16 s) but no clone can " +
      'take over (none alive with a restored backup)',
  });
  const refusals = [2, 3, 4, 5, 6, 1, 99].map((id) => chooseClone(tree(members), settings, NOW, id));
  assert.deepEqual(refusals, [
    { refused: 'that instance is fenced (a former main), not a clone yet' },
    { refused: "that clone is on the main's node COMP-1" },
    { refused: "that clone's node COMP-4 is not in contact" },
    { refused: 'that clone has not restored any backup yet' },
    { refused: 'that clone is not allocated' },
    { refused: 'that instance is the main, not a clone' },
    { refused: 'no such clone in this tree' },
  ]);
});

test('a takeover by hand picks a live clone even when the main is alive; a tree without one main refuses', () => {
  const alive = member(1, 'main');
  const members = [
    alive,
    member(2, 'clone', { restoredAt: NOW - 5 }),
    member(3, 'clone', { restoredAt: NOW - 50 }),
  ];
  assert.equal(decideFailover(tree(members), settings, NOW).kind, 'none');
  assert.deepEqual(chooseClone(tree(members), settings, NOW), { cloneInstanceId: 2 });
  assert.deepEqual(chooseClone(tree(members), settings, NOW, 3), { cloneInstanceId: 3 });
  assert.deepEqual(chooseClone(tree(members.slice(1)), settings, NOW), { refused: 'the tree has no main' });
  assert.deepEqual(decideFailover(tree([...members, member(4, 'main')]), settings, NOW), {
    kind: 'none',
    reason: 'the tree has 2 mains',
  });
});

// --- properties over random trees ---

const NODES = ['COMP-1', 'COMP-2', 'COMP-3', 'COMP-4', null];

interface World {
  tree: TreeState;
  settings: FailoverSettings;
  now: number;
}

/** A random tree: nodes shared between members, contacts around failover_after, ties in restoredAt. */
function randomWorld(seed: number): World {
  const random = seededRandom(seed);
  const pick = seededChoices(seed ^ 0x5bd1e995);
  const after = [1, 5, 15, 30.5][pick(4)] as number;
  const now = 1_700_000_000 + random() * 1e8;
  // A time around the bound: fresh, stale, exactly on it, ahead (skew), never, or not a number.
  const time = (): number | null => {
    switch (pick(8)) {
      case 0:
        return null;
      case 1:
        return now - after;
      case 2:
        return now + random() * 5;
      case 3:
        return pick(10) === 0 ? Number.NaN : now - after - 1e-6;
      default:
        return now - random() * after * 2.5;
    }
  };
  const contacts = new Map(NODES.map((node) => [node, node === null ? null : time()]));
  const restoredTimes = [now - 10, now - 20, now - 20.25, now - 400];
  const roles: MemberRole[] = [];
  // Usually one main; sometimes none or two.
  const mains = [1, 1, 1, 1, 1, 1, 1, 0, 2][pick(9)] as number;
  for (let i = 0; i < mains; i++) roles.push('main');
  const others = pick(6);
  for (let i = 0; i < others; i++) roles.push(pick(4) === 0 ? 'fenced' : 'clone');
  const ids = new Set<number>();
  while (ids.size < roles.length) ids.add(1 + pick(50));
  const members = [...ids].map((instanceId, index): MemberState => {
    const computeNodeId = NODES[pick(NODES.length)] as string | null;
    const role = roles[index] as MemberRole;
    // Half the mains are silent (else promotions would be rare).
    const stale = (): number | null => (pick(4) === 0 ? null : now - after - 1e-6 - random() * after);
    if (role === 'main' && pick(2) === 0) {
      return {
        instanceId,
        role,
        computeNodeId,
        nodeLastContactAt: stale(),
        promisesReportedAt: stale(),
        restoredAt: null,
      };
    }
    return {
      instanceId,
      role,
      computeNodeId,
      // Mostly the node's contact; sometimes a member-level oddity.
      nodeLastContactAt: pick(6) === 0 ? time() : (contacts.get(computeNodeId) ?? null),
      promisesReportedAt: time(),
      restoredAt: pick(5) === 0 ? null : (restoredTimes[pick(restoredTimes.length)] as number),
    };
  });
  const startedAt = now - [after * 0.5, after - 1e-6, after, after * 3][pick(4)]!;
  return {
    tree: { rootInstanceId: [...ids][0] ?? 1, epoch: pick(9), members },
    settings: { failoverAfterSeconds: after, startedAt },
    now,
  };
}

function fresh(time: number | null, world: World): boolean {
  return time !== null && !Number.isNaN(time) && world.now - time <= world.settings.failoverAfterSeconds;
}

/** The oracle: the contract's rule written as plainly as possible. */
function eligibleClones(world: World): MemberState[] {
  const mains = world.tree.members.filter((m) => m.role === 'main');
  if (mains.length !== 1) return [];
  const mainNode = mains[0]!.computeNodeId;
  return world.tree.members
    .filter(
      (m) =>
        m.role === 'clone' &&
        m.computeNodeId !== null &&
        m.computeNodeId !== mainNode &&
        fresh(m.nodeLastContactAt, world) &&
        m.restoredAt !== null &&
        !Number.isNaN(m.restoredAt),
    )
    .sort((a, b) => (b.restoredAt as number) - (a.restoredAt as number) || a.instanceId - b.instanceId);
}

function mainIsLost(world: World): boolean {
  const mains = world.tree.members.filter((m) => m.role === 'main');
  if (mains.length !== 1) return false;
  const main = mains[0]!;
  return (
    main.computeNodeId !== null &&
    world.now - world.settings.startedAt >= world.settings.failoverAfterSeconds &&
    !fresh(main.nodeLastContactAt, world) &&
    !fresh(main.promisesReportedAt, world)
  );
}

const RUNS = 4000;

test('property: a promoted clone is a live clone off the main node with the newest restored backup', () => {
  let promoted = 0;
  for (let seed = 1; seed <= RUNS; seed++) {
    const world = randomWorld(seed);
    const decision = decideFailover(world.tree, world.settings, world.now);
    const eligible = eligibleClones(world);
    const expected = mainIsLost(world) ? eligible[0] : undefined;
    assert.equal(
      decision.kind,
      expected === undefined ? 'none' : 'promote',
      `seed ${seed}: ${decision.reason}`,
    );
    if (decision.kind !== 'promote') continue;
    promoted++;
    const clone = world.tree.members.find((m) => m.instanceId === decision.cloneInstanceId);
    const main = world.tree.members.find((m) => m.role === 'main');
    assert.ok(clone && main, `seed ${seed}`);
    assert.equal(clone.role, 'clone', `seed ${seed}: never fenced`);
    assert.notEqual(clone.computeNodeId, main.computeNodeId, `seed ${seed}: never on the main's node`);
    assert.ok(fresh(clone.nodeLastContactAt, world), `seed ${seed}: never on a lost node`);
    const newest = Math.max(...eligible.map((m) => m.restoredAt as number));
    assert.equal(clone.restoredAt, newest, `seed ${seed}: the newest restored backup`);
    assert.equal(clone.instanceId, expected?.instanceId, `seed ${seed}: ties go to the lowest id`);
  }
  // The generator reaches both outcomes often enough for the property to mean something.
  assert.ok(promoted > RUNS / 20, `only ${promoted} promotions in ${RUNS} trees`);
});

test('property: nothing is promoted while the main node or its promises are fresh, or in the grace period', () => {
  let held = 0;
  for (let seed = 1; seed <= RUNS; seed++) {
    const world = randomWorld(seed);
    const mains = world.tree.members.filter((m) => m.role === 'main');
    const main = mains[0];
    const guarded =
      mains.length !== 1 ||
      world.now - world.settings.startedAt < world.settings.failoverAfterSeconds ||
      fresh(main!.nodeLastContactAt, world) ||
      fresh(main!.promisesReportedAt, world);
    if (!guarded) continue;
    held++;
    assert.equal(decideFailover(world.tree, world.settings, world.now).kind, 'none', `seed ${seed}`);
  }
  assert.ok(held > RUNS / 4, `only ${held} guarded trees`);
});

test('property: the decision is deterministic, ignores member order and leaves its input alone', () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const world = randomWorld(seed);
    const copy = structuredClone(world.tree);
    const first = decideFailover(world.tree, world.settings, world.now);
    assert.deepEqual(decideFailover(world.tree, world.settings, world.now), first, `seed ${seed}`);
    assert.deepEqual(world.tree, copy, `seed ${seed}: input unchanged`);
    const pick = seededChoices(seed);
    const shuffled = [...world.tree.members];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = pick(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const reordered = decideFailover({ ...world.tree, members: shuffled }, world.settings, world.now);
    assert.deepEqual(
      reordered.kind === 'promote' ? reordered.cloneInstanceId : null,
      first.kind === 'promote' ? first.cloneInstanceId : null,
      `seed ${seed}`,
    );
  }
});

test('property: a takeover by hand accepts exactly the eligible clones, and its default is the newest', () => {
  for (let seed = 1; seed <= RUNS; seed++) {
    const world = randomWorld(seed);
    const eligible = new Set(eligibleClones(world).map((m) => m.instanceId));
    for (const m of world.tree.members) {
      const choice = chooseClone(world.tree, world.settings, world.now, m.instanceId);
      assert.equal(
        'cloneInstanceId' in choice,
        eligible.has(m.instanceId),
        `seed ${seed}, instance ${m.instanceId}`,
      );
      if ('refused' in choice) assert.ok(choice.refused.length > 0);
    }
    const automatic = chooseClone(world.tree, world.settings, world.now);
    assert.deepEqual(
      'cloneInstanceId' in automatic ? automatic.cloneInstanceId : undefined,
      eligibleClones(world)[0]?.instanceId,
      `seed ${seed}`,
    );
  }
});

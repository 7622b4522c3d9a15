/**
 * Master mode's authorisation matrix at the services: each identity kind × each use case × an own,
 * a foreign and a missing object, asserting allowed or denied — and that a denial on an object is
 * the very answer a missing object gets (it reveals nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { isSlapError } from '../../core/errors.ts';
import { openMasterModeServices, type MasterModeServices } from '../../testing/master-mode-services.ts';
import type { MasterStore } from '../storage/repository.ts';
import type { Caller, MasterServices } from './index.ts';

const SR = 'https://example.com/sr.cfg';

interface World {
  store: MasterStore;
  services: MasterServices;
  callers: Record<Who, Caller>;
  request: MasterModeServices['request'];
}

type Who =
  'alice' | 'bob' | 'admin' | 'registrant' | 'node1' | 'node2' | 'aliceRoot' | 'aliceChild' | 'bobRoot';

const EVERYONE: readonly Who[] = [
  'alice',
  'bob',
  'admin',
  'registrant',
  'node1',
  'node2',
  'aliceRoot',
  'aliceChild',
  'bobRoot',
];

/**
 * alice owns COMP-1 (alice's tree: root SOFTINST-1 on slappart0, its child SOFTINST-2 on slappart1);
 * bob owns COMP-2 (bob's tree, also titled "tree": SOFTINST-3 on slappart0).
 */
async function world(): Promise<World> {
  const {
    store,
    services,
    setUp,
    format,
    request: requestOf,
  } = await openMasterModeServices({
    clock: fixedClock(1_700_000_000),
  });
  await setUp({
    users: ['alice', 'bob'],
    nodes: [
      { owner: 'alice', title: 'one' },
      { owner: 'bob', title: 'two' },
    ],
  });
  await store.write((repository) => repository.insertUser({ name: 'admin', admin: true, now: 1 }));
  assert.deepEqual(
    (await store.read((repository) => repository.listComputeNodeAccess())).map((node) => [
      node.reference,
      node.owner,
    ]),
    [
      ['COMP-1', 'alice'],
      ['COMP-2', 'bob'],
    ],
  );
  const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
  const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
  const node1: Caller = { kind: 'compute_node', computeNodeId: 'COMP-1' };
  const node2: Caller = { kind: 'compute_node', computeNodeId: 'COMP-2' };
  await format('COMP-1', 3);
  await format('COMP-2', 3);
  await services.supplySoftware({ caller: alice, computeNodeId: 'COMP-1', url: SR, state: 'available' });
  await services.supplySoftware({ caller: bob, computeNodeId: 'COMP-2', url: SR, state: 'available' });
  const request = (caller: Caller, title: string) => requestOf(caller, title, SR);
  assert.equal((await request(alice, 'tree')).instanceGuid, 'SOFTINST-1');
  const aliceRoot: Caller = {
    kind: 'instance',
    instanceId: 1,
    owner: 'alice',
    computeNodeId: 'COMP-1',
    partitionId: 'slappart0',
  };
  const child = await request(aliceRoot, 'child');
  assert.deepEqual(
    [child.instanceGuid, child.partitionId, child.requestedBy],
    ['SOFTINST-2', 'slappart1', 'tree'],
  );
  const bobTree = await request(bob, 'tree');
  assert.deepEqual([bobTree.instanceGuid, bobTree.computeNodeId], ['SOFTINST-3', 'COMP-2']);
  return {
    store,
    services,
    request: requestOf,
    callers: {
      alice,
      bob,
      admin: { kind: 'user', userId: 'admin', admin: true },
      registrant: { kind: 'registrant', userId: 'alice', tokenHash: 'x' },
      node1,
      node2,
      aliceRoot,
      aliceChild: {
        kind: 'instance',
        instanceId: 2,
        owner: 'alice',
        computeNodeId: 'COMP-1',
        partitionId: 'slappart1',
      },
      bobRoot: {
        kind: 'instance',
        instanceId: 3,
        owner: 'bob',
        computeNodeId: 'COMP-2',
        partitionId: 'slappart0',
      },
    },
  };
}

interface Case {
  name: string;
  call: (services: MasterServices, caller: Caller) => Promise<unknown>;
  allowed: readonly Who[];
  /** The same use case on a missing object: its answer is the one every denied caller gets. */
  missing?: (services: MasterServices, caller: Caller) => Promise<unknown>;
}

const guidCases = (
  name: string,
  call: (services: MasterServices, caller: Caller, instanceGuid: string) => Promise<unknown>,
  allowed: Record<'aliceRoot' | 'aliceChild', readonly Who[]>,
): Case[] => [
  {
    name: `${name} alice's root`,
    call: (s, c) => call(s, c, 'SOFTINST-1'),
    allowed: allowed.aliceRoot,
    missing: (s, c) => call(s, c, 'SOFTINST-999'),
  },
  {
    name: `${name} alice's child`,
    call: (s, c) => call(s, c, 'SOFTINST-2'),
    allowed: allowed.aliceChild,
    missing: (s, c) => call(s, c, 'SOFTINST-999'),
  },
];

const nodeCases = (
  name: string,
  call: (services: MasterServices, caller: Caller, computeNodeId: string) => Promise<unknown>,
  allowed: readonly Who[],
): Case[] => [
  {
    name: `${name} COMP-1`,
    call: (s, c) => call(s, c, 'COMP-1'),
    allowed,
    missing: (s, c) => call(s, c, 'COMP-999'),
  },
];

const OWNER_READ = ['alice', 'admin', 'node1'] as const;

/** Who may read alice's root and child: her, the admin, their node, the root (and the child itself). */
const READERS = {
  aliceRoot: ['alice', 'admin', 'node1', 'aliceRoot'],
  aliceChild: ['alice', 'admin', 'node1', 'aliceRoot', 'aliceChild'],
} as const;

/** Who may report on them: their node and each instance itself. */
const REPORTERS = { aliceRoot: ['node1', 'aliceRoot'], aliceChild: ['node1', 'aliceChild'] } as const;

const CASES: Case[] = [
  ...guidCases('getInstance', (s, caller, instanceGuid) => s.getInstance({ caller, instanceGuid }), READERS),
  ...guidCases(
    'readInstanceStatus',
    (s, caller, instanceGuid) => s.readInstanceStatus({ caller, instanceGuid }),
    READERS,
  ),
  ...guidCases(
    'readPromiseResults',
    (s, caller, instanceGuid) => s.readPromiseResults({ caller, instanceGuid }),
    READERS,
  ),
  ...guidCases(
    'readUsageSeries',
    (s, caller, instanceGuid) =>
      s.readUsageSeries({ caller, instanceGuid, resources: ['service_module/cpu_time'], from: 0, to: 1 }),
    READERS,
  ),
  ...guidCases(
    'listHostedSharedInstances',
    (s, caller, instanceGuid) => s.listHostedSharedInstances({ caller, instanceGuid }),
    READERS,
  ),
  ...guidCases(
    'reportInstanceState started',
    (s, caller, instanceGuid) => s.reportInstanceState({ caller, instanceGuid, reportedState: 'started' }),
    REPORTERS,
  ),
  ...guidCases(
    'reportInstanceError',
    (s, caller, instanceGuid) => s.reportInstanceError({ caller, instanceGuid, message: 'm' }),
    REPORTERS,
  ),
  ...guidCases(
    'setConnectionParameters',
    (s, caller, instanceGuid) =>
      s.setConnectionParameters({ caller, instanceGuid, parameters: { url: 'u' } }),
    REPORTERS,
  ),
  ...guidCases(
    'reportPromiseResults',
    (s, caller, instanceGuid) => s.reportPromiseResults({ caller, instanceGuid, results: [] }),
    REPORTERS,
  ),
  ...guidCases(
    'bangInstance',
    (s, caller, instanceGuid) => s.bangInstance({ caller, instanceGuid, message: 'm' }),
    {
      aliceRoot: ['alice', 'admin', 'aliceRoot'],
      aliceChild: ['alice', 'admin', 'aliceRoot', 'aliceChild'],
    },
  ),
  ...guidCases(
    'renameInstance',
    (s, caller, instanceGuid) => s.renameInstance({ caller, instanceGuid, newTitle: 'renamed' }),
    { aliceRoot: ['alice', 'admin', 'aliceRoot'], aliceChild: ['alice', 'admin', 'aliceRoot', 'aliceChild'] },
  ),
  ...guidCases(
    'reportInstanceState destroyed',
    (s, caller, instanceGuid) => s.reportInstanceState({ caller, instanceGuid, reportedState: 'destroyed' }),
    REPORTERS,
  ),
  {
    name: 'getComputePartition COMP-1 slappart0',
    call: (s, caller) => s.getComputePartition({ caller, computeNodeId: 'COMP-1', partitionId: 'slappart0' }),
    allowed: ['alice', 'admin', 'node1', 'aliceRoot'],
    missing: (s, caller) =>
      s.getComputePartition({ caller, computeNodeId: 'COMP-1', partitionId: 'slappart9' }),
  },
  ...nodeCases(
    'listComputeNodeInstances',
    (s, caller, computeNodeId) => s.listComputeNodeInstances({ caller, computeNodeId }),
    OWNER_READ,
  ),
  ...nodeCases(
    'listSoftwareInstallations',
    (s, caller, computeNodeId) => s.listSoftwareInstallations({ caller, computeNodeId }),
    OWNER_READ,
  ),
  ...nodeCases(
    'listSoftwareInstallationStatuses',
    (s, caller, computeNodeId) => s.listSoftwareInstallationStatuses({ caller, computeNodeId }),
    OWNER_READ,
  ),
  ...nodeCases(
    'computeNodeStatus',
    (s, caller, computeNodeId) => s.computeNodeStatus({ caller, computeNodeId }),
    OWNER_READ,
  ),
  ...nodeCases(
    'readUsageSeries',
    (s, caller, computeNodeId) =>
      s.readUsageSeries({ caller, computeNodeId, resources: ['service_module/cpu_time'], from: 0, to: 1 }),
    OWNER_READ,
  ),
  ...nodeCases(
    'readNodeSnapshot',
    (s, caller, computeNodeId) => s.readNodeSnapshot({ caller, computeNodeId }),
    OWNER_READ,
  ),
  ...nodeCases(
    'watchComputeNode',
    (s, caller, computeNodeId) =>
      s.watchComputeNode({ caller, computeNodeId, afterRevision: 0, timeoutMs: 0 }),
    OWNER_READ,
  ),
  ...nodeCases(
    'supplySoftware',
    (s, caller, computeNodeId) =>
      s.supplySoftware({ caller, computeNodeId, url: `${SR}2`, state: 'available' }),
    ['alice', 'admin'],
  ),
  ...nodeCases(
    'updateComputeNodeAccess',
    (s, caller, computeNodeId) =>
      s.updateComputeNodeAccess({ caller, computeNodeId, allocationScope: 'open' }),
    ['alice', 'admin'],
  ),
  ...nodeCases(
    'reportSoftwareInstallationState',
    (s, caller, computeNodeId) =>
      s.reportSoftwareInstallationState({ caller, computeNodeId, url: SR, reportedState: 'available' }),
    ['node1'],
  ),
  ...nodeCases(
    'reportSoftwareInstallationError',
    (s, caller, computeNodeId) =>
      s.reportSoftwareInstallationError({ caller, computeNodeId, url: SR, message: 'm' }),
    ['node1'],
  ),
  ...nodeCases(
    'bangComputeNode',
    (s, caller, computeNodeId) => s.bangComputeNode({ caller, computeNodeId, message: 'm' }),
    ['node1'],
  ),
  ...nodeCases(
    'reportComputeNodeUsage',
    (s, caller, computeNodeId) => s.reportComputeNodeUsage({ caller, computeNodeId, usageXml: '<journal/>' }),
    ['node1'],
  ),
  ...nodeCases(
    'formatComputeNode',
    (s, caller, computeNodeId) =>
      s.formatComputeNode({
        caller,
        format: {
          computeNodeId,
          address: null,
          netmask: null,
          partitions: [0, 1, 2].map((n) => ({ reference: `slappart${n}`, addresses: [] })),
        },
      }),
    ['node1'],
  ),
  // Master-level use cases: nothing to find, a plain 403 for who may not.
  {
    name: 'listInstanceTrees',
    call: (s, caller) => s.listInstanceTrees({ caller }),
    allowed: ['alice', 'bob', 'admin'],
  },
  {
    name: 'listComputeNodes',
    call: (s, caller) => s.listComputeNodes({ caller }),
    allowed: ['alice', 'bob', 'admin'],
  },
  {
    name: 'requestInstance',
    call: (s, caller) =>
      s.requestInstance({
        caller,
        title: 'new',
        softwareRelease: SR,
        softwareType: '',
        parameters: {},
        shared: false,
        state: 'started',
        sla: {},
      }),
    allowed: ['alice', 'bob', 'admin', 'aliceRoot', 'aliceChild', 'bobRoot'],
  },
  {
    name: 'hateoasUrl',
    call: (s, caller) => s.hateoasUrl({ caller, origin: { secure: true, host: 'h', prefix: '' } }),
    allowed: EVERYONE.filter((who) => who !== 'registrant'),
  },
];

function outcome(error: unknown): string {
  if (!isSlapError(error)) throw error;
  return error.code;
}

test('master mode: each identity may do exactly what its role allows, and a denial looks like a missing object', async () => {
  const failures: string[] = [];
  for (const entry of CASES) {
    for (const who of EVERYONE) {
      const { store, services, callers } = await world();
      try {
        let denied: string | undefined;
        try {
          await entry.call(services, callers[who]);
        } catch (error) {
          denied = outcome(error);
        }
        const expectAllowed = entry.allowed.includes(who);
        if (expectAllowed && denied !== undefined && denied !== 'SLAP_ERR_HAS_CHILDREN')
          failures.push(`${entry.name} by ${who}: expected allowed, got ${denied}`);
        if (!expectAllowed) {
          if (denied === undefined) failures.push(`${entry.name} by ${who}: expected denied, was allowed`);
          else if (entry.missing) {
            let missing: string | undefined;
            try {
              await entry.missing(services, callers[who]);
            } catch (error) {
              missing = outcome(error);
            }
            // A caller who may not see the object gets what a missing one gets (or is refused outright
            // for the kind of call, which says nothing about the object either).
            if (denied !== missing && denied !== 'SLAP_ERR_FORBIDDEN')
              failures.push(`${entry.name} by ${who}: denied with ${denied}, missing answers ${missing}`);
          }
        }
      } finally {
        await store.close();
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('master mode: users have their own namespaces; listings show only what is theirs', async () => {
  const { store, services, callers } = await world();
  try {
    assert.deepEqual(await services.listInstanceTrees({ caller: callers.alice }), ['tree']);
    assert.deepEqual(await services.listInstanceTrees({ caller: callers.bob }), ['tree']);
    assert.equal(
      (await services.getInstanceTree({ caller: callers.alice, title: 'tree' })).instanceGuid,
      'SOFTINST-1',
    );
    assert.equal(
      (await services.getInstanceTree({ caller: callers.bob, title: 'tree' })).instanceGuid,
      'SOFTINST-3',
    );
    assert.deepEqual(await services.listComputeNodes({ caller: callers.alice }), ['COMP-1']);
    assert.deepEqual(await services.listComputeNodes({ caller: callers.admin }), ['COMP-1', 'COMP-2']);
    // alice's root sees its child; bob's root cannot reach it even by guid.
    assert.equal(
      (await services.getInstance({ caller: callers.aliceRoot, instanceGuid: 'SOFTINST-2' })).title,
      'child',
    );
    await assert.rejects(services.getInstance({ caller: callers.bobRoot, instanceGuid: 'SOFTINST-2' }), {
      code: 'SLAP_ERR_INSTANCE_NOT_FOUND',
      message: 'No software instance SOFTINST-2 found.',
    });
  } finally {
    await store.close();
  }
});

test('master mode: allocation follows the scopes; a request no node admits waits with the reason', async () => {
  const { store, services, callers, request: requestOf } = await world();
  try {
    const request = (caller: Caller, title: string, sla: Record<string, unknown> = {}) =>
      requestOf(caller, title, SR, { sla });
    // bob asks for alice's personal node: he waits, and is told why (without learning it exists).
    const waiting = await request(callers.bob, 'on-alice', { computer_guid: 'COMP-1' });
    assert.equal(waiting.partitionId, '');
    const status = await services.readInstanceStatus({
      caller: callers.bob,
      instanceGuid: waiting.instanceGuid,
    });
    assert.match(status.message ?? '', /COMP-1 does not take your instances/);
    // alice opens her node: bob's waiting instance is placed at once.
    await services.updateComputeNodeAccess({
      caller: callers.alice,
      computeNodeId: 'COMP-1',
      allocationScope: 'open',
    });
    const placed = await services.getInstance({ caller: callers.bob, instanceGuid: waiting.instanceGuid });
    assert.deepEqual([placed.computeNodeId, placed.partitionId], ['COMP-1', 'slappart2']);
    // A closed node takes nothing new, not even from its owner.
    await services.updateComputeNodeAccess({
      caller: callers.bob,
      computeNodeId: 'COMP-2',
      allocationScope: 'closed',
    });
    const closed = await request(callers.bob, 'on-closed', { computer_guid: 'COMP-2' });
    assert.equal(closed.partitionId, '');
    // friend: alice lists bob.
    await services.updateComputeNodeAccess({
      caller: callers.alice,
      computeNodeId: 'COMP-1',
      allocationScope: 'friend',
      friends: ['bob'],
    });
    await services.formatComputeNode({
      caller: callers.node1,
      format: {
        computeNodeId: 'COMP-1',
        address: null,
        netmask: null,
        partitions: [0, 1, 2, 3].map((n) => ({ reference: `slappart${n}`, addresses: [] })),
      },
    });
    const friend = await request(callers.bob, 'as-friend', { computer_guid: 'COMP-1' });
    assert.deepEqual([friend.computeNodeId, friend.partitionId], ['COMP-1', 'slappart3']);
    // bob's shared instance on alice's root (her node admits him): the root serves it, reads and
    // reports on it; alice's child, on the same node, may not.
    const shared = await requestOf(callers.bob, 'front', SR, {
      shared: true,
      parameters: { url: 'https://bob.example' },
      sla: { instance_guid: 'SOFTINST-1' },
    });
    assert.deepEqual([shared.computeNodeId, shared.partitionId], ['COMP-1', 'slappart0']);
    const hosted = await services.listHostedSharedInstances({
      caller: callers.aliceRoot,
      instanceGuid: 'SOFTINST-1',
    });
    assert.deepEqual(
      hosted.map((item) => [item.instanceGuid, item.title]),
      [[shared.instanceGuid, 'front']],
    );
    await services.setConnectionParameters({
      caller: callers.aliceRoot,
      instanceGuid: shared.instanceGuid,
      parameters: { site: 'https://front.example' },
    });
    assert.deepEqual(
      (await services.getInstance({ caller: callers.bob, instanceGuid: shared.instanceGuid }))
        .connectionParameters,
      { site: 'https://front.example' },
    );
    await assert.rejects(
      services.getInstance({ caller: callers.aliceChild, instanceGuid: shared.instanceGuid }),
      {
        code: 'SLAP_ERR_INSTANCE_NOT_FOUND',
      },
    );
  } finally {
    await store.close();
  }
});

test('master mode: a destroyed instance loses its certificates', async () => {
  const { store, services, callers } = await world();
  try {
    const certificate = {
      kind: 'instance' as const,
      subject: 'SOFTINST-2',
      notAfter: 9e9,
      revokedAt: null,
      createdAt: 1,
    };
    await store.write((repository) => repository.insertCertificate({ serial: '0a', ...certificate }));
    assert.equal(
      await services.reportInstanceState({
        caller: callers.node1,
        instanceGuid: 'SOFTINST-2',
        reportedState: 'destroyed',
      }),
      'Destroyed',
    );
    const [stored] = await store.read((repository) => repository.listCertificates({ subject: 'SOFTINST-2' }));
    assert.equal(typeof stored?.revokedAt, 'number');
  } finally {
    await store.close();
  }
});

test("master mode: an instance allocates with its owner's rights (an admin's instance as an admin)", async () => {
  const { store, services, callers, request: requestOf } = await world();
  try {
    const request = (caller: Caller, title: string, sla: Record<string, unknown> = {}) =>
      requestOf(caller, title, SR, { sla });
    const root = await request(callers.admin, 'admin-tree', { computer_guid: 'COMP-1' });
    assert.equal(root.computeNodeId, 'COMP-1');
    const adminRoot: Caller = {
      kind: 'instance',
      instanceId: Number(root.instanceGuid.replace('SOFTINST-', '')),
      owner: 'admin',
      computeNodeId: root.computeNodeId,
      partitionId: root.partitionId,
    };
    // bob's node is personal: alice's root may not place a child there, the admin's may.
    const refused = await request(callers.aliceRoot, 'on-bob', { computer_guid: 'COMP-2' });
    assert.equal(refused.partitionId, '');
    const placed = await request(adminRoot, 'on-bob', { computer_guid: 'COMP-2' });
    assert.deepEqual([placed.computeNodeId, placed.requestedBy], ['COMP-2', 'admin-tree']);
    // A disabled owner's instance places nothing new.
    await store.write((repository) => repository.setUserDisabled('alice', true));
    const waiting = await request(callers.aliceRoot, 'after-disable', { computer_guid: 'COMP-1' });
    assert.equal(waiting.partitionId, '');
    const status = await services.readInstanceStatus({
      caller: callers.admin,
      instanceGuid: waiting.instanceGuid,
    });
    assert.match(status.message ?? '', /owner of the requesting instance is disabled/);
  } finally {
    await store.close();
  }
});

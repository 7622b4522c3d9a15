/**
 * Placing the waiting instances runs inside write transactions (after each format, freed partition,
 * scope change, supply): its reads must not grow with waiting instances × nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { openMasterModeServices } from '../../testing/master-mode-services.ts';
import type { Repository } from '../storage/repository.ts';
import { allocateWaitingInstances, chooseFreePartition } from './allocation.ts';
import type { Caller } from './index.ts';

const SR = 'https://example.com/sr.cfg';
const WAITING = 40;

/** `repository` with a count of the calls of each method. */
function counted(repository: Repository): { repository: Repository; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(repository, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || typeof name !== 'string') return value;
      return (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { repository: proxy, calls };
}

test('a pass over many waiting instances reads each node once, and places them when room is made', async () => {
  const { store, context, services, setUp, format, request } = await openMasterModeServices({
    clock: fixedClock(1_700_000_000),
  });
  try {
    await setUp({
      users: ['alice', 'bob'],
      nodes: [
        { owner: 'alice', title: 'one' },
        { owner: 'alice', title: 'two' },
      ],
    });
    const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
    const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
    for (const node of ['COMP-1', 'COMP-2']) {
      await format(node, 0);
      await services.supplySoftware({ caller: alice, computeNodeId: node, url: SR, state: 'available' });
      await services.updateComputeNodeAccess({ caller: alice, computeNodeId: node, allocationScope: 'open' });
    }
    for (let index = 0; index < WAITING; index++) {
      const requested = await request(bob, `waiting-${index}`, SR);
      assert.equal(requested.partitionId, '');
    }
    const pass = await store.write(async (repository) => {
      const reads = counted(repository);
      const placed = await allocateWaitingInstances(context, reads.repository);
      return { placed, calls: reads.calls };
    });
    assert.deepEqual(pass.placed, []);
    for (const name of ['listComputeNodeAccess', 'getUser'])
      assert.equal(pass.calls.get(name), 1, `${name} is read once`);
    assert.equal(pass.calls.get('listSoftwareInstallations'), 2, 'each node once');
    assert.equal(pass.calls.get('firstFreePartition'), 2, 'each node once');
    // Room on COMP-2: as many as it has partitions are placed, the others wait.
    await format('COMP-2', 3);
    const placed = await store.read((repository) => repository.listPendingInstances());
    assert.equal(placed.length, WAITING - 3);
  } finally {
    await store.close();
  }
});

test("a request placed on the requester's own node reads no other node; else the others, own first", async () => {
  const { store, services, setUp, format } = await openMasterModeServices({
    clock: fixedClock(1_700_000_000),
  });
  try {
    await setUp({
      users: ['alice', 'bob'],
      nodes: [
        { owner: 'bob', title: 'open one' },
        { owner: 'alice', title: 'her own' },
      ],
    });
    const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
    const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
    for (const [node, owner] of [
      ['COMP-1', bob],
      ['COMP-2', alice],
    ] as const) {
      await format(node, 1);
      await services.supplySoftware({ caller: owner, computeNodeId: node, url: SR, state: 'available' });
    }
    await services.updateComputeNodeAccess({ caller: bob, computeNodeId: 'COMP-1', allocationScope: 'open' });
    const choose = () =>
      store.read(async (repository) => {
        const reads = counted(repository);
        const placement = await chooseFreePartition(reads.repository, {
          caller: alice,
          softwareRelease: SR,
          computeNodeId: undefined,
        });
        return { placement, calls: reads.calls };
      });
    const own = await choose();
    assert.deepEqual(own.placement, { partition: { computeNodeId: 'COMP-2', partitionId: 'slappart0' } });
    assert.equal(own.calls.get('listComputeNodeAccess'), undefined, 'the other nodes are not read');
    // Her node full: the open node of bob's takes the next one.
    await store.write((repository) =>
      repository.allocatePartition({ computeNodeId: 'COMP-2', partitionId: 'slappart0' }, 1, {
        instanceId: 1,
        owner: 'alice',
        instanceTree: 'root',
      }),
    );
    const other = await choose();
    assert.deepEqual(other.placement, { partition: { computeNodeId: 'COMP-1', partitionId: 'slappart0' } });
    assert.equal(other.calls.get('listComputeNodeAccess'), 1);
  } finally {
    await store.close();
  }
});

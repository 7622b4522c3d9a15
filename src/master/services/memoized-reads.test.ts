/**
 * The memoized reads of a compute node (its instance list, its snapshot) against the same reads made
 * afresh, after every use case that writes: a memoized answer never outlives a change of its node,
 * and a write to one node keeps the other nodes' memoized answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../core/clock.ts';
import { isSlapError } from '../../core/errors.ts';
import { silentLogger } from '../../lib/logger.ts';
import { openTestStore } from '../../testing/test-database.ts';
import type { MasterStore } from '../storage/repository.ts';
import { seededRandom } from '../../testing/hostile-strings.ts';
import {
  createMasterServices,
  createServiceContext,
  LOCAL_CALLER,
  proxyModeAuthorizer,
  type MasterServices,
} from './index.ts';

const NODES = ['A', 'B', 'C'];
const SR = 'https://lab.example.com/software/hello/software.cfg';

/** The same store without its memo: every memoized read is made afresh. */
function unmemoized(store: MasterStore): MasterStore {
  return {
    read: (work) => store.read(work),
    write: (work) => store.write(work),
    memoizedRead: (_key, work) => store.read(work),
    onNodeChanges: (listener) => store.onNodeChanges(listener),
    onCommit: (listener) => store.onCommit(listener),
    close: () => Promise.resolve(),
  };
}

async function withTwoViews(
  work: (memoized: MasterServices, fresh: MasterServices) => Promise<void>,
): Promise<void> {
  const { store, close } = await openTestStore();
  let now = 1_700_000_000;
  // Time moves, so that timestamps change with every write.
  const clock: Clock = { now: () => (now += 1.5) };
  const services = (of: MasterStore): MasterServices =>
    createMasterServices(
      createServiceContext({
        store: of,
        clock,
        logger: silentLogger(),
        defaultComputeNodeId: 'A',
        authorizer: proxyModeAuthorizer,
      }),
    );
  try {
    await work(services(store), services(unmemoized(store)));
  } finally {
    await close();
  }
}

async function format(services: MasterServices, node: string, partitions: number): Promise<void> {
  await services.formatComputeNode({
    caller: LOCAL_CALLER,
    format: {
      computeNodeId: node,
      address: null,
      netmask: null,
      partitions: Array.from({ length: partitions }, (_, index) => ({
        reference: `slappart${index}`,
        addresses: [
          {
            address: `10.${node.charCodeAt(0)}.0.${index + 1}`,
            netmask: '255.255.255.0',
            networkInterface: `tap${index}`,
          },
        ],
      })),
    },
  });
}

async function assertFresh(memoized: MasterServices, fresh: MasterServices, step: string): Promise<void> {
  for (const computeNodeId of NODES) {
    const input = { caller: LOCAL_CALLER, computeNodeId };
    assert.deepEqual(
      await memoized.listComputeNodeInstances(input),
      await fresh.listComputeNodeInstances(input),
      `${step}: the instance list of ${computeNodeId}`,
    );
    assert.deepEqual(
      await memoized.readNodeSnapshot(input),
      await fresh.readNodeSnapshot(input),
      `${step}: the snapshot of ${computeNodeId}`,
    );
  }
}

test('memoized node reads equal fresh ones after every kind of write, in random sequences', async () => {
  for (const seed of [1, 2, 3]) {
    await withTwoViews(async (memoized, fresh) => {
      const random = seededRandom(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      for (const node of NODES) await format(memoized, node, 4);
      const guids = new Set<string>();
      const titles = Array.from({ length: 8 }, (_, index) => `instance ${index}`);
      /** Busy partitions, for child requests. */
      const partitions = async (): Promise<{ computeNodeId: string; partitionId: string }[]> =>
        (
          await Promise.all(
            NODES.map(async (computeNodeId) =>
              (await memoized.listComputeNodeInstances({ caller: LOCAL_CALLER, computeNodeId })).map(
                (item) => ({
                  computeNodeId,
                  partitionId: item.partitionId,
                }),
              ),
            ),
          )
        ).flat();
      const operations: [string, () => Promise<unknown>][] = [
        [
          'request',
          async () => {
            const busy = await partitions();
            const requester = random() < 0.5 && busy.length > 0 ? pick(busy) : undefined;
            const view = await memoized.requestInstance({
              caller: LOCAL_CALLER,
              title: pick(titles),
              softwareRelease: SR,
              softwareType: pick(['default', 'other']),
              parameters: { value: String(Math.floor(random() * 3)) },
              shared: false,
              state: pick(['started', 'stopped', 'destroyed'] as const),
              sla: { computer_guid: pick(NODES) },
              requester,
            });
            guids.add(view.instanceGuid);
          },
        ],
        [
          'request a shared instance',
          async () => {
            const view = await memoized.requestInstance({
              caller: LOCAL_CALLER,
              title: `shared ${pick(titles)}`,
              softwareRelease: SR,
              softwareType: 'default',
              parameters: { value: String(Math.floor(random() * 3)) },
              shared: true,
              state: pick(['started', 'destroyed'] as const),
              sla: { computer_guid: pick(NODES) },
            });
            guids.add(view.instanceGuid);
          },
        ],
        [
          'report destroyed',
          () =>
            memoized.reportInstanceState({
              caller: LOCAL_CALLER,
              instanceGuid: pick([...guids]),
              reportedState: 'destroyed',
            }),
        ],
        [
          'publish connection parameters',
          () =>
            memoized.setConnectionParameters({
              caller: LOCAL_CALLER,
              instanceGuid: pick([...guids]),
              parameters: { url: `http://[::1]:${Math.floor(random() * 1000)}` },
            }),
        ],
        [
          'bang',
          () =>
            memoized.bangInstance({
              caller: LOCAL_CALLER,
              instanceGuid: pick([...guids]),
              message: 'bang',
              scope: pick(['instance', 'tree'] as const),
            }),
        ],
        [
          'rename',
          () =>
            memoized.renameInstance({
              caller: LOCAL_CALLER,
              instanceGuid: pick([...guids]),
              newTitle: pick(titles),
              repointChildren: random() < 0.5,
            }),
        ],
        [
          'report an error',
          () =>
            memoized.reportInstanceError({
              caller: LOCAL_CALLER,
              instanceGuid: pick([...guids]),
              message: 'e',
            }),
        ],
        [
          'supply',
          () =>
            memoized.supplySoftware({
              caller: LOCAL_CALLER,
              computeNodeId: pick(NODES),
              url: pick([SR, `${SR}?v=2`]),
              state: pick(['available', 'destroyed'] as const),
            }),
        ],
        [
          'report a software installation',
          () =>
            memoized.reportSoftwareInstallationState({
              caller: LOCAL_CALLER,
              computeNodeId: pick(NODES),
              url: pick([SR, `${SR}?v=2`]),
              reportedState: pick(['available', 'destroyed'] as const),
            }),
        ],
        ['format', () => format(memoized, pick(NODES), 2 + Math.floor(random() * 4))],
      ];
      for (let step = 0; step < 120; step++) {
        const [name, operation] = pick(guids.size > 0 ? operations : operations.slice(0, 2));
        try {
          await operation();
        } catch (error) {
          // Refusals (no free partition, a title taken…) are part of the game; anything else is not.
          if (!isSlapError(error)) throw error;
        }
        await assertFresh(memoized, fresh, `seed ${seed} step ${step} (${name})`);
      }
    });
  }
});

test("a write to one compute node keeps the other nodes' memoized reads", async () => {
  await withTwoViews(async (services) => {
    for (const node of NODES) await format(services, node, 2);
    const read = (computeNodeId: string) =>
      services.listComputeNodeInstances({ caller: LOCAL_CALLER, computeNodeId });
    const snapshot = (computeNodeId: string) =>
      services.readNodeSnapshot({ caller: LOCAL_CALLER, computeNodeId });
    const [listA, listB, snapshotB] = [await read('A'), await read('B'), await snapshot('B')];
    await services.requestInstance({
      caller: LOCAL_CALLER,
      title: 'on A',
      softwareRelease: SR,
      softwareType: 'default',
      parameters: {},
      shared: false,
      state: 'started',
      sla: { computer_guid: 'A' },
    });
    assert.notEqual(await read('A'), listA, "A's list is read again");
    assert.equal((await read('A')).length, 1);
    assert.equal(await read('B'), listB, "B's list is the memoized one");
    assert.equal(await snapshot('B'), snapshotB, "B's snapshot is the memoized one");
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoVersions } from './memo-versions.ts';
import { NodeScopeTracker, trackNodeScopes } from './node-scopes.ts';
import type { Repository } from './repository.ts';
import { openSqliteStore } from './sqlite-store.ts';

test('memo versions: a node moves with its own changes and with changes of no node, not with other nodes', () => {
  const versions = new MemoVersions();
  const [a0, b0, all0, nodeless0] = [
    versions.node('A'),
    versions.node('B'),
    versions.all(),
    versions.nodeless(),
  ];
  versions.noteCommit({ nodes: new Set(), unattributed: false, wrote: false });
  assert.deepEqual(
    [versions.node('A'), versions.node('B'), versions.all()],
    [a0, b0, all0],
    'nothing changed',
  );
  versions.noteCommit({ nodes: new Set(['A']), unattributed: false, wrote: true });
  const [a1, b1, all1] = [versions.node('A'), versions.node('B'), versions.all()];
  assert.notEqual(a1, a0);
  assert.equal(b1, b0);
  assert.notEqual(all1, all0);
  versions.noteCommit({ nodes: new Set(['B']), unattributed: false, wrote: true });
  const [aBefore, allBefore] = [versions.node('A'), versions.all()];
  versions.noteCommit({ nodes: new Set(), unattributed: false, wrote: true });
  assert.equal(versions.node('A'), aBefore, 'a write in no node keeps the nodes');
  assert.notEqual(versions.all(), allBefore, 'a write in no node moves unscoped reads');
  assert.equal(versions.node('A'), a1);
  assert.notEqual(versions.node('B'), b1);
  const [a2, b2, c2, nodeless2] = [
    versions.node('A'),
    versions.node('B'),
    versions.node('C'),
    versions.nodeless(),
  ];
  assert.equal(nodeless2, nodeless0, 'changes of nodes keep the data of no node');
  versions.noteCommit({ nodes: new Set(), unattributed: true, wrote: true });
  assert.notEqual(versions.nodeless(), nodeless2);
  assert.notEqual(versions.node('A'), a2);
  assert.notEqual(versions.node('B'), b2);
  assert.notEqual(versions.node('C'), c2);
  // Versions never come back to one already given, whatever the order of the changes.
  const seen = new Map<string, Set<number>>();
  for (let step = 0; step < 200; step++) {
    const node = ['A', 'B', 'C'][step % 3] as string;
    versions.noteCommit({ nodes: new Set([node]), unattributed: step % 17 === 0, wrote: true });
    for (const each of ['A', 'B', 'C']) {
      const set = seen.get(each) ?? new Set<number>();
      seen.set(each, set);
      const version = versions.node(each);
      if (each === node) assert.ok(!set.has(version), `${each} at step ${step}`);
      set.add(version);
    }
  }
});

test('node scopes: writes say which nodes they change; reads change nothing; other writes change everything', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-node-scopes-'));
  const store = await openSqliteStore({ path: join(directory, 'proxy.db') });
  const tracker = new NodeScopeTracker();
  const taken = async (work: (repository: Repository) => Promise<unknown>) => {
    await store.write((repository) => work(trackNodeScopes(repository, tracker)));
    const { nodes, unattributed, wrote } = tracker.take();
    return { nodes: [...nodes].sort(), unattributed, wrote };
  };
  try {
    const none = { nodes: [], unattributed: false, wrote: false };
    assert.deepEqual(
      await taken(async (repository) => {
        for (const node of ['A', 'B']) {
          await repository.upsertComputeNode({ reference: node, address: null, netmask: null, now: 1 });
          await repository.insertPartition({ computeNodeId: node, partitionId: 'p' });
        }
      }),
      { nodes: ['A', 'B'], unattributed: false, wrote: true },
    );
    const instance = {
      owner: '',
      title: 't',
      requestedBy: '',
      shared: false,
      softwareRelease: 'sr',
      softwareType: 'default',
      parameterXml: '',
      sharedParametersJson: null,
      slaJson: '{}',
      requestedState: 'started' as const,
      hostPosition: null,
      now: 1,
    };
    let id = 0;
    assert.deepEqual(
      await taken(async (repository) => {
        id = await repository.insertInstance({
          ...instance,
          location: { computeNodeId: 'B', partitionId: 'p' },
        });
      }),
      { nodes: ['B'], unattributed: false, wrote: true },
    );
    assert.deepEqual(
      await taken((repository) =>
        repository.insertInstance({ ...instance, title: 'waiting', location: null }),
      ),
      { ...none, wrote: true },
      'an instance on no partition is in no node',
    );
    // An update or a deletion changes the node the instance was on.
    assert.deepEqual(
      await taken((repository) => repository.updateInstance(id, { parameterXml: 'x', now: 2 })),
      { nodes: ['B'], unattributed: false, wrote: true },
    );
    assert.deepEqual(
      await taken((repository) =>
        repository.updateInstance(id, { location: { computeNodeId: 'A', partitionId: 'p' }, now: 2 }),
      ),
      { nodes: ['A', 'B'], unattributed: false, wrote: true },
      'a move changes both nodes',
    );
    assert.deepEqual(
      await taken(async (repository) => {
        await repository.listInstancesOnNode('A');
        await repository.readNodeSnapshot('A');
        await repository.getInstanceById(id);
      }),
      none,
    );
    assert.deepEqual(await taken((repository) => repository.deleteInstance(id)), {
      nodes: ['A'],
      unattributed: false,
      wrote: true,
    });
    assert.deepEqual(
      await taken((repository) => repository.insertUser({ name: 'u', admin: false, now: 1 })),
      { nodes: [], unattributed: true, wrote: true },
      'a write of no node changes every memoized read',
    );
    // A method this file does not know is taken for a write of no node.
    const unknown = { ...(await store.read((repository) => Promise.resolve(repository))) } as Repository &
      Record<string, unknown>;
    unknown.someNewWrite = () => Promise.resolve();
    const wrapped = trackNodeScopes(unknown, tracker) as Repository & { someNewWrite(): Promise<void> };
    await wrapped.someNewWrite();
    assert.deepEqual(tracker.take().unattributed, true);
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
});

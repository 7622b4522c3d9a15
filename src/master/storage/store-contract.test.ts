/**
 * What every MasterStore promises (repository.ts), on the store this run tests: SQLite, or
 * PostgreSQL when SLAPOS_TEST_STORE=postgres (scripts/test.sh runs both).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from '../../core/errors.ts';
import { openTestStore } from '../../testing/test-database.ts';

const node = (reference: string) => ({ reference, address: null, netmask: null, now: 1 });

test('a use case that fails leaves nothing behind; a closed store refuses calls', async () => {
  const { store, close } = await openTestStore();
  try {
    await assert.rejects(
      store.write(async (repository) => {
        await repository.upsertComputeNode(node('computer'));
        await repository.bumpNodeRevision('computer');
        throw new SlapError('SLAP_ERR_INVALID_INPUT', 'changed my mind');
      }),
      /changed my mind/,
    );
    assert.deepEqual(await store.read((repository) => repository.listComputeNodes()), []);
    assert.equal(await store.read((repository) => repository.getNodeRevision('computer')), 0);
  } finally {
    await close();
  }
  await assert.rejects(
    store.read((repository) => repository.listComputeNodes()),
    (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_UNAVAILABLE',
  );
});

test('memoized reads: one result, shared by callers that miss together, until a write commits', async () => {
  const { store, close } = await openTestStore();
  try {
    let computed = 0;
    const list = () =>
      store.memoizedRead('nodes', async (repository) => {
        computed++;
        return repository.listComputeNodes();
      });
    const [first, same] = await Promise.all([list(), list()]);
    assert.equal(same, first);
    assert.equal(await list(), first);
    assert.equal(computed, 1);
    await store.write((repository) => repository.upsertComputeNode(node('n')));
    const second = await list();
    assert.notEqual(second, first);
    assert.deepEqual(
      second.map((row) => row.reference),
      ['n'],
    );
    assert.equal(await list(), second);
  } finally {
    await close();
  }
});

test('node change listeners hear the nodes a commit bumped, after it; a rolled-back bump is not kept', async () => {
  const { store, close } = await openTestStore();
  try {
    const heard: string[][] = [];
    const unsubscribe = store.onNodeChanges((nodes) => heard.push([...nodes].sort()));
    await store.write(async (repository) => {
      await repository.bumpNodeRevision('b');
      await repository.bumpNodeRevision('a');
      await repository.bumpNodeRevision('a');
      assert.deepEqual(heard, [], 'told before the commit');
    });
    assert.deepEqual(heard, [['a', 'b']]);
    assert.equal(await store.read((repository) => repository.getNodeRevision('a')), 2);
    await assert.rejects(
      store.write(async (repository) => {
        await repository.bumpNodeRevision('c');
        throw new SlapError('SLAP_ERR_INVALID_INPUT', 'no');
      }),
    );
    await store.write((repository) => repository.upsertComputeNode(node('quiet')));
    assert.equal(await store.read((repository) => repository.getNodeRevision('c')), 0);
    // Listeners may hear a few more nodes than were bumped (repository.ts): a rolled-back one's.
    assert.ok(
      heard.slice(1).every((nodes) => nodes.every((n) => n === 'c')),
      JSON.stringify(heard),
    );
    const count = heard.length;
    unsubscribe();
    await store.write((repository) => repository.bumpNodeRevision('a'));
    assert.equal(heard.length, count);
  } finally {
    await close();
  }
});

test('commit listeners hear each committed write that changed something, after it, and no read', async () => {
  const { store, close } = await openTestStore();
  try {
    let heard = 0;
    const unsubscribe = store.onCommit(() => heard++);
    await store.write(async (repository) => {
      await repository.upsertComputeNode(node('told'));
      assert.equal(heard, 0, 'told before the commit');
    });
    assert.equal(heard, 1);
    await store.read((repository) => repository.listComputeNodes());
    assert.equal(heard, 1, 'a read is no change');
    unsubscribe();
    await store.write((repository) => repository.upsertComputeNode(node('untold')));
    assert.equal(heard, 1);
  } finally {
    await close();
  }
});

test('panel sessions: stored by digest, found until deleted or expired', async () => {
  const { store, close } = await openTestStore();
  try {
    const session = { sessionHash: 'a'.repeat(64), user: '', createdAt: 10, expiresAt: 20 };
    await store.write((repository) => repository.insertPanelSession(session));
    assert.deepEqual(
      await store.read((repository) => repository.getPanelSession(session.sessionHash)),
      session,
    );
    await store.write((repository) =>
      repository.insertPanelSession({ ...session, sessionHash: 'b'.repeat(64), expiresAt: 30 }),
    );
    assert.equal(await store.write((repository) => repository.deleteExpiredPanelSessions(20)), 1);
    assert.equal(
      await store.read((repository) => repository.getPanelSession(session.sessionHash)),
      undefined,
    );
    await store.write((repository) => repository.deletePanelSession('b'.repeat(64)));
    assert.equal(await store.read((repository) => repository.getPanelSession('b'.repeat(64))), undefined);
  } finally {
    await close();
  }
});

test("a compute node's last contact only moves forward; unknown nodes are ignored", async () => {
  const { store, close } = await openTestStore();
  try {
    await store.write(async (repository) => {
      await repository.upsertComputeNode(node('a'));
      await repository.upsertComputeNode(node('b'));
    });
    const contacts = () => store.read((repository) => repository.listComputeNodeContacts());
    assert.deepEqual(await contacts(), [
      { computeNodeId: 'a', lastContactAt: null },
      { computeNodeId: 'b', lastContactAt: null },
    ]);
    const record = (entries: { computeNodeId: string; at: number }[]) =>
      store.write((repository) => repository.recordComputeNodeContacts(entries));
    await record([
      { computeNodeId: 'a', at: 100.5 },
      { computeNodeId: 'missing', at: 100 },
    ]);
    // Another master's older note does not move it back.
    await record([
      { computeNodeId: 'a', at: 50 },
      { computeNodeId: 'b', at: 70.25 },
    ]);
    assert.deepEqual(await contacts(), [
      { computeNodeId: 'a', lastContactAt: 100.5 },
      { computeNodeId: 'b', lastContactAt: 70.25 },
    ]);
  } finally {
    await close();
  }
});

/**
 * NodeContacts: a node's own calls are noted (master mode: its certificate; proxy mode: the local
 * caller), nobody else's; notes are read at once and written to the store in one transaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { openTestStore } from '../../testing/test-database.ts';
import type { Caller } from './caller.ts';
import { NodeContacts } from './node-contacts.ts';

test("only a node's own calls are noted; they are read before and after their coalesced write", async () => {
  const { store, close } = await openTestStore();
  const clock = fixedClock(1_000);
  // A flush interval no test waits for: the writes here are the explicit flush and close.
  const contacts = new NodeContacts({ store, clock, logger: silentLogger(), flushIntervalMs: 3_600_000 });
  try {
    await store.write(async (repository) => {
      for (const reference of ['a', 'b', 'c'])
        await repository.upsertComputeNode({ reference, address: null, netmask: null, now: 1 });
    });
    const others: Caller[] = [
      { kind: 'compute_node', computeNodeId: 'b' },
      { kind: 'user', userId: 'admin', admin: true },
      { kind: 'instance', instanceId: 1, owner: 'x', computeNodeId: 'a', partitionId: 'p' },
      { kind: 'anonymous' },
      { kind: 'metrics_scraper' },
    ];
    for (const caller of others) contacts.noteCall(caller, 'a');
    contacts.noteCall({ kind: 'compute_node', computeNodeId: 'b' }, 'b');
    clock.advance(5);
    contacts.noteCall({ kind: 'local' }, 'c');
    const stored = () => store.read((repository) => repository.listComputeNodeContacts());
    const expected = [
      { computeNodeId: 'a', lastContactAt: null },
      { computeNodeId: 'b', lastContactAt: 1_000 },
      { computeNodeId: 'c', lastContactAt: 1_005 },
    ];
    assert.deepEqual(await contacts.list(), expected);
    assert.deepEqual(
      (await stored()).map((record) => record.lastContactAt),
      [null, null, null],
      'not written yet',
    );
    await contacts.flush();
    assert.deepEqual(await stored(), expected);
    clock.advance(5);
    contacts.noteCall({ kind: 'local' }, 'a');
    await contacts.close();
    await contacts.close();
    contacts.noteCall({ kind: 'local' }, 'b');
    assert.deepEqual(await stored(), [{ computeNodeId: 'a', lastContactAt: 1_010 }, ...expected.slice(1)]);
    assert.deepEqual(await contacts.list(), await stored(), 'nothing noted once closed');
  } finally {
    await contacts.close();
    await close();
  }
});

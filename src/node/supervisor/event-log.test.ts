import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from './event-log.ts';

const push = (log: EventLog, name: string) =>
  log.push({ type: 'state', group: 'g', name, from: 'STOPPED', to: 'STARTING', pid: null });

test('events are numbered; a bounded buffer reports the gap a slow reader missed', async () => {
  const log = new EventLog(3, () => 42);
  for (const name of ['a', 'b', 'c', 'd', 'e']) push(log, name);
  const all = await log.wait(0);
  assert.deepEqual(
    all.events.map((e) => [e.seq, e.type === 'state' && e.name, e.time]),
    [
      [3, 'c', 42],
      [4, 'd', 42],
      [5, 'e', 42],
    ],
  );
  assert.equal(all.gap, true);
  assert.equal(all.last, 5);
  const recent = await log.wait(4);
  assert.deepEqual([recent.events.length, recent.gap, recent.last], [1, false, 5]);
  const none = await log.wait(5, { timeoutMs: 20 });
  assert.deepEqual([none.events.length, none.gap, none.last], [0, false, 5]);
  // A cursor from an earlier daemon (beyond the last event): start again, flagged.
  const future = await log.wait(500);
  assert.deepEqual([future.events.length, future.gap, future.stream], [3, true, log.stream]);
});

test('a long poll wakes on the next event, on abort, and on close', async () => {
  const log = new EventLog(10, Date.now);
  const waiting = log.wait(0, { timeoutMs: 30_000 });
  setTimeout(() => push(log, 'x'), 10);
  assert.equal((await waiting).events.length, 1);
  const abort = new AbortController();
  const aborted = log.wait(1, { timeoutMs: 30_000, signal: abort.signal });
  abort.abort();
  assert.equal((await aborted).events.length, 0);
  const closing = log.wait(1, { timeoutMs: 30_000 });
  log.close();
  assert.equal((await closing).events.length, 0);
  const seen: number[] = [];
  const unsubscribe = log.subscribe((event) => seen.push(event.seq));
  push(log, 'y');
  unsubscribe();
  push(log, 'z');
  assert.deepEqual(seen, [2]);
});

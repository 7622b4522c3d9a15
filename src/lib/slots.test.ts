import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slots, type Slot } from './slots.ts';

test('at most size slots are held; a released slot goes to the first waiter', async () => {
  const slots = new Slots(2);
  const a = slots.tryAcquire();
  const b = await slots.acquire();
  assert.ok(a && b);
  assert.equal(slots.tryAcquire(), undefined);
  assert.equal(slots.free, 0);
  const order: string[] = [];
  const first = slots.acquire().then((slot) => (order.push('first'), slot));
  const second = slots.acquire().then((slot) => (order.push('second'), slot));
  a.release();
  const c = await first;
  assert.deepEqual(order, ['first']);
  assert.equal(slots.free, 0, 'handed over, not freed');
  b.release();
  const d = await second;
  assert.deepEqual(order, ['first', 'second']);
  c.release();
  d.release();
  assert.equal(slots.free, 2);
});

test('release is idempotent: a slot given back early and again in a finally counts once', () => {
  const slots = new Slots(1);
  const slot = slots.tryAcquire() as Slot;
  slot.release();
  slot.release();
  assert.equal(slots.free, 1);
  const other = slots.tryAcquire() as Slot;
  slot.release();
  assert.equal(slots.free, 0, 'the stale release did not free the slot someone else holds');
  other.release();
});

test('onFree is called when a slot becomes free with nobody waiting', async () => {
  let freed = 0;
  const slots = new Slots(1, () => freed++);
  const slot = slots.tryAcquire() as Slot;
  const waiting = slots.acquire();
  slot.release();
  assert.equal(freed, 0, 'handed to the waiter');
  (await waiting).release();
  assert.equal(freed, 1);
});

test('an aborted wait rejects with the reason and leaves the queue', async () => {
  const slots = new Slots(1);
  const slot = slots.tryAcquire() as Slot;
  const controller = new AbortController();
  const waiting = slots.acquire(controller.signal);
  const reason = new Error('stop');
  controller.abort(reason);
  await assert.rejects(waiting, (error) => error === reason);
  slot.release();
  assert.equal(slots.free, 1, 'the aborted waiter did not take the slot');
  await assert.rejects(slots.acquire(AbortSignal.abort(reason)), (error) => error === reason);
});

test('a size that is not a positive integer is refused', () => {
  for (const size of [0, -1, 1.5, Number.NaN])
    assert.throws(() => new Slots(size), { code: 'SLAP_ERR_INVALID_INPUT' });
});

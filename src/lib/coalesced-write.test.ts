import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoalescedWrite } from './coalesced-write.ts';

/** A write that records the state it snapshots and finishes when told. */
function controlledWrites(state: { value: number }) {
  const written: number[] = [];
  const finish: ((error?: Error) => void)[] = [];
  const writer = new CoalescedWrite(() => {
    const snapshot = state.value;
    return new Promise<void>((resolve, reject) => {
      finish.push((error) => {
        if (error) reject(error);
        else {
          written.push(snapshot);
          resolve();
        }
      });
    });
  });
  return { writer, written, finish };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('calls made during a write share one next write, which holds the state as of each call', async () => {
  const state = { value: 1 };
  const { writer, written, finish } = controlledWrites(state);
  const first = writer.save();
  state.value = 2;
  const second = writer.save();
  state.value = 3;
  const third = writer.save();
  assert.equal(finish.length, 1, 'one write at a time');
  let secondDone = false;
  void second.then(() => (secondDone = true));
  finish[0]?.();
  await first;
  await turn();
  assert.equal(secondDone, false, 'the first write began before the second call: it does not serve it');
  assert.equal(finish.length, 2, 'the queued write began');
  finish[1]?.();
  await Promise.all([second, third]);
  assert.deepEqual(written, [1, 3], 'two writes for three calls, the last with the latest state');
  await writer.settled();
});

test('a failed write rejects the calls it served, and the next call writes again', async () => {
  const state = { value: 1 };
  const { writer, written, finish } = controlledWrites(state);
  const failing = writer.save();
  finish[0]?.(new Error('disk full'));
  await assert.rejects(failing, /disk full/);
  state.value = 2;
  const again = writer.save();
  finish[1]?.();
  await again;
  assert.deepEqual(written, [2]);
});

test('a write that throws at once is a rejected save', async () => {
  const writer = new CoalescedWrite(() => {
    throw new Error('no');
  });
  await assert.rejects(writer.save(), /no/);
  await writer.settled();
});

test('settled waits for the running and the queued write', async () => {
  const state = { value: 1 };
  const { writer, finish } = controlledWrites(state);
  void writer.save();
  void writer.save();
  let settled = false;
  const done = writer.settled().then(() => (settled = true));
  finish[0]?.();
  await turn();
  assert.equal(settled, false);
  finish[1]?.();
  await done;
  assert.equal(settled, true);
});

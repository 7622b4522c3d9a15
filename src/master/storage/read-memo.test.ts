import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadMemo } from './read-memo.ts';

/** A load that reads `value` at `version` and counts its calls. */
function loader(version: string, value: string, counter: { loads: number }) {
  return () => {
    counter.loads++;
    return Promise.resolve({ value, version, cacheable: true });
  };
}

test('a result is served while the version is unchanged, read again once it moves', async () => {
  const memo = new ReadMemo(8);
  const counter = { loads: 0 };
  assert.equal(await memo.read('node-1', 'v1', loader('v1', 'a', counter)), 'a');
  assert.equal(await memo.read('node-1', 'v1', loader('v1', 'b', counter)), 'a');
  assert.equal(counter.loads, 1);
  assert.equal(await memo.read('node-1', 'v2', loader('v2', 'c', counter)), 'c');
  assert.equal(counter.loads, 2);
});

test('the results of an older version are dropped when a read sees a new one', async () => {
  const memo = new ReadMemo(100);
  const counter = { loads: 0 };
  for (let node = 0; node < 50; node++) await memo.read(`node-${node}`, 'v1', loader('v1', 'old', counter));
  assert.equal(memo.size, 50);
  await memo.read('node-0', 'v2', loader('v2', 'new', counter));
  assert.equal(memo.size, 1, 'only the result of the current version is kept');
});

test('a result read at another version than the latest asked is not kept', async () => {
  const memo = new ReadMemo(8);
  const counter = { loads: 0 };
  // The store moved to v2 between the call and the read inside the transaction.
  assert.equal(await memo.read('node-1', 'v1', loader('v2', 'read at v2', counter)), 'read at v2');
  assert.equal(memo.size, 0);
  await memo.read('node-2', 'v3', loader('v3', 'x', counter));
  // A slow read asked at v3 that finished after the store moved on is not kept either.
  const slow = memo.read('node-3', 'v3', loader('v3', 'y', counter));
  await memo.read('node-4', 'v4', loader('v4', 'z', counter));
  await slow;
  assert.equal(memo.size, 1);
  assert.equal(await memo.read('node-4', 'v4', loader('v4', 'again', counter)), 'z');
});

test('at most `limit` results are kept, the oldest dropped first', async () => {
  const memo = new ReadMemo(3);
  const counter = { loads: 0 };
  for (const node of ['a', 'b', 'c', 'd']) await memo.read(node, 'v1', loader('v1', node, counter));
  assert.equal(memo.size, 3);
  assert.equal(await memo.read('a', 'v1', loader('v1', 'a again', counter)), 'a again');
  assert.equal(await memo.read('d', 'v1', loader('v1', 'd again', counter)), 'd');
});

test('readers of one key at one version share one read', async () => {
  const memo = new ReadMemo(8);
  const counter = { loads: 0 };
  const reads = await Promise.all(
    Array.from({ length: 5 }, () => memo.read('node-1', 'v1', loader('v1', 'shared', counter))),
  );
  assert.deepEqual(reads, Array(5).fill('shared'));
  assert.equal(counter.loads, 1);
});

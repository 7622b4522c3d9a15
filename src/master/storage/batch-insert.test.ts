import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_BATCH_ROWS, batchSizes, inBatches, rowArguments } from './batch-insert.ts';

test('batch sizes: cover the rows exactly, from a bounded set of sizes, largest first', () => {
  const seen = new Set<number>();
  for (let count = 0; count <= 3 * MAX_BATCH_ROWS + 3; count++) {
    const sizes = batchSizes(count);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      count,
    );
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => b - a),
    );
    for (const size of sizes) seen.add(size);
  }
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    Array.from({ length: Math.log2(MAX_BATCH_ROWS) + 1 }, (_, i) => 2 ** i),
  );
});

test('inBatches hands every row over once, in order; rowArguments names each row’s columns', async () => {
  const rows = Array.from({ length: 600 }, (_, i) => ({ a: i, b: `row ${i}` }));
  const handed: number[] = [];
  const total = await inBatches(rows, (batch) => {
    handed.push(...batch.map((row) => row.a));
    return Promise.resolve(batch.length);
  });
  assert.equal(total, 600);
  assert.deepEqual(
    handed,
    rows.map((row) => row.a),
  );
  assert.deepEqual(rowArguments(rows.slice(0, 2), ['a', 'b']), {
    a_0: 0,
    b_0: 'row 0',
    a_1: 1,
    b_1: 'row 1',
  });
});

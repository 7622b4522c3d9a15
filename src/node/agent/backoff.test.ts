import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from './backoff.ts';

test('backoff doubles from its first delay up to its cap', () => {
  const options = { initialMs: 100, maxMs: 1000, jitter: 0 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, options)),
    [100, 200, 400, 800, 1000, 1000],
  );
  assert.equal(backoffDelay(10_000, options), 1000, 'huge attempt counts stay at the cap');
  assert.equal(backoffDelay(0, options), 100);
});

test('jitter spreads each delay by ± its fraction, never over the cap', () => {
  const options = { initialMs: 1000, maxMs: 1100, jitter: 0.2 };
  assert.equal(
    backoffDelay(1, options, () => 0),
    800,
  );
  assert.equal(
    backoffDelay(1, options, () => 0.5),
    1000,
  );
  assert.equal(
    backoffDelay(1, options, () => 0.999999),
    1100,
  );
  assert.equal(
    backoffDelay(1, { initialMs: 1000, maxMs: 5000, factor: 3 }, () => 0.5),
    1000,
  );
  assert.equal(
    backoffDelay(2, { initialMs: 1000, maxMs: 5000, factor: 3 }, () => 0.5),
    3000,
  );
});

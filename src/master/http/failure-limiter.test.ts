import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureLimiter } from './failure-limiter.ts';

test('failure limiter: free up to the threshold, then a doubling delay up to the cap', () => {
  let now = 0;
  const limiter = new FailureLimiter({ baseDelayMs: 100, maxDelayMs: 1_000, now: () => now });
  const delays = Array.from({ length: 10 }, () => {
    now += 1_000;
    return limiter.fail('10.0.0.1');
  });
  assert.deepEqual(delays, [0, 0, 0, 0, 0, 100, 200, 400, 800, 1_000]);
  // Another address is not affected.
  assert.equal(limiter.fail('10.0.0.2'), 0);
});

test('failure limiter: failures further apart than the window start the count again', () => {
  let now = 0;
  const limiter = new FailureLimiter({ windowMs: 60_000, now: () => now });
  for (let index = 0; index < 5; index++) assert.equal(limiter.fail('a'), 0);
  assert.ok(limiter.fail('a') > 0);
  now += 60_001;
  assert.equal(limiter.fail('a'), 0);
});

test('failure limiter: memory is bounded, the least recently failing address forgotten first', () => {
  let now = 0;
  const limiter = new FailureLimiter({ maxAddresses: 3, now: () => now });
  for (let index = 0; index < 6; index++) limiter.fail('busy');
  for (let index = 0; index < 100; index++) {
    now += 1;
    limiter.fail(`10.0.${index}.1`);
    limiter.fail('busy');
    assert.ok(limiter.size <= 3);
  }
  assert.ok(limiter.fail('busy') > 0, 'the address failing all along is still slowed');
  assert.equal(limiter.fail('10.0.0.1'), 0, 'an early address was forgotten');
});

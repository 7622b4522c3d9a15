import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupDue } from './schedule.ts';

const fresh = { lastAttemptAt: null, handledRequestAt: null, retryAt: null };

test('first, period, request, retry', () => {
  const input = { periodSeconds: 60, requestedAt: null, now: 1000 };
  assert.deepEqual(backupDue(fresh, input), { due: true, reason: 'first' });
  const done = { ...fresh, lastAttemptAt: 1000 };
  assert.deepEqual(backupDue(done, { ...input, now: 1059.9 }), { due: false });
  assert.deepEqual(backupDue(done, { ...input, now: 1060 }), { due: true, reason: 'period' });
  assert.deepEqual(backupDue(done, { ...input, requestedAt: 1010, now: 1020 }), {
    due: true,
    reason: 'requested',
  });
  const handled = { ...done, handledRequestAt: 1010 };
  assert.deepEqual(backupDue(handled, { ...input, requestedAt: 1010, now: 1020 }), { due: false });
  assert.deepEqual(backupDue(handled, { ...input, requestedAt: 1011, now: 1020 }), {
    due: true,
    reason: 'requested',
  });
  const failed = { ...done, retryAt: 1005 };
  assert.deepEqual(backupDue(failed, { ...input, requestedAt: 1011, now: 1004 }), { due: false });
  assert.deepEqual(backupDue(failed, { ...input, now: 1005 }), { due: true, reason: 'retry' });
});

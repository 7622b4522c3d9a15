import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlapError } from '../../../core/errors.ts';
import { conflictRetriesExhausted, isRetryable, isUnavailable, unavailableError } from './pg-errors.ts';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

test('serialization failures and deadlocks are retried; nothing else is', () => {
  assert.ok(isRetryable(withCode('40001')));
  assert.ok(isRetryable(withCode('40P01')));
  for (const code of ['23505', '23503', '25006', '08006', 'ECONNRESET', '22021'])
    assert.ok(!isRetryable(withCode(code)), code);
  assert.ok(!isRetryable(new Error('40001')));
});

test('the database out of reach is unavailable (503); an error in what was asked is not', () => {
  for (const error of [
    withCode('08006'),
    withCode('08001'),
    withCode('57P01'),
    withCode('57P03'),
    withCode('53300'),
    withCode('ECONNREFUSED'),
    withCode('ENOENT'),
    // Five capitals like a SQLSTATE: a broken connection all the same (seen as a 500 under a restart).
    withCode('EPIPE', 'write EPIPE'),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
  ])
    assert.ok(isUnavailable(error), String(error));
  for (const error of [
    withCode('23505'),
    withCode('25006'),
    withCode('42P01'),
    withCode('22021'),
    new Error('bug'),
  ])
    assert.ok(!isUnavailable(error), String(error));
  const unavailable = unavailableError(withCode('08006', 'secret detail'));
  assert.ok(unavailable instanceof SlapError && unavailable.code === 'SLAP_ERR_UNAVAILABLE');
  assert.ok(!unavailable.message.includes('secret detail'));
  assert.equal(conflictRetriesExhausted(withCode('40001')).code, 'SLAP_ERR_UNAVAILABLE');
});

/** Assertions on SlapErrors: the code, and optionally the message. */
import assert from 'node:assert/strict';
import { SlapError, type ErrorCode } from '../core/errors.ts';

function check(error: unknown, code: ErrorCode, message?: RegExp): SlapError {
  assert.ok(error instanceof SlapError, `expected a SlapError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  return error;
}

/** Awaits `promise`, expects it to reject with a SlapError of this code, and returns the error. */
export async function rejectsWithSlapError(
  promise: Promise<unknown>,
  code: ErrorCode,
  message?: RegExp,
): Promise<SlapError> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) assert.fail(`expected a ${code} error, the call succeeded`);
  return check(outcome.error, code, message);
}

/** Runs `run`, expects it to throw a SlapError of this code, and returns the error. */
export function throwsSlapError(run: () => unknown, code: ErrorCode, message?: RegExp): SlapError {
  try {
    run();
  } catch (error) {
    return check(error, code, message);
  }
  return assert.fail(`expected a ${code} error, nothing was thrown`);
}

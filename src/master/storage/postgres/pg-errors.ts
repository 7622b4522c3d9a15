/**
 * What a failure of the PostgreSQL driver means for a use case: a serialization conflict to retry
 * (the transaction is re-run), the database out of reach (503, the master reconnects by itself), or
 * anything else (a bug or a schema problem, passed on).
 */
import { SlapError } from '../../../core/errors.ts';

/** The SQLSTATE of a server's error; a network error's code (EPIPE: five capitals too) is none. */
function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !CONNECTION_ERRNOS.has(code)
    ? code
    : undefined;
}

/** A serialization failure or a deadlock: re-running the transaction may succeed. */
export function isRetryable(error: unknown): boolean {
  const state = sqlState(error);
  return state === '40001' || state === '40P01';
}

/** Node's network errors and the driver's own connection failures. */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOENT',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const CONNECTION_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|not queryable/i;

/**
 * The database cannot be reached now (down, restarting, out of connections, failing over), as
 * opposed to an error in what was asked of it.
 */
export function isUnavailable(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== undefined)
    // 08: connection exception; 57P01-57P03: shutting down, crashed, starting; 53300: too many
    // connections.
    return state.startsWith('08') || /^57P0[1-3]$/.test(state) || state === '53300';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_ERRNOS.has(code)) return true;
  return error instanceof Error && CONNECTION_MESSAGES.test(error.message);
}

export function unavailableError(error: unknown): SlapError {
  return new SlapError('SLAP_ERR_UNAVAILABLE', 'The database is unavailable; retry later.', { cause: error });
}

export function conflictRetriesExhausted(error: unknown): SlapError {
  return new SlapError(
    'SLAP_ERR_UNAVAILABLE',
    'The database is too busy with conflicting changes; retry later.',
    { cause: error },
  );
}

/** A string PostgreSQL text cannot hold (22021: NUL; 22P05: untranslatable): the caller's input. */
export function isUnstorableText(error: unknown): boolean {
  const state = sqlState(error);
  return state === '22021' || state === '22P05';
}

/**
 * The one place where failures become HTTP answers: SlapErrors by their catalog status, the
 * HTTP framework's own errors (body too large, unsupported media type…) by what they mean, and
 * anything else as the opaque 500 "Internal server error" (logged, never shown).
 */
import { STATUS_CODES } from 'node:http';
import { isSlapError, SlapError } from '../../core/errors.ts';
import type { ApiErrorBody } from '../../api/index.ts';
import { tooLarge } from './request-body.ts';

export interface HttpError {
  status: number;
  body: ApiErrorBody;
  /** True when the failure is ours (to log at error level). */
  internal: boolean;
}

export function errorBody(status: number, title: string): ApiErrorBody {
  return { status, type: STATUS_CODES[status] ?? 'Unknown Error', title };
}

/** Fastify's client errors, by code, as the SlapErrors they are. */
function frameworkError(error: {
  code?: unknown;
  message?: unknown;
  statusCode?: unknown;
}): SlapError | undefined {
  const message = typeof error.message === 'string' ? error.message : 'bad request';
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return tooLarge();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new SlapError(
        'SLAP_ERR_INVALID_INPUT',
        'The request body must be JSON (Content-Type: application/json).',
      );
    case 'FST_ERR_BAD_URL':
      // Its own message would repeat the path.
      return new SlapError('SLAP_ERR_INVALID_INPUT', 'The request path is not valid percent-encoded UTF-8.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new SlapError('SLAP_ERR_INVALID_INPUT', 'The request body is empty; send a JSON object.');
    default:
      if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
        return new SlapError('SLAP_ERR_INVALID_INPUT', message, { status: error.statusCode });
      }
      return undefined;
  }
}

export function toHttpError(error: unknown): HttpError {
  const slapError = isSlapError(error)
    ? error
    : typeof error === 'object' && error !== null
      ? frameworkError(error)
      : undefined;
  if (!slapError || slapError.code === 'SLAP_ERR_INTERNAL' || slapError.status >= 500) {
    const status = slapError && slapError.code !== 'SLAP_ERR_INTERNAL' ? slapError.status : 500;
    return {
      status,
      body: errorBody(status, status === 500 ? 'Internal server error' : (slapError?.message ?? '')),
      // A 503 (the database out of reach, full or busy) is a condition, not a bug: the store logs its
      // start and end once; each refused request is not logged as a failure.
      internal: status === 500,
    };
  }
  return { status: slapError.status, body: errorBody(slapError.status, slapError.message), internal: false };
}

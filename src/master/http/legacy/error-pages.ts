/**
 * How failures look on the legacy SLAP API (docs/protocol.md §4): werkzeug's HTML error pages, with
 * the status codes the Python client reads — 404 for an allocation failure or an unknown object,
 * 408 for "not ready, retry", 500 where slapproxy answers 500 for an unknown partition (a lookup,
 * not our failure: it is not logged as one), 400 for bad input.
 */
import { STATUS_CODES as STATUS_NAMES } from 'node:http';
import { isSlapError, type ErrorCode } from '../../../core/errors.ts';
import { toHttpError } from '../errors.ts';

/** Every legacy answer's Content-Type, errors included (Flask's default). */
export const LEGACY_CONTENT_TYPE = 'text/html; charset=utf-8';

/** Codes of the lookups that missed (or were denied, which is answered the same way). */
const NOT_FOUND_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SLAP_ERR_NOT_FOUND',
  'SLAP_ERR_INSTANCE_NOT_FOUND',
  'SLAP_ERR_SHARED_INSTANCE_NOT_FOUND',
  'SLAP_ERR_HOST_NOT_FOUND',
  'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
  'SLAP_ERR_PARTITION_NOT_FOUND',
  'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
  'SLAP_ERR_INSTANCE_GUID_INVALID',
]);

/** werkzeug's names where they differ from Node's. */
const NAMES: Readonly<Record<number, string>> = {
  413: 'Request Entity Too Large',
  500: 'Internal Server Error',
};

const INTERNAL_DESCRIPTION =
  'The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.';

export interface LegacyFailure {
  status: number;
  message: string;
  /** True when the failure is ours (a bug: logged at error level, its message not shown). */
  internal: boolean;
}

/**
 * The legacy answer to a failure. `lookupMissStatus` is the status of an unknown (or denied)
 * object on this route: 404 by default, 500 where slapproxy answers 500.
 */
export function toLegacyFailure(error: unknown, lookupMissStatus = 404): LegacyFailure {
  if (isSlapError(error)) {
    if (NOT_FOUND_CODES.has(error.code))
      return { status: lookupMissStatus, message: error.message, internal: false };
    if (error.code === 'SLAP_ERR_ALLOCATION_FAILED')
      return { status: 404, message: error.message, internal: false };
  }
  const http = toHttpError(error);
  return {
    status: http.status,
    message: http.internal ? INTERNAL_DESCRIPTION : http.body.title,
    internal: http.internal,
  };
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&#34;',
  "'": '&#39;',
};

/** markupsafe's escape, as werkzeug applies it to the description. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** werkzeug's default error page (an HTTPException's body). */
export function errorPage(status: number, message: string): string {
  const name = escapeHtml(NAMES[status] ?? STATUS_NAMES[status] ?? 'Unknown Error');
  const description = escapeHtml(message).replace(/\r\n|\r|\n/g, '<br>');
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${name}</title>\n<h1>${name}</h1>\n<p>${description}</p>\n`;
}

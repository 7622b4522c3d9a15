/**
 * Turns what a master answers (or fails to answer) into SlapErrors with stable codes. The JSON API
 * answers every "not found" or "not allowed" with 403 and a message (as slapproxy does); the message
 * tells the cases apart, so the client maps the known ones to their own codes and keeps the message.
 */
import { SlapError, type ErrorCode } from '../core/errors.ts';

/** Known 403 messages of the JSON API (docs/protocol.md §4), most specific first. */
const FORBIDDEN_MESSAGES: readonly (readonly [RegExp, ErrorCode])[] = [
  [/^No free computer partition found for: /, 'SLAP_ERR_ALLOCATION_FAILED'],
  [/^No partition corresponding to slave request: /, 'SLAP_ERR_ALLOCATION_FAILED'],
  [/^instance_guid .* not handled\.$/s, 'SLAP_ERR_INSTANCE_GUID_INVALID'],
  [/^No software instance .* found\.$/s, 'SLAP_ERR_INSTANCE_NOT_FOUND'],
  [/^No shared instance .* found\.$/s, 'SLAP_ERR_SHARED_INSTANCE_NOT_FOUND'],
  [/^No partition hosting .* found\.$/s, 'SLAP_ERR_HOST_NOT_FOUND'],
  [/^No instance on partition .* found\.$/s, 'SLAP_ERR_PARTITION_NOT_FOUND'],
  [/^No instance tree .* found\.$/s, 'SLAP_ERR_INSTANCE_TREE_NOT_FOUND'],
  [/ is not registered\.$/, 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND'],
  [/^NotImplemented$/, 'SLAP_ERR_NOT_IMPLEMENTED'],
  [/^Not destroying yet because this partition has child partitions: /, 'SLAP_ERR_HAS_CHILDREN'],
];

const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'SLAP_ERR_INVALID_INPUT',
  401: 'SLAP_ERR_UNAUTHENTICATED',
  403: 'SLAP_ERR_FORBIDDEN',
  404: 'SLAP_ERR_NOT_FOUND',
  405: 'SLAP_ERR_METHOD_NOT_ALLOWED',
  406: 'SLAP_ERR_NOT_ACCEPTABLE',
  408: 'SLAP_ERR_NOT_READY',
  409: 'SLAP_ERR_CONFLICT',
  413: 'SLAP_ERR_PAYLOAD_TOO_LARGE',
  415: 'SLAP_ERR_INVALID_INPUT',
  500: 'SLAP_ERR_INTERNAL',
};

/** The code of one of the master's known refusal messages (protocol.md §4), else undefined. */
export function codeForKnownMessage(message: string): ErrorCode | undefined {
  for (const [pattern, code] of FORBIDDEN_MESSAGES) if (pattern.test(message)) return code;
  return undefined;
}

/** The error code for an HTTP error status and the API's message. */
export function codeForApiError(status: number, message: string): ErrorCode {
  if (status === 403) return codeForKnownMessage(message) ?? 'SLAP_ERR_FORBIDDEN';
  const known = STATUS_CODES[status];
  if (known) return known;
  if (status >= 500) return 'SLAP_ERR_UNAVAILABLE';
  return 'SLAP_ERR_INVALID_INPUT';
}

export interface ApiFailure {
  masterUrl: string;
  path: string;
  status: number;
  /** The API error body's title, when the answer was a JSON error body. */
  title?: string;
}

/** A SlapError for an HTTP error answer of the master. */
export function apiError(failure: ApiFailure): SlapError {
  const { masterUrl, path, status, title } = failure;
  const details = { masterUrl, path, status };
  if (title !== undefined) {
    const code = codeForApiError(status, title);
    return new SlapError(code, title, { status, details, ...hintFor(code, masterUrl, title) });
  }
  const code = codeForApiError(status, '');
  const message = `the master at ${masterUrl} answered HTTP ${status} to ${path}, without a JSON API error body`;
  const hint =
    status === 404 || status === 405
      ? `check that ${masterUrl} is the URL of a SlapOS master with the JSON API`
      : undefined;
  return new SlapError(code, message, { status, details, ...(hint ? { hint } : {}) });
}

/** How to give a token to a master that asks for one (a standalone's, a proxy with --token-file). */
const UNAUTHENTICATED_HINT =
  'this master requires its access token: pass --cfg with the configuration file that holds it ' +
  '(a standalone SlapOS: --cfg <dir>/etc/slapos.cfg, the client_config of `slapos standalone status --json`), ' +
  'or set $SLAPOS_MASTER_TOKEN';

/** The hint of a request the master accepted and is still processing (408). */
export const NOT_READY_HINT = 'the master accepted the request and is still processing it: retry in a moment';

/** A master in master mode refused the client certificate (revoked, expired, not issued by it…). */
const CERTIFICATE_REFUSED_HINT =
  'the master refused the client certificate: a compute node whose certificate was revoked or expired ' +
  'must be registered again (slapos node register, with a new token); a user asks for a new certificate ' +
  '(slapos master user certificate) or uses an API token';

function hintFor(code: ErrorCode, masterUrl: string, title = ''): { hint?: string } {
  switch (code) {
    case 'SLAP_ERR_NOT_READY':
      return { hint: NOT_READY_HINT };
    case 'SLAP_ERR_INTERNAL':
      return { hint: `the master at ${masterUrl} failed; its log may tell why` };
    case 'SLAP_ERR_UNAUTHENTICATED':
      return {
        hint: title.startsWith('Client certificate refused')
          ? CERTIFICATE_REFUSED_HINT
          : UNAUTHENTICATED_HINT,
      };
    case 'SLAP_ERR_UNAVAILABLE':
      return { hint: `the master at ${masterUrl} is not in a state to answer; retry later` };
    default:
      return {};
  }
}

/** Node's error codes (http-post.ts) that mean the master could not be reached or the connection broke. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
]);

function errorCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/** A SlapError for an answer whose body cannot be decoded (an unknown content-encoding, corrupt gzip). */
export function undecodableAnswerError(masterUrl: string, path: string, reason: string): SlapError {
  return new SlapError('SLAP_ERR_UNAVAILABLE', `the master at ${masterUrl} answered ${path} with ${reason}`, {
    details: { masterUrl, path },
    hint: `check that ${masterUrl} is the URL of a SlapOS master with the JSON API, and that nothing between rewrites its answers`,
  });
}

/** A SlapError for a request that got no HTTP answer (refused, reset, DNS, TLS…). */
export function unreachableError(error: unknown, masterUrl: string, path: string): SlapError {
  const code = errorCodeOf(error);
  const reason = error instanceof Error ? error.message : String(error);
  const tls =
    code !== undefined && (code.startsWith('ERR_TLS') || code.includes('CERT') || code.startsWith('ERR_SSL'));
  const known = code !== undefined && CONNECTION_ERROR_CODES.has(code);
  return new SlapError(
    'SLAP_ERR_UNAVAILABLE',
    `cannot reach the master at ${masterUrl}: ${reason}${code && !reason.includes(code) ? ` (${code})` : ''}`,
    {
      cause: error,
      details: { masterUrl, path, ...(code ? { errorCode: code } : {}) },
      hint: tls
        ? `check the TLS certificates used to talk to ${masterUrl}`
        : known || code === undefined
          ? `is a SlapOS master running at ${masterUrl}? Check --master-url or the master_url of the configuration file`
          : `check the master URL ${masterUrl}`,
    },
  );
}

/** The error of a master that has no invoices (no such route, or the legacy SLAP API). */
export function lackingInvoices(masterUrl: string): SlapError {
  return new SlapError('SLAP_ERR_NOT_FOUND', `the master at ${masterUrl} has no invoices`, {
    hint: 'invoices need a master of this implementation in master mode, with the JSON API',
  });
}

/** The error of a master that has no backups or resilient instances (no such route, or the legacy SLAP API). */
export function lackingBackups(masterUrl: string): SlapError {
  return new SlapError(
    'SLAP_ERR_NOT_FOUND',
    `the master at ${masterUrl} has no backups or resilient instances`,
    {
      hint: 'backups and takeovers need a master of this implementation, with the JSON API',
    },
  );
}

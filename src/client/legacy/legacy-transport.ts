/**
 * The legacy SLAP protocol's transport (docs/protocol.md §3.1, §4): GET with the fields in the query
 * string, POST with them as an `application/x-www-form-urlencoded` body, over the same HTTP endpoint
 * as the JSON API (master-http.ts: pool, TLS, token, deadlines, size cap). Answers are text (a
 * marshalled document or a word such as `done`); an HTTP error becomes a SlapError whose message is
 * the `<p>` of the master's HTML error page.
 */
import { SlapError, type ErrorCode } from '../../core/errors.ts';
import { codeForApiError, codeForKnownMessage, NOT_READY_HINT } from '../master-errors.ts';
import type { CallOptions, MasterHttp } from '../master-http.ts';

/** Form fields or query parameters; undefined ones are left out. */
export type LegacyFields = Readonly<Record<string, string | undefined>>;

export interface LegacyCallOptions extends CallOptions {
  /** The code of a 404 answer (default SLAP_ERR_NOT_FOUND; a request's is ALLOCATION_FAILED). */
  notFoundCode?: ErrorCode;
}

/** The headers of every legacy call (the original client's Accept; what we are). */
const HEADERS = { accept: '*/*', 'user-agent': 'slapos-ts (legacy SLAP protocol)' } as const;

/** Longest message kept from an error page. */
const MAX_MESSAGE_LENGTH = 2000;

export class LegacyTransport {
  constructor(readonly http: MasterHttp) {}

  get masterUrl(): string {
    return this.http.masterUrl;
  }

  get(path: string, fields: LegacyFields, options: LegacyCallOptions = {}): Promise<string> {
    return this.send('GET', path, fields, options);
  }

  post(path: string, fields: LegacyFields, options: LegacyCallOptions = {}): Promise<string> {
    return this.send('POST', path, fields, options);
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    fields: LegacyFields,
    options: LegacyCallOptions,
  ): Promise<string> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.append(name, value);
    const { notFoundCode, ...callOptions } = options;
    const { status, text } = await this.http.call(
      method === 'GET'
        ? { method, path, query: form, headers: HEADERS }
        : {
            method,
            path,
            headers: { ...HEADERS, 'content-type': 'application/x-www-form-urlencoded' },
            body: form.toString(),
          },
      callOptions,
    );
    if (status === 200) return text;
    throw legacyError({ masterUrl: this.masterUrl, path, status, text, notFoundCode });
  }
}

/** A SlapError for a legacy answer that is not 200: the page's message, the status's code. */
export function legacyError(failure: {
  masterUrl: string;
  path: string;
  status: number;
  text: string;
  notFoundCode?: ErrorCode | undefined;
}): SlapError {
  const { masterUrl, path, status, text } = failure;
  const details = { masterUrl, path, status };
  // The werkzeug page of a legacy master, or the JSON error body our master's shared hooks answer.
  const message = errorPageMessage(text) ?? jsonErrorTitle(text);
  if (status >= 200 && status < 400) {
    return new SlapError(
      'SLAP_ERR_UNAVAILABLE',
      `the master at ${masterUrl} answered ${path} with the unexpected HTTP status ${status}`,
      { details, hint: `check that ${masterUrl} is the URL of a SlapOS master with the legacy SLAP API` },
    );
  }
  // slapproxy answers a lookup that misses with 500 and its usual message (protocol.md §4).
  const known = status === 500 && message !== undefined ? codeForKnownMessage(message) : undefined;
  const code: ErrorCode =
    known ??
    (status === 404
      ? (failure.notFoundCode ?? 'SLAP_ERR_NOT_FOUND')
      : status === 408
        ? 'SLAP_ERR_NOT_READY'
        : codeForApiError(status, message ?? ''));
  const text_ = message ?? `the master at ${masterUrl} answered HTTP ${status} to ${path} (legacy SLAP API)`;
  return new SlapError(code, text_, {
    status,
    details,
    ...(code === 'SLAP_ERR_NOT_READY' ? { hint: NOT_READY_HINT } : {}),
    ...(status >= 500 && known === undefined
      ? { hint: `the master at ${masterUrl} failed; its log may tell why` }
      : {}),
  });
}

/** The title of a JSON API error body (`{status, type, title}`), else undefined. */
function jsonErrorTitle(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text.slice(0, 64 * 1024));
  } catch {
    return undefined;
  }
  if (body === null || typeof body !== 'object') return undefined;
  const { title } = body as { title?: unknown };
  if (typeof title !== 'string' || title === '') return undefined;
  return title.length > MAX_MESSAGE_LENGTH ? `${title.slice(0, MAX_MESSAGE_LENGTH)}…` : title;
}

/** The text of an error page's first `<p>` (werkzeug's pages), entities decoded; else undefined. */
export function errorPageMessage(page: string): string | undefined {
  const match = /<p>([\s\S]*?)<\/p>/i.exec(page.slice(0, 64 * 1024));
  if (!match) return undefined;
  const text = decodeHtmlText((match[1] ?? '').replace(/<[^>]*>/g, '')).trim();
  if (text === '') return undefined;
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text;
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

function decodeHtmlText(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (entity, body: string) => {
    if (body.startsWith('#')) {
      const code =
        body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : entity;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? entity;
  });
}

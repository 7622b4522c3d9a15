/**
 * Calls of the legacy SLAP API for tests, as the Python client sends them: GET with a query string,
 * POST with an `application/x-www-form-urlencoded` body (30 s timeout, loopback masters only).
 */
import { request } from 'undici';

export interface LegacyResponse {
  status: number;
  /** Response headers, lower-cased names. */
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Form or query encoding of fields, in the order given (a field may be repeated by listing it twice). */
export function formEncode(fields: Record<string, string> | readonly (readonly [string, string])[]): string {
  const entries = Array.isArray(fields) ? fields : Object.entries(fields);
  return new URLSearchParams(entries as [string, string][]).toString();
}

async function send(
  url: string,
  options: {
    method: 'GET' | 'POST' | 'PUT' | 'HEAD';
    body?: string | Buffer;
    headers?: Record<string, string>;
  },
): Promise<LegacyResponse> {
  const response = await request(url, {
    method: options.method,
    headers: { accept: '*/*', 'user-agent': 'slapos.core/test', ...options.headers },
    ...(options.body === undefined ? {} : { body: options.body }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

/** GET `path` with the fields as its query string (or a raw query string). */
export function legacyGet(
  masterUrl: string,
  path: string,
  fields: Record<string, string> | string = {},
  headers: Record<string, string> = {},
): Promise<LegacyResponse> {
  const query = typeof fields === 'string' ? fields : formEncode(fields);
  return send(`${masterUrl}${path}${query === '' ? '' : `?${query}`}`, { method: 'GET', headers });
}

/** POST `path` with the fields as a form body (or a raw body, sent as a form unless headers say otherwise). */
export function legacyPost(
  masterUrl: string,
  path: string,
  fields: Record<string, string> | readonly (readonly [string, string])[] | string | Buffer,
  headers: Record<string, string> = {},
): Promise<LegacyResponse> {
  const body = typeof fields === 'string' || Buffer.isBuffer(fields) ? fields : formEncode(fields);
  return send(`${masterUrl}${path}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

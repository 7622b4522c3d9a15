/** What the transport reads from an HTTP request besides its body: Accept and the caller's view of the URL. */
import type { FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../services/frontend-bypass.ts';

/** One element of a header's list with its quality (`token;q=0.5`): q is 1 when absent, 0 when not a number. */
interface Weighted {
  /** The element without its parameters, trimmed and lower-cased. */
  value: string;
  q: number;
}

/** The elements of an Accept-like header (RFC 9110 §12.4.2), empty ones dropped. */
function weightedList(header: string): Weighted[] {
  return header.split(',').flatMap((part) => {
    const [value = '', ...parameters] = part.split(';');
    const name = value.trim().toLowerCase();
    if (!name) return [];
    let q = 1;
    for (const parameter of parameters) {
      const [key, number] = parameter.trim().split('=');
      if (key?.trim().toLowerCase() === 'q') q = Number(number?.trim() || NaN);
    }
    return [{ value: name, q: Number.isFinite(q) ? q : 0 }];
  });
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return weightedList(header).flatMap(({ value, q }) => {
    const [type = '', subtype = ''] = value.split('/').map((part) => part.trim());
    return type && subtype ? [{ type, subtype, q }] : [];
  });
}

/** True when the Accept header (absent = anything) lets us answer application/json. */
export function acceptsJson(header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return true;
  let best: { specificity: number; q: number } | undefined;
  for (const range of parseAccept(header)) {
    const specificity =
      range.type === 'application' && range.subtype === 'json'
        ? 2
        : range.type === 'application' && range.subtype === '*'
          ? 1
          : range.type === '*' && range.subtype === '*'
            ? 0
            : -1;
    if (specificity < 0) continue;
    if (!best || specificity > best.specificity) best = { specificity, q: range.q };
  }
  return !!best && best.q > 0;
}

/**
 * True when the Accept-Encoding header lets us answer gzip: `gzip` (or its alias `x-gzip`) with a
 * non-zero quality, or else `*` with one. No header, or an empty one, means identity only.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text === undefined) return false;
  let named: number | undefined;
  let wildcard: number | undefined;
  for (const { value, q } of weightedList(text)) {
    if (value === 'gzip' || value === 'x-gzip') named = Math.max(named ?? 0, q);
    else if (value === '*') wildcard = q;
  }
  return (named ?? wildcard ?? 0) > 0;
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const PREFIX = /^(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;

function firstHeader(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text?.split(',')[0]?.trim();
}

/**
 * How the caller reached us, for the absolute URLs we answer with: the Host header (or our
 * listening address when it is missing or malformed), X-Forwarded-Proto and X-Forwarded-Prefix.
 */
export function requestOrigin(request: FastifyRequest, fallbackHost: string): RequestOrigin {
  const host = request.headers.host;
  const prefix = firstHeader(request.headers['x-forwarded-prefix'])?.replace(/\/+$/, '') ?? '';
  return {
    secure: firstHeader(request.headers['x-forwarded-proto'])?.toLowerCase() === 'https',
    host: host !== undefined && HOST.test(host) ? host : fallbackHost,
    prefix: PREFIX.test(prefix) ? prefix : '',
  };
}

/** What the transport reads from an HTTP request besides its body: Accept and the caller's view of the URL. */
import type { FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../services/frontend-bypass.ts';

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header.split(',').flatMap((part) => {
    const [range = '', ...parameters] = part.trim().split(';');
    const [type = '', subtype = ''] = range.trim().toLowerCase().split('/');
    if (!type || !subtype) return [];
    let q = 1;
    for (const parameter of parameters) {
      const [name, value] = parameter.trim().split('=');
      if (name?.trim().toLowerCase() === 'q') q = Number(value);
    }
    return [{ type, subtype, q: Number.isFinite(q) ? q : 0 }];
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

/**
 * URL splitting and quoting the way slapproxy's Python does it (`urllib.parse.urlsplit`, and
 * werkzeug's URL building), for the answers that embed a caller's URL (frontend bypass).
 */

export interface UrlParts {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
  fragment: string;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+\-.]*):/;

/** Python's `urlsplit`, without its validation of ports and brackets. */
export function splitUrl(url: string): UrlParts {
  let rest = url;
  let scheme = '';
  const match = SCHEME.exec(rest);
  if (match) {
    scheme = (match[1] ?? '').toLowerCase();
    rest = rest.slice(match[0].length);
  }
  let netloc = '';
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?#]/);
    netloc = end < 0 ? rest.slice(2) : rest.slice(2, end + 2);
    rest = end < 0 ? '' : rest.slice(end + 2);
  }
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  let query = '';
  const question = rest.indexOf('?');
  if (question >= 0) {
    query = rest.slice(question + 1);
    rest = rest.slice(0, question);
  }
  return { scheme, netloc, path: rest, query, fragment };
}

const ALWAYS_SAFE = new Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~$!'()*+,;/:");

/** Percent-encodes UTF-8 bytes outside werkzeug's safe set for URL building (`/` and `:` kept). */
export function quoteUrlPart(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += ALWAYS_SAFE.has(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

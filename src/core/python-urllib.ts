/**
 * Python 3.11's `urllib.parse` URL splitting and joining (urlsplit, urlparse, urlunsplit,
 * urlunparse, urljoin, and the netloc attributes of their results), pure and without I/O, as its
 * latest 3.11 releases do: `rtsps` in the scheme tables, the bracketed-netloc checks of the CVE
 * fixes (which Debian's patched 3.11.2 has too). The template module, the `slapos.cookbook:urlparse`
 * recipe and `publishurl` all use this one copy. What Python raises ValueError on throws
 * {@link UrlValueError} with Python's message.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { pyStrRepr } from './python-value.ts';

/** Python's ValueError from `urllib.parse` (message as Python words it). */
export class UrlValueError extends Error {}

/** `urllib.parse.uses_relative`. */
export const USES_RELATIVE: ReadonlySet<string> = new Set([
  ...['', 'ftp', 'http', 'gopher', 'nntp', 'imap', 'wais', 'file', 'https', 'shttp', 'mms'],
  ...['prospero', 'rtsp', 'rtsps', 'rtspu', 'sftp', 'svn', 'svn+ssh', 'ws', 'wss'],
]);
/** `urllib.parse.uses_netloc`. */
export const USES_NETLOC: ReadonlySet<string> = new Set([
  ...['', 'ftp', 'http', 'gopher', 'nntp', 'telnet', 'imap', 'wais', 'file', 'mms', 'https'],
  ...['shttp', 'snews', 'prospero', 'rtsp', 'rtsps', 'rtspu', 'rsync', 'svn', 'svn+ssh', 'sftp'],
  ...['nfs', 'git', 'git+ssh', 'ws', 'wss'],
]);
/** `urllib.parse.uses_params`: schemes whose last path segment may carry `;params`. */
export const USES_PARAMS: ReadonlySet<string> = new Set([
  ...['', 'ftp', 'hdl', 'prospero', 'http', 'imap', 'https', 'shttp', 'rtsp', 'rtsps', 'rtspu'],
  ...['sip', 'sips', 'mms', 'sftp', 'tel'],
]);

const SCHEME_CHARS = /^[A-Za-z0-9+\-.]*$/;

export type SplitTuple = [scheme: string, netloc: string, path: string, query: string, fragment: string];
export type ParseTuple = [
  scheme: string,
  netloc: string,
  path: string,
  params: string,
  query: string,
  fragment: string,
];

/** Python's `text.partition(sep)`: the separator is '' when absent. */
export function partition(text: string, sep: string): [string, string, string] {
  const i = text.indexOf(sep);
  return i < 0 ? [text, '', ''] : [text.slice(0, i), sep, text.slice(i + sep.length)];
}

/** Python's `text.rpartition(sep)`. */
export function rpartition(text: string, sep: string): [string, string, string] {
  const i = text.lastIndexOf(sep);
  return i < 0 ? ['', '', text] : [text.slice(0, i), sep, text.slice(i + sep.length)];
}

/** `_check_bracketed_netloc`: nothing between `@` and `[` nor between `]` and `:port`. */
function checkBracketedNetloc(netloc: string): void {
  const hostAndPort = rpartition(netloc, '@')[2];
  const [before, open, bracketed] = partition(hostAndPort, '[');
  let host: string;
  if (open) {
    if (before) throw new UrlValueError('Invalid IPv6 URL');
    let port: string;
    [host, , port] = partition(bracketed, ']');
    if (port && !port.startsWith(':')) throw new UrlValueError('Invalid IPv6 URL');
  } else {
    host = partition(hostAndPort, ':')[0];
  }
  checkBracketedHost(host);
}

/** `_check_bracketed_host`: what is in brackets must be an IPv6 address or an IPvFuture. */
function checkBracketedHost(host: string): void {
  if (host.startsWith('v')) {
    if (!/^v[a-fA-F0-9]+\.[^\n]+$/.test(host)) throw new UrlValueError('IPvFuture address is invalid');
    return;
  }
  if (isIPv4(host)) throw new UrlValueError('An IPv4 address cannot be in brackets');
  const [address, hasScope, scope] = partition(host, '%');
  if (!isIPv6(address) || (hasScope && (scope === '' || scope.includes('%'))))
    throw new UrlValueError(`${pyStrRepr(host)} does not appear to be an IPv4 or IPv6 address`);
}

/** `_checknetloc`: a non-ASCII netloc must not gain URL delimiters under NFKC normalisation. */
function checkNetloc(netloc: string): void {
  if (/^[\x00-\x7f]*$/.test(netloc)) return;
  const bare = netloc.replace(/[@:#?]/g, '');
  const normalised = bare.normalize('NFKC');
  if (normalised === bare) return;
  for (const c of '/?#@:') {
    if (normalised.includes(c))
      throw new UrlValueError(`netloc '${netloc}' contains invalid characters under NFKC normalization`);
  }
}

export function urlsplit(input: string, defaultScheme = '', allowFragments = true): SplitTuple {
  let url = input.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');
  let scheme = defaultScheme.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '').replace(/[\t\r\n]/g, '');
  let netloc = '';
  let query = '';
  let fragment = '';
  const colon = url.indexOf(':');
  if (colon > 0 && /^[A-Za-z]/.test(url) && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  if (url.startsWith('//')) {
    let end = url.length;
    for (const c of '/?#') {
      const i = url.indexOf(c, 2);
      if (i >= 0) end = Math.min(end, i);
    }
    netloc = url.slice(2, end);
    url = url.slice(end);
    if (netloc.includes('[') !== netloc.includes(']')) throw new UrlValueError('Invalid IPv6 URL');
    if (netloc.includes('[')) checkBracketedNetloc(netloc);
  }
  if (allowFragments && url.includes('#')) [url, , fragment] = partition(url, '#');
  if (url.includes('?')) [url, , query] = partition(url, '?');
  checkNetloc(netloc);
  return [scheme, netloc, url, query, fragment];
}

export function urlparse(input: string, defaultScheme = '', allowFragments = true): ParseTuple {
  const [scheme, netloc, path0, query, fragment] = urlsplit(input, defaultScheme, allowFragments);
  let path = path0;
  let params = '';
  if (USES_PARAMS.has(scheme) && path.includes(';')) {
    const i = path.includes('/') ? path.indexOf(';', path.lastIndexOf('/')) : path.indexOf(';');
    if (i >= 0) [path, params] = [path.slice(0, i), path.slice(i + 1)];
  }
  return [scheme, netloc, path, params, query, fragment];
}

export function urlunsplit([scheme, netloc, path, query, fragment]: Readonly<SplitTuple>): string {
  let url = path;
  if (netloc || (scheme && USES_NETLOC.has(scheme) && !url.startsWith('//'))) {
    if (url && !url.startsWith('/')) url = '/' + url;
    url = '//' + netloc + url;
  }
  if (scheme) url = scheme + ':' + url;
  if (query) url += '?' + query;
  if (fragment) url += '#' + fragment;
  return url;
}

export function urlunparse([scheme, netloc, path, params, query, fragment]: Readonly<ParseTuple>): string {
  return urlunsplit([scheme, netloc, params ? `${path};${params}` : path, query, fragment]);
}

export function urljoin(base: string, url: string, allowFragments = true): string {
  if (!base) return url;
  if (!url) return base;
  const [bscheme, bnetloc, bpath, bparams, bquery] = urlparse(base, '', allowFragments);
  const [scheme, parsedNetloc, path, params, query, fragment] = urlparse(url, bscheme, allowFragments);
  let netloc = parsedNetloc;
  if (scheme !== bscheme || !USES_RELATIVE.has(scheme)) return url;
  if (USES_NETLOC.has(scheme)) {
    if (netloc) return urlunparse([scheme, netloc, path, params, query, fragment]);
    netloc = bnetloc;
  }
  if (!path && !params) return urlunparse([scheme, netloc, bpath, bparams, query || bquery, fragment]);
  const baseParts = bpath.split('/');
  if (baseParts.at(-1) !== '') baseParts.pop();
  let segments: string[];
  if (path.startsWith('/')) segments = path.split('/');
  else {
    segments = [...baseParts, ...path.split('/')];
    if (segments.length > 2)
      segments = [segments[0]!, ...segments.slice(1, -1).filter(Boolean), segments.at(-1)!];
  }
  const resolved: string[] = [];
  for (const seg of segments) {
    if (seg === '..') resolved.pop();
    else if (seg !== '.') resolved.push(seg);
  }
  if (segments.at(-1) === '.' || segments.at(-1) === '..') resolved.push('');
  return urlunparse([scheme, netloc, resolved.join('/') || '/', params, query, fragment]);
}

/** `_hostinfo` of a netloc: the host (brackets removed) and the port text, null when empty. */
function hostinfo(netloc: string): [string, string | null] {
  const info = rpartition(netloc, '@')[2];
  const [, open, bracketed] = partition(info, '[');
  let host: string;
  let port: string;
  if (open) {
    let rest: string;
    [host, , rest] = partition(bracketed, ']');
    port = partition(rest, ':')[2];
  } else {
    [host, , port] = partition(info, ':');
  }
  return [host, port || null];
}

/** A result's `.hostname`: lower-cased, except an IPv6 zone after `%`; null when absent. */
export function netlocHostname(netloc: string): string | null {
  const host = hostinfo(netloc)[0];
  if (!host) return null;
  const [name, percent, zone] = partition(host, '%');
  return name.toLowerCase() + percent + zone;
}

/** A result's `.port`: null when absent; throws UrlValueError when not an integer in 0-65535. */
export function netlocPort(netloc: string): number | null {
  const port = hostinfo(netloc)[1];
  if (port === null) return null;
  if (!/^[0-9]+$/.test(port))
    throw new UrlValueError(`Port could not be cast to integer value as ${pyStrRepr(port)}`);
  const n = Number(port);
  if (n > 65535) throw new UrlValueError('Port out of range 0-65535');
  return n;
}

/** A result's `.username` and `.password` (each null when absent). */
export function netlocUserinfo(netloc: string): [username: string | null, password: string | null] {
  const [userinfo, have] = rpartition(netloc, '@');
  if (!have) return [null, null];
  const [user, havePassword, password] = partition(userinfo, ':');
  return [user, havePassword ? password : null];
}

/**
 * `slapos.cookbook:urlparse`: during init, splits `url` as Python's `urllib.parse.urlparse` does
 * and sets `scheme`, `username`, `password`, `host`, `port`, `path` (without its leading and
 * trailing `/`), `params`, `query` and `fragment` (absent parts are empty). Install does nothing.
 * A URL Python refuses (bad port, unbalanced or invalid brackets) is a profile error.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Recipe } from '../../recipe.ts';

export interface ParsedUrl {
  scheme: string;
  netloc: string;
  path: string;
  params: string;
  query: string;
  fragment: string;
  username: string | undefined;
  password: string | undefined;
  hostname: string | undefined;
  port: number | undefined;
}

/** Thrown for what Python's urlparse raises ValueError on. */
export class InvalidUrl extends Error {}

const SCHEME_CHARS = /^[A-Za-z0-9+.-]*$/;
/** Schemes whose last path segment may carry `;params` (urllib.parse.uses_params). */
const USES_PARAMS = new Set([
  '',
  'ftp',
  'hdl',
  'prospero',
  'http',
  'imap',
  'https',
  'shttp',
  'rtsp',
  'rtsps',
  'rtspu',
  'sip',
  'sips',
  'mms',
  'sftp',
  'tel',
]);

/** Python's `text.partition(separator)`. */
function partition(text: string, separator: string): [string, boolean, string] {
  const i = text.indexOf(separator);
  return i < 0 ? [text, false, ''] : [text.slice(0, i), true, text.slice(i + separator.length)];
}

function rpartition(text: string, separator: string): [string, boolean, string] {
  const i = text.lastIndexOf(separator);
  return i < 0 ? ['', false, text] : [text.slice(0, i), true, text.slice(i + separator.length)];
}

function checkBracketedHost(host: string): void {
  if (host.startsWith('v')) {
    if (!/^v[a-fA-F0-9]+\..+$/s.test(host)) throw new InvalidUrl('IPvFuture address is invalid');
    return;
  }
  const [address, hasScope, scope] = partition(host, '%');
  if (isIPv4(host)) throw new InvalidUrl('An IPv4 address cannot be in brackets');
  if (!isIPv6(address) || (hasScope && (scope === '' || scope.includes('%'))))
    throw new InvalidUrl(`'${host}' does not appear to be an IPv4 or IPv6 address`);
}

/** A non-ASCII netloc must not gain URL delimiters under NFKC normalisation (Python's _checknetloc). */
function checkNetloc(netloc: string): void {
  if (/^[\x00-\x7f]*$/.test(netloc)) return;
  const bare = netloc.replace(/[@:#?]/g, '');
  const normalised = bare.normalize('NFKC');
  if (normalised === bare) return;
  for (const c of '/?#@:') {
    if (normalised.includes(c))
      throw new InvalidUrl(`netloc '${netloc}' contains invalid characters under NFKC normalization`);
  }
}

/** `urllib.parse.urlparse(url)` with its `username`, `password`, `hostname` and `port`. */
export function pythonUrlparse(input: string): ParsedUrl {
  let url = input.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');
  let scheme = '';
  const colon = url.indexOf(':');
  if (colon > 0 && /^[A-Za-z]/.test(url) && SCHEME_CHARS.test(url.slice(0, colon))) {
    scheme = url.slice(0, colon).toLowerCase();
    url = url.slice(colon + 1);
  }
  let netloc = '';
  if (url.startsWith('//')) {
    let end = url.length;
    for (const c of '/?#') {
      const i = url.indexOf(c, 2);
      if (i >= 0) end = Math.min(end, i);
    }
    netloc = url.slice(2, end);
    url = url.slice(end);
    if (netloc.includes('[') !== netloc.includes(']')) throw new InvalidUrl('Invalid IPv6 URL');
    if (netloc.includes('[')) checkBracketedHost(partition(partition(netloc, '[')[2], ']')[0]);
  }
  let fragment = '';
  let query = '';
  [url, , fragment] = partition(url, '#');
  [url, , query] = partition(url, '?');
  checkNetloc(netloc);
  let params = '';
  if (USES_PARAMS.has(scheme) && url.includes(';')) {
    const start = url.includes('/') ? url.indexOf(';', url.lastIndexOf('/')) : url.indexOf(';');
    if (start >= 0) [url, params] = [url.slice(0, start), url.slice(start + 1)];
  }
  const [userinfo, hasUser, hostinfo] = rpartition(netloc, '@');
  let username: string | undefined;
  let password: string | undefined;
  if (hasUser) {
    const [user, hasPassword, secret] = partition(userinfo, ':');
    username = user;
    password = hasPassword ? secret : undefined;
  }
  let host: string;
  let portText: string;
  const [, hasBracket, bracketed] = partition(hostinfo, '[');
  if (hasBracket) {
    const [inside, , after] = partition(bracketed, ']');
    host = inside;
    portText = partition(after, ':')[2];
  } else {
    [host, , portText] = partition(hostinfo, ':');
  }
  let hostname: string | undefined;
  if (host !== '') {
    const [address, hasZone, zone] = partition(host, '%');
    hostname = address.toLowerCase() + (hasZone ? `%${zone}` : '');
  }
  let port: number | undefined;
  if (portText !== '') {
    if (!/^[0-9]+$/.test(portText))
      throw new InvalidUrl(`Port could not be cast to integer value as '${portText}'`);
    port = Number(portText);
    if (port > 65535) throw new InvalidUrl('Port out of range 0-65535');
  }
  return { scheme, netloc, path: url, params, query, fragment, username, password, hostname, port };
}

export const urlparse: Recipe = {
  version: '1',
  init(ctx) {
    const url = ctx.options.require('url');
    let parsed: ParsedUrl;
    try {
      parsed = pythonUrlparse(url);
    } catch (error) {
      if (!(error instanceof InvalidUrl)) throw error;
      throw ctx.error(`cannot parse the URL: ${error.message}`, { option: 'url', code: 'SLAP_ERR_PROFILE' });
    }
    const values: Record<string, string> = {
      scheme: parsed.scheme,
      username: parsed.username ?? '',
      password: parsed.password ?? '',
      host: parsed.hostname ?? '',
      port: parsed.port === undefined ? '' : String(parsed.port),
      path: parsed.path.replace(/^\/+|\/+$/g, ''),
      params: parsed.params,
      query: parsed.query,
      fragment: parsed.fragment,
    };
    for (const [key, value] of Object.entries(values)) ctx.options.set(key, value);
  },
  install() {
    return [];
  },
};

/**
 * Stand-in for `urllib.parse` (also `six.moves.urllib.parse`, and `urllib` with its `parse`
 * attribute), following CPython 3.11's algorithms: `urlparse`/`urlsplit` results are named tuples
 * with `hostname`, `port`, `username`, `password`, `geturl()` and `_replace()`.
 */
import { TextDecoder } from 'node:util';
import { argCount } from './args.ts';
import { bindRequired, fn, req, strOf, stubModule } from './module-helpers.ts';
import type { PyModule } from './values.ts';
import {
  MISSING,
  PyBytes,
  PyDict,
  PyNamedTuple,
  PyTuple,
  PyUndefined,
  iterable,
  pyStr,
  strRepr,
  truthy,
  typeError,
  valueError,
  type Kwargs,
  type Missing,
  type PyValue,
} from './values.ts';

const USES_RELATIVE = new Set([
  '',
  'ftp',
  'http',
  'gopher',
  'nntp',
  'imap',
  'wais',
  'file',
  'https',
  'shttp',
  'mms',
  'prospero',
  'rtsp',
  'rtspu',
  'sftp',
  'svn',
  'svn+ssh',
  'ws',
  'wss',
]);
const USES_NETLOC = new Set([
  '',
  'ftp',
  'http',
  'gopher',
  'nntp',
  'telnet',
  'imap',
  'wais',
  'file',
  'mms',
  'https',
  'shttp',
  'snews',
  'prospero',
  'rtsp',
  'rtspu',
  'rsync',
  'svn',
  'svn+ssh',
  'sftp',
  'nfs',
  'git',
  'git+ssh',
  'ws',
  'wss',
]);
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
  'rtspu',
  'sip',
  'sips',
  'mms',
  'sftp',
  'tel',
]);
const SCHEME_CHARS = /^[A-Za-z0-9+\-.]*$/;

const SPLIT_FIELDS = ['scheme', 'netloc', 'path', 'query', 'fragment'];
const PARSE_FIELDS = ['scheme', 'netloc', 'path', 'params', 'query', 'fragment'];

function urlArg(v: PyValue): string {
  return strOf(v, (t) => `'${t}' object has no attribute 'decode'`);
}

function partition(s: string, sep: string, fromRight = false): [string, string, string] {
  const i = fromRight ? s.lastIndexOf(sep) : s.indexOf(sep);
  if (i < 0) return fromRight ? ['', '', s] : [s, '', ''];
  return [s.slice(0, i), sep, s.slice(i + sep.length)];
}

function hostinfo(netloc: string): [string, string | null] {
  const info = partition(netloc, '@', true)[2];
  const [, open, bracketed] = partition(info, '[');
  let hostname: string;
  let port: string;
  if (open) {
    let rest: string;
    [hostname, , rest] = partition(bracketed, ']');
    port = partition(rest, ':')[2];
  } else {
    [hostname, , port] = partition(info, ':');
  }
  return [hostname, port || null];
}

function netlocAttr(self: PyNamedTuple, attr: string): PyValue | Missing {
  const netloc = self.items[1] as string;
  switch (attr) {
    case 'hostname': {
      const host = hostinfo(netloc)[0];
      if (!host) return null;
      const [name, percent, zone] = partition(host, '%');
      return name.toLowerCase() + percent + zone;
    }
    case 'port': {
      const port = hostinfo(netloc)[1];
      if (port === null) return null;
      if (!/^[0-9]+$/.test(port)) {
        throw valueError(`Port could not be cast to integer value as ${strRepr(port)}`);
      }
      const n = BigInt(port);
      if (n > 65535n) throw valueError('Port out of range 0-65535');
      return n;
    }
    case 'username':
    case 'password': {
      const [userinfo, have] = partition(netloc, '@', true);
      if (!have) return null;
      const [user, havePassword, password] = partition(userinfo, ':');
      return attr === 'username' ? user : havePassword ? password : null;
    }
    case 'geturl':
      return fn('geturl', () =>
        self.fields.length === 6 ? unparse(self.items as string[]) : unsplit(self.items as string[]),
      );
    case '_replace':
      return fn('_replace', (args, kwargs) => {
        argCount('_replace', args, 0, 0);
        const items = [...self.items];
        for (const [k, v] of kwargs ?? []) {
          const i = self.fields.indexOf(k);
          if (i < 0) throw valueError(`Got unexpected field names: [${strRepr(k)}]`);
          items[i] = v;
        }
        return result(self.name, self.fields, items);
      });
    default:
      return MISSING;
  }
}

function result(name: string, fields: readonly string[], items: readonly PyValue[]): PyNamedTuple {
  return new PyNamedTuple(name, fields, items, netlocAttr);
}

function checkBracketedNetloc(netloc: string): void {
  const hostAndPort = partition(netloc, '@', true)[2];
  const [before, open, bracketed] = partition(hostAndPort, '[');
  let hostname: string;
  if (open) {
    if (before) throw valueError('Invalid IPv6 URL');
    let port: string;
    [hostname, , port] = partition(bracketed, ']');
    if (port && !port.startsWith(':')) throw valueError('Invalid IPv6 URL');
  } else {
    hostname = partition(hostAndPort, ':')[0];
  }
  if (hostname.startsWith('v')) {
    if (!/^v[a-fA-F0-9]+\.[\s\S]+$/.test(hostname)) throw valueError('IPvFuture address is invalid');
  } else if (/^\d{1,3}(\.\d{1,3}){3}$/.test(hostname)) {
    throw valueError('An IPv4 address cannot be in brackets');
  } else if (!/^[0-9a-fA-F:.]+(%.+)?$/.test(hostname) || !hostname.includes(':')) {
    throw valueError(`${strRepr(hostname)} does not appear to be an IPv4 or IPv6 address`);
  }
}

export function urlsplit(input: string, defaultScheme = '', allowFragments = true): string[] {
  let url = input.replace(/^[\x00-\x20]+/, '').replace(/[\t\r\n]/g, '');

  let scheme = defaultScheme.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '').replace(/[\t\r\n]/g, '');
  let netloc = '';
  let query = '';
  let fragment = '';
  const i = url.indexOf(':');
  if (i > 0 && /^[A-Za-z]/.test(url) && SCHEME_CHARS.test(url.slice(0, i))) {
    scheme = url.slice(0, i).toLowerCase();
    url = url.slice(i + 1);
  }
  if (url.startsWith('//')) {
    let delim = url.length;
    for (const c of '/?#') {
      const w = url.indexOf(c, 2);
      if (w >= 0) delim = Math.min(delim, w);
    }
    netloc = url.slice(2, delim);
    url = url.slice(delim);
    if (netloc.includes('[') !== netloc.includes(']')) throw valueError('Invalid IPv6 URL');
    if (netloc.includes('[')) checkBracketedNetloc(netloc);
  }
  if (allowFragments && url.includes('#')) [url, , fragment] = partition(url, '#');
  if (url.includes('?')) [url, , query] = partition(url, '?');
  return [scheme, netloc, url, query, fragment];
}

export function urlparse(input: string, defaultScheme = '', allowFragments = true): string[] {
  const [scheme, netloc, path0, query, fragment] = urlsplit(input, defaultScheme, allowFragments) as [
    string,
    string,
    string,
    string,
    string,
  ];
  let path = path0;
  let params = '';
  if (USES_PARAMS.has(scheme) && path.includes(';')) {
    const i = path.includes('/') ? path.indexOf(';', path.lastIndexOf('/')) : path.indexOf(';');
    if (i >= 0) [path, params] = [path.slice(0, i), path.slice(i + 1)];
  }
  return [scheme, netloc, path, params, query, fragment];
}

function unsplit([scheme = '', netloc = '', path = '', query = '', fragment = '']: string[]): string {
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

function unparse([
  scheme = '',
  netloc = '',
  path = '',
  params = '',
  query = '',
  fragment = '',
]: string[]): string {
  return unsplit([scheme, netloc, params ? `${path};${params}` : path, query, fragment]);
}

export function urljoin(base: string, url: string, allowFragments = true): string {
  if (!base) return url;
  if (!url) return base;
  const [bscheme, bnetloc, bpath, bparams, bquery] = urlparse(base, '', allowFragments);
  const [scheme, parsedNetloc, path, params, query, fragment] = urlparse(url, bscheme, allowFragments);
  let netloc = parsedNetloc;
  if (scheme !== bscheme || !USES_RELATIVE.has(scheme!)) return url;
  if (USES_NETLOC.has(scheme!)) {
    if (netloc) return unparse([scheme!, netloc, path!, params!, query!, fragment!]);
    netloc = bnetloc;
  }
  if (!path && !params) {
    return unparse([scheme!, netloc!, bpath!, bparams!, query || bquery!, fragment!]);
  }
  const baseParts = bpath!.split('/');
  if (baseParts.at(-1) !== '') baseParts.pop();
  let segments: string[];
  if (path!.startsWith('/')) segments = path!.split('/');
  else {
    segments = [...baseParts, ...path!.split('/')];
    if (segments.length > 2)
      segments = [segments[0]!, ...segments.slice(1, -1).filter(Boolean), segments.at(-1)!];
  }
  const resolved: string[] = [];
  for (const seg of segments) {
    if (seg === '..') resolved.pop();
    else if (seg !== '.') resolved.push(seg);
  }
  if (segments.at(-1) === '.' || segments.at(-1) === '..') resolved.push('');
  return unparse([scheme!, netloc!, resolved.join('/') || '/', params!, query!, fragment!]);
}

const ALWAYS_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~';

export function quote(value: PyValue, safe: string): string {
  let data: Buffer;
  if (typeof value === 'string') data = Buffer.from(value, 'utf8');
  else if (value instanceof PyBytes) data = value.data;
  else {
    if (value instanceof PyUndefined) value.fail();
    throw typeError('quote_from_bytes() expected bytes');
  }
  const safeSet = new Set([...ALWAYS_SAFE, ...[...safe].filter((c) => c.charCodeAt(0) < 128)]);
  let out = '';
  for (const byte of data) {
    const c = String.fromCharCode(byte);
    out += byte < 128 && safeSet.has(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function quotePlus(value: PyValue, safe: string): string {
  if (typeof value === 'string' && !value.includes(' ')) return quote(value, safe);
  return quote(value, safe + ' ').replace(/ /g, '+');
}

export function unquote(s: string): string {
  if (!s.includes('%')) return s;
  const decoder = new TextDecoder('utf-8');
  // ASCII runs are decoded as bytes (with their %XX escapes), other characters kept as they are.
  return s.replace(/[\x00-\x7f]+/g, (run) => {
    const bytes: number[] = [];
    for (let i = 0; i < run.length; i++) {
      const hex = run.slice(i + 1, i + 3);
      if (run[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else bytes.push(run.charCodeAt(i));
    }
    return decoder.decode(Buffer.from(bytes));
  });
}

function urlencode(query: PyValue, doseq: boolean, safe: string): string {
  let pairs: PyValue[][];
  if (query instanceof PyDict) pairs = [...query.entries()];
  else {
    if (typeof query === 'string' || query === null || typeof query !== 'object')
      throw typeError('not a valid non-string sequence or mapping object');
    pairs = [...iterable(query)].map((p) => [...iterable(p)]);
  }
  const q = (v: PyValue): string => quotePlus(v instanceof PyBytes ? v : pyStr(v), safe);
  const out: string[] = [];
  for (const [k, v] of pairs) {
    const key = q(k!);
    if (!doseq || typeof v === 'string' || v instanceof PyBytes) out.push(`${key}=${q(v!)}`);
    else if (Array.isArray(v) || v instanceof PyTuple || v instanceof PyDict) {
      for (const item of iterable(v)) out.push(`${key}=${q(item)}`);
    } else out.push(`${key}=${q(v!)}`);
  }
  return out.join('&');
}

function parseQsl(qs: string, keepBlank: boolean): [string, string][] {
  const out: [string, string][] = [];
  for (const part of qs.split('&')) {
    if (!part) continue;
    const nv = part.split('=');
    const name = nv[0]!;
    const hasValue = part.includes('=');
    const value = hasValue ? part.slice(name.length + 1) : '';
    if (!hasValue && !keepBlank) continue;
    if (value.length || keepBlank)
      out.push([unquote(name.replace(/\+/g, ' ')), unquote(value.replace(/\+/g, ' '))]);
  }
  return out;
}

function flag(v: PyValue | Missing | undefined, dflt: boolean): boolean {
  return v === MISSING || v === undefined ? dflt : truthy(v);
}

function safeArg(v: PyValue | Missing | undefined, dflt: string): string {
  return v === MISSING || v === undefined
    ? dflt
    : v instanceof PyBytes
      ? v.data.toString('latin1')
      : strOf(v, (t) => `expected str, not ${t}`);
}

function parser(name: string, fields: string[], split: typeof urlsplit): PyValue {
  const type = name === 'urlparse' ? 'ParseResult' : 'SplitResult';
  return fn(name, (args: PyValue[], kwargs: Kwargs | null) => {
    const [url, scheme, allow] = bindRequired(name, ['url', 'scheme', 'allow_fragments'], 1, args, kwargs);
    const items = split(
      urlArg(req(url)),
      scheme === MISSING || scheme === undefined ? '' : urlArg(scheme),
      flag(allow, true),
    );
    return result(type, fields, items);
  });
}

function unparser(name: string, size: number, join: (parts: string[]) => string): PyValue {
  return fn(name, (args) => {
    argCount(name, args, 1, 1);
    const parts = [...iterable(args[0]!)].map((p) => (p === null ? '' : urlArg(p)));
    if (parts.length !== size)
      throw valueError(`not enough values to unpack (expected ${size}, got ${parts.length})`);
    return join(parts);
  });
}

export function urllibParseModule(): PyModule {
  return stubModule('urllib.parse', [
    ['urlparse', parser('urlparse', PARSE_FIELDS, urlparse)],
    ['urlsplit', parser('urlsplit', SPLIT_FIELDS, urlsplit)],
    ['urlunparse', unparser('urlunparse', 6, unparse)],
    ['urlunsplit', unparser('urlunsplit', 5, unsplit)],
    [
      'urljoin',
      fn('urljoin', (args, kwargs) => {
        const [base, url, allow] = bindRequired(
          'urljoin',
          ['base', 'url', 'allow_fragments'],
          2,
          args,
          kwargs,
        );
        return urljoin(urlArg(req(base)), urlArg(req(url)), flag(allow, true));
      }),
    ],
    [
      'urldefrag',
      fn('urldefrag', (args) => {
        argCount('urldefrag', args, 1, 1);
        const url = urlArg(args[0]!);
        if (!url.includes('#')) return result('DefragResult', ['url', 'fragment'], [url, '']);
        const [s, n, p, a, q, frag] = urlparse(url);
        return result('DefragResult', ['url', 'fragment'], [unparse([s!, n!, p!, a!, q!, '']), frag!]);
      }),
    ],
    [
      'quote',
      fn('quote', (args, kwargs) => {
        const [s, safe] = bindRequired('quote', ['string', 'safe', 'encoding', 'errors'], 1, args, kwargs);
        return quote(req(s), safeArg(safe, '/'));
      }),
    ],
    [
      'quote_plus',
      fn('quote_plus', (args, kwargs) => {
        const [s, safe] = bindRequired(
          'quote_plus',
          ['string', 'safe', 'encoding', 'errors'],
          1,
          args,
          kwargs,
        );
        return quotePlus(req(s), safeArg(safe, ''));
      }),
    ],
    [
      'unquote',
      fn('unquote', (args, kwargs) => {
        const [s] = bindRequired('unquote', ['string', 'encoding', 'errors'], 1, args, kwargs);
        return unquote(strOf(req(s), (t) => `a bytes-like object is required, not '${t}'`));
      }),
    ],
    [
      'unquote_plus',
      fn('unquote_plus', (args, kwargs) => {
        const [s] = bindRequired('unquote_plus', ['string', 'encoding', 'errors'], 1, args, kwargs);
        return unquote(
          strOf(req(s), (t) => `a bytes-like object is required, not '${t}'`).replace(/\+/g, ' '),
        );
      }),
    ],
    [
      'urlencode',
      fn('urlencode', (args, kwargs) => {
        const [query, doseq, safe] = bindRequired(
          'urlencode',
          ['query', 'doseq', 'safe', 'encoding', 'errors', 'quote_via'],
          1,
          args,
          kwargs,
        );
        return urlencode(req(query), flag(doseq, false), safeArg(safe, ''));
      }),
    ],
    [
      'parse_qsl',
      fn('parse_qsl', (args, kwargs) => {
        const [qs, keep] = bindRequired('parse_qsl', ['qs', 'keep_blank_values'], 1, args, kwargs);
        return parseQsl(urlArg(req(qs)), flag(keep, false)).map((p) => new PyTuple(p));
      }),
    ],
    [
      'parse_qs',
      fn('parse_qs', (args, kwargs) => {
        const [qs, keep] = bindRequired('parse_qs', ['qs', 'keep_blank_values'], 1, args, kwargs);
        const d = new PyDict();
        for (const [k, v] of parseQsl(urlArg(req(qs)), flag(keep, false))) {
          const list = d.get(k);
          if (Array.isArray(list)) list.push(v);
          else d.set(k, [v]);
        }
        return d;
      }),
    ],
  ]);
}

/** `urllib` (the package): its `parse` submodule. */
export function urllibModule(): PyModule {
  return stubModule('urllib', [['parse', urllibParseModule()]]);
}

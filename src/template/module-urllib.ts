/**
 * Stand-in for `urllib.parse` (also `six.moves.urllib.parse`, and `urllib` with its `parse`
 * attribute), over the shared CPython 3.11 parser (core/python-urllib.ts): `urlparse`/`urlsplit`
 * results are named tuples with `hostname`, `port`, `username`, `password`, `geturl()` and
 * `_replace()`.
 */
import { TextDecoder } from 'node:util';
import {
  UrlValueError,
  netlocHostname,
  netlocPort,
  netlocUserinfo,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
  urlunsplit,
  type ParseTuple,
  type SplitTuple,
} from '../core/python-urllib.ts';
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

const SPLIT_FIELDS = ['scheme', 'netloc', 'path', 'query', 'fragment'];
const PARSE_FIELDS = ['scheme', 'netloc', 'path', 'params', 'query', 'fragment'];

function urlArg(v: PyValue): string {
  return strOf(v, (t) => `'${t}' object has no attribute 'decode'`);
}

function netlocAttr(self: PyNamedTuple, attr: string): PyValue | Missing {
  const netloc = self.items[1] as string;
  switch (attr) {
    case 'hostname':
      return netlocHostname(netloc);
    case 'port': {
      const port = pythonValueErrors(() => netlocPort(netloc));
      return port === null ? null : BigInt(port);
    }
    case 'username':
      return netlocUserinfo(netloc)[0];
    case 'password':
      return netlocUserinfo(netloc)[1];
    case 'geturl':
      return fn('geturl', () =>
        self.fields.length === 6
          ? urlunparse(self.items as ParseTuple)
          : urlunsplit(self.items as SplitTuple),
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

/** Runs `f`, turning the shared parser's UrlValueError into the template's Python ValueError. */
function pythonValueErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (error) {
    if (error instanceof UrlValueError) throw valueError(error.message);
    throw error;
  }
}

function parser(
  name: string,
  fields: string[],
  split: (url: string, scheme: string, allowFragments: boolean) => string[],
): PyValue {
  const type = name === 'urlparse' ? 'ParseResult' : 'SplitResult';
  return fn(name, (args: PyValue[], kwargs: Kwargs | null) => {
    const [url, scheme, allow] = bindRequired(name, ['url', 'scheme', 'allow_fragments'], 1, args, kwargs);
    const text = urlArg(req(url));
    const defaultScheme = scheme === MISSING || scheme === undefined ? '' : urlArg(scheme);
    const items = pythonValueErrors(() => split(text, defaultScheme, flag(allow, true)));
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
    ['urlunparse', unparser('urlunparse', 6, (parts) => urlunparse(parts as ParseTuple))],
    ['urlunsplit', unparser('urlunsplit', 5, (parts) => urlunsplit(parts as SplitTuple))],
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
        const [baseText, urlText] = [urlArg(req(base)), urlArg(req(url))];
        return pythonValueErrors(() => urljoin(baseText, urlText, flag(allow, true)));
      }),
    ],
    [
      'urldefrag',
      fn('urldefrag', (args) => {
        argCount('urldefrag', args, 1, 1);
        const url = urlArg(args[0]!);
        if (!url.includes('#')) return result('DefragResult', ['url', 'fragment'], [url, '']);
        const [s, n, p, a, q, frag] = pythonValueErrors(() => urlparse(url));
        return result('DefragResult', ['url', 'fragment'], [urlunparse([s, n, p, a, q, '']), frag]);
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

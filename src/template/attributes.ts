/**
 * Attribute access and methods of the built-in types (str, list, tuple, dict, set, bytes, float),
 * as templates call them: `d.get('a', 1)`, `l.append(x)`, `s.split(',')`, `d.__setitem__(k, v)`…
 */
import { argCount, bindArgs, intArg } from './args.ts';
import { formatValue, strFormat } from './format.ts';
import { contains, delItem, getItem, keyError, lessThan, setItem } from './ops.ts';
import {
  MISSING,
  PyBytes,
  PyDict,
  PyDictView,
  PyError,
  PyFrozenSet,
  PyFunction,
  PyMarkup,
  PyObject,
  PySet,
  PyTuple,
  PyUndefined,
  isCallable,
  iterable,
  pyEquals,
  pyRepr,
  pyStr,
  strChars,
  strLen,
  truthy,
  typeError,
  typeName,
  valueError,
  type Kwargs,
  type Missing,
  type PyValue,
} from './values.ts';
import { strOf } from './module-helpers.ts';

type Method<T> = (self: T, args: PyValue[], kwargs: Kwargs | null) => PyValue;

/** Python `fn(*args, **kwargs)` for any callable value. */
export function callValue(fn: PyValue, args: PyValue[], kwargs: Kwargs | null = null): PyValue {
  if (isCallable(fn)) return fn.pyCall(args, kwargs);
  if (fn instanceof PyUndefined) fn.fail();
  throw typeError(`'${typeName(fn)}' object is not callable`);
}

// ---------------------------------------------------------------------------------------------
// str

/** Characters `str.isspace()` accepts; `str.split()` and `str.strip()` split/strip on them. */
const PY_WS =
  '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING_WS = new RegExp(`^[${PY_WS}]+`);
const TRAILING_WS = new RegExp(`[${PY_WS}]+$`);
const ALL_WS = new RegExp(`^[${PY_WS}]+$`);
const LINE_BREAK = /\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]/;

function strArg(fname: string, v: PyValue, what = 'str'): string {
  return strOf(v, (type) => `${fname}() argument must be ${what}, not ${type}`);
}

function charsArg(fname: string, v: PyValue | Missing): string | null {
  if (v === MISSING || v === null) return null;
  return strArg(fname, v, 'str or None');
}

export function pyStrip(s: string, chars: string | null, left: boolean, right: boolean): string {
  if (chars === null) {
    let r = s;
    if (left) r = r.replace(LEADING_WS, '');
    if (right) r = r.replace(TRAILING_WS, '');
    return r;
  }
  const set = new Set(Array.from(chars));
  const cps = Array.from(s);
  let a = 0;
  let b = cps.length;
  if (left) while (a < b && set.has(cps[a]!)) a++;
  if (right) while (b > a && set.has(cps[b - 1]!)) b--;
  return cps.slice(a, b).join('');
}

const WS_CHAR = new RegExp(`[${PY_WS}]`);

function isWs(c: string): boolean {
  return WS_CHAR.test(c);
}

export function pySplit(s: string, sep: string | null, maxsplit: number): string[] {
  if (sep === null) {
    const out: string[] = [];
    let pos = 0;
    const n = s.length;
    for (;;) {
      while (pos < n && isWs(s[pos]!)) pos++;
      if (pos >= n) break;
      if (maxsplit >= 0 && out.length === maxsplit) {
        out.push(s.slice(pos));
        break;
      }
      let end = pos;
      while (end < n && !isWs(s[end]!)) end++;
      out.push(s.slice(pos, end));
      pos = end;
    }
    return out;
  }
  if (sep === '') throw valueError('empty separator');
  const parts = s.split(sep);
  if (maxsplit < 0 || parts.length - 1 <= maxsplit) return parts;
  return [...parts.slice(0, maxsplit), parts.slice(maxsplit).join(sep)];
}

function pyRsplit(s: string, sep: string | null, maxsplit: number): string[] {
  if (maxsplit < 0) return pySplit(s, sep, -1);
  if (sep === null) {
    const out: string[] = [];
    let end = s.length;
    for (;;) {
      while (end > 0 && isWs(s[end - 1]!)) end--;
      if (end === 0) break;
      if (out.length === maxsplit) {
        out.unshift(s.slice(0, end));
        break;
      }
      let start = end;
      while (start > 0 && !isWs(s[start - 1]!)) start--;
      out.unshift(s.slice(start, end));
      end = start;
    }
    return out;
  }
  if (sep === '') throw valueError('empty separator');
  const parts = s.split(sep);
  if (parts.length - 1 <= maxsplit) return parts;
  const keep = parts.length - maxsplit;
  return [parts.slice(0, keep).join(sep), ...parts.slice(keep)];
}

export function pySplitlines(s: string, keepends = false): string[] {
  const out: string[] = [];
  let rest = s;
  while (rest !== '') {
    const m = LINE_BREAK.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    out.push(rest.slice(0, keepends ? m.index + m[0].length : m.index));
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

function isCased(ch: string): boolean {
  return ch.toLowerCase() !== ch.toUpperCase();
}

export function pyTitle(s: string): string {
  let out = '';
  let prevCased = false;
  for (const ch of s) {
    if (isCased(ch)) {
      out += prevCased ? ch.toLowerCase() : ch.toUpperCase();
      prevCased = true;
    } else {
      out += ch;
      prevCased = /\p{L}/u.test(ch) || /\p{M}/u.test(ch);
    }
  }
  return out;
}

export function pyCapitalize(s: string): string {
  const cps = Array.from(s);
  if (cps.length === 0) return s;
  return cps[0]!.toUpperCase() + cps.slice(1).join('').toLowerCase();
}

export function pyCenter(s: string, width: number, fill = ' '): string {
  const len = strLen(s);
  if (width <= len) return s;
  const marg = width - len;
  const left = Math.floor(marg / 2) + (marg & width & 1);
  return fill.repeat(left) + s + fill.repeat(marg - left);
}

/** Code-point based [start, end) window for find/count/startswith. */
function window(
  s: string,
  startArg: PyValue | Missing,
  endArg: PyValue | Missing,
): { text: string; offset: number } {
  if ((startArg === MISSING || startArg === null) && (endArg === MISSING || endArg === null)) {
    return { text: s, offset: 0 };
  }
  const chars = strChars(s) ?? s.split('');
  const len = chars.length;
  const norm = (v: PyValue | Missing, dflt: number): number => {
    if (v === MISSING || v === null) return dflt;
    const n = Number(intArg('slice', v));
    return n < 0 ? Math.max(len + n, 0) : Math.min(n, len);
  };
  const a = norm(startArg, 0);
  const b = norm(endArg, len);
  return { text: b > a ? chars.slice(a, b).join('') : '', offset: a };
}

function cpIndex(s: string, utf16Index: number): number {
  return strChars(s) ? Array.from(s.slice(0, utf16Index)).length : utf16Index;
}

function findIn(self: string, args: PyValue[], name: string, fromRight: boolean): number {
  argCount(name, args, 1, 3);
  const sub = strArg(name, args[0]!);
  const { text, offset } = window(self, args[1] ?? MISSING, args[2] ?? MISSING);
  if (args.length > 1 && offset > strLen(self)) return -1;
  const idx = fromRight ? text.lastIndexOf(sub) : text.indexOf(sub);
  if (idx < 0) return -1;
  return offset + cpIndex(text, idx);
}

function affixTest(self: string, args: PyValue[], name: string, atEnd: boolean): boolean {
  argCount(name, args, 1, 3);
  const { text } = window(self, args[1] ?? MISSING, args[2] ?? MISSING);
  const test = (p: PyValue): boolean => {
    if (typeof p !== 'string' && !(p instanceof PyMarkup)) {
      throw typeError(`${name} first arg must be str or a tuple of str, not ${typeName(p)}`);
    }
    const t = pyStr(p);
    return atEnd ? text.endsWith(t) : text.startsWith(t);
  };
  const affix = args[0]!;
  if (affix instanceof PyTuple) return affix.items.some(test);
  return test(affix);
}

function countIn(self: string, args: PyValue[]): bigint {
  argCount('count', args, 1, 3);
  const sub = strArg('count', args[0]!);
  const { text } = window(self, args[1] ?? MISSING, args[2] ?? MISSING);
  if (sub === '') return BigInt(strLen(text) + 1);
  return BigInt(text.split(sub).length - 1);
}

export function pyReplace(s: string, old: string, replacement: string, count: number): string {
  if (count < 0) {
    if (old === '') return replacement + Array.from(s).join(replacement) + (s === '' ? '' : replacement);
    return s.split(old).join(replacement);
  }
  let out = '';
  let rest = s;
  let n = 0;
  if (old === '') {
    const cps = Array.from(s);
    for (let i = 0; i <= cps.length; i++) {
      if (n < count) {
        out += replacement;
        n++;
      }
      if (i < cps.length) out += cps[i];
    }
    return out;
  }
  while (n < count) {
    const idx = rest.indexOf(old);
    if (idx < 0) break;
    out += rest.slice(0, idx) + replacement;
    rest = rest.slice(idx + old.length);
    n++;
  }
  return out + rest;
}

export function joinStrings(sep: string, items: PyValue): string {
  const parts: string[] = [];
  let i = 0;
  for (const v of iterable(items)) {
    if (typeof v === 'string') parts.push(v);
    else if (v instanceof PyMarkup) parts.push(v.value);
    else {
      if (v instanceof PyUndefined) v.fail();
      throw typeError(`sequence item ${i}: expected str instance, ${typeName(v)} found`);
    }
    i++;
  }
  return parts.join(sep);
}

function encodeString(s: string, encoding: string): PyBytes {
  const enc = encoding.toLowerCase().replace(/[-_]/g, '');
  if (enc === 'utf8') return new PyBytes(Buffer.from(s, 'utf8'));
  if (enc === 'ascii' || enc === 'latin1' || enc === 'iso88591') {
    const limit = enc === 'ascii' ? 0x80 : 0x100;
    let i = 0;
    for (const ch of s) {
      if (ch.codePointAt(0)! >= limit) {
        throw new PyError(
          'UnicodeEncodeError',
          `'${enc === 'ascii' ? 'ascii' : 'latin-1'}' codec can't encode character '\\u${ch.codePointAt(0)!.toString(16).padStart(4, '0')}' in position ${i}: ordinal not in range(${limit})`,
        );
      }
      i++;
    }
    return new PyBytes(Buffer.from(s, 'latin1'));
  }
  throw new PyError('LookupError', `unknown encoding: ${encoding}`);
}

function zfill(s: string, width: number): string {
  const len = strLen(s);
  if (len >= width) return s;
  const sign = s[0] === '-' || s[0] === '+' ? s[0] : '';
  return sign + '0'.repeat(width - len) + s.slice(sign.length);
}

function justify(s: string, args: PyValue[], name: string, side: 'left' | 'right' | 'center'): string {
  argCount(name, args, 1, 2);
  const width = Number(intArg(name, args[0]!));
  const fill = args.length > 1 ? strArg(name, args[1]!) : ' ';
  if (strLen(fill) !== 1) throw typeError('The fill character must be exactly one character long');
  if (side === 'center') return pyCenter(s, width, fill);
  const len = strLen(s);
  if (len >= width) return s;
  return side === 'left' ? s + fill.repeat(width - len) : fill.repeat(width - len) + s;
}

function strIs(s: string, re: RegExp): boolean {
  return s.length > 0 && re.test(s);
}

const STR_METHODS: Record<string, Method<string>> = {
  capitalize: (s) => pyCapitalize(s),
  casefold: (s) => s.toLowerCase(),
  center: (s, a) => justify(s, a, 'center', 'center'),
  count: (s, a) => countIn(s, a),
  encode: (s, a, k) => {
    const [encoding = MISSING] = bindArgs('encode', ['encoding', 'errors'], a, k);
    return encodeString(s, encoding === MISSING ? 'utf-8' : strArg('encode', encoding));
  },
  endswith: (s, a) => affixTest(s, a, 'endswith', true),
  expandtabs: (s, a, k) => {
    const [size = MISSING] = bindArgs('expandtabs', ['tabsize'], a, k);
    const tab = size === MISSING ? 8 : Number(intArg('expandtabs', size));
    let col = 0;
    let out = '';
    for (const ch of s) {
      if (ch === '\t') {
        const n = tab > 0 ? tab - (col % tab) : 0;
        out += ' '.repeat(n);
        col += n;
      } else {
        out += ch;
        col = ch === '\n' || ch === '\r' ? 0 : col + 1;
      }
    }
    return out;
  },
  find: (s, a) => BigInt(findIn(s, a, 'find', false)),
  format: (s, a, k) => strFormat(s, a, k, { getAttr: getAttrOrFail, getItem: getItemOrFail }),
  format_map: (s, a) => {
    argCount('format_map', a, 1, 1);
    const m = a[0]!;
    if (!(m instanceof PyDict)) throw typeError(`'${typeName(m)}' object is not a mapping`);
    const kw: Kwargs = new Map();
    for (const [key, v] of m.entries()) kw.set(pyStr(key), v);
    return strFormat(s, [], kw, { getAttr: getAttrOrFail, getItem: getItemOrFail });
  },
  index: (s, a) => {
    const i = findIn(s, a, 'index', false);
    if (i < 0) throw valueError('substring not found');
    return BigInt(i);
  },
  isalnum: (s) => strIs(s, /^[\p{L}\p{N}]+$/u),
  isalpha: (s) => strIs(s, /^\p{L}+$/u),
  isascii: (s) => /^[\x00-\x7f]*$/.test(s),
  isdecimal: (s) => strIs(s, /^\p{Nd}+$/u),
  isdigit: (s) => strIs(s, /^[\p{Nd}\u00b2\u00b3\u00b9\u2070-\u2079\u2080-\u2089]+$/u),
  isidentifier: (s) => /^[\p{L}_][\p{L}\p{N}_]*$/u.test(s),
  islower: (s) => Array.from(s).some(isCased) && s === s.toLowerCase(),
  isnumeric: (s) => strIs(s, /^\p{N}+$/u),
  isprintable: (s) => !/[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?! )\p{Zs}/u.test(s),
  isspace: (s) => ALL_WS.test(s),
  istitle: (s) => Array.from(s).some(isCased) && pyTitle(s) === s,
  isupper: (s) => Array.from(s).some(isCased) && s === s.toUpperCase(),
  join: (s, a) => {
    argCount('join', a, 1, 1);
    return joinStrings(s, a[0]!);
  },
  ljust: (s, a) => justify(s, a, 'ljust', 'left'),
  lower: (s) => s.toLowerCase(),
  lstrip: (s, a) => pyStrip(s, charsArg('lstrip', a[0] ?? MISSING), true, false),
  partition: (s, a) => {
    argCount('partition', a, 1, 1);
    const sep = strArg('partition', a[0]!);
    if (sep === '') throw valueError('empty separator');
    const i = s.indexOf(sep);
    return i < 0 ? new PyTuple([s, '', '']) : new PyTuple([s.slice(0, i), sep, s.slice(i + sep.length)]);
  },
  removeprefix: (s, a) => {
    const p = strArg('removeprefix', a[0] ?? null);
    return p && s.startsWith(p) ? s.slice(p.length) : s;
  },
  removesuffix: (s, a) => {
    const p = strArg('removesuffix', a[0] ?? null);
    return p && s.endsWith(p) ? s.slice(0, -p.length) : s;
  },
  replace: (s, a) => {
    argCount('replace', a, 2, 3);
    return pyReplace(
      s,
      strArg('replace', a[0]!),
      strArg('replace', a[1]!),
      a.length > 2 ? Number(intArg('replace', a[2]!)) : -1,
    );
  },
  rfind: (s, a) => BigInt(findIn(s, a, 'rfind', true)),
  rindex: (s, a) => {
    const i = findIn(s, a, 'rindex', true);
    if (i < 0) throw valueError('substring not found');
    return BigInt(i);
  },
  rjust: (s, a) => justify(s, a, 'rjust', 'right'),
  rpartition: (s, a) => {
    argCount('rpartition', a, 1, 1);
    const sep = strArg('rpartition', a[0]!);
    if (sep === '') throw valueError('empty separator');
    const i = s.lastIndexOf(sep);
    return i < 0 ? new PyTuple(['', '', s]) : new PyTuple([s.slice(0, i), sep, s.slice(i + sep.length)]);
  },
  rsplit: (s, a, k) => {
    const [sep = MISSING, max = MISSING] = bindArgs('rsplit', ['sep', 'maxsplit'], a, k);
    return pyRsplit(s, charsArg('rsplit', sep), max === MISSING ? -1 : Number(intArg('rsplit', max)));
  },
  rstrip: (s, a) => pyStrip(s, charsArg('rstrip', a[0] ?? MISSING), false, true),
  split: (s, a, k) => {
    const [sep = MISSING, max = MISSING] = bindArgs('split', ['sep', 'maxsplit'], a, k);
    return pySplit(s, charsArg('split', sep), max === MISSING ? -1 : Number(intArg('split', max)));
  },
  splitlines: (s, a, k) => {
    const [keep = MISSING] = bindArgs('splitlines', ['keepends'], a, k);
    return pySplitlines(s, keep !== MISSING && truthy(keep));
  },
  startswith: (s, a) => affixTest(s, a, 'startswith', false),
  strip: (s, a) => pyStrip(s, charsArg('strip', a[0] ?? MISSING), true, true),
  swapcase: (s) => Array.from(s, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(''),
  title: (s) => pyTitle(s),
  upper: (s) => s.toUpperCase(),
  zfill: (s, a) => {
    argCount('zfill', a, 1, 1);
    return zfill(s, Number(intArg('zfill', a[0]!)));
  },
};

// ---------------------------------------------------------------------------------------------
// list and tuple

/** Python's sorted(): stable, only `<`, `reverse` keeps equal items in order. */
export function sortValues(
  items: PyValue[],
  key: ((v: PyValue) => PyValue) | null,
  reverse: boolean,
): PyValue[] {
  const keyed = items.map((v, i) => ({ k: key ? key(v) : v, v, i }));
  keyed.sort((x, y) => {
    const c = lessThan(x.k, y.k) ? -1 : lessThan(y.k, x.k) ? 1 : 0;
    return reverse ? -c : c;
  });
  return keyed.map((e) => e.v);
}

function keyFunction(key: PyValue | Missing): ((v: PyValue) => PyValue) | null {
  if (key === MISSING || key === null) return null;
  return (v) => callValue(key, [v]);
}

function seqIndex(items: readonly PyValue[], a: PyValue[], what: string): bigint {
  argCount('index', a, 1, 3);
  const len = items.length;
  const norm = (v: PyValue | undefined, dflt: number): number => {
    if (v === undefined) return dflt;
    const n = Number(intArg('index', v));
    return n < 0 ? Math.max(len + n, 0) : Math.min(n, len);
  };
  const start = norm(a[1], 0);
  const end = norm(a[2], len);
  for (let i = start; i < end; i++) if (pyEquals(items[i]!, a[0]!)) return BigInt(i);
  throw valueError(what === 'list' ? `${pyRepr(a[0]!)} is not in list` : 'tuple.index(x): x not in tuple');
}

function seqCount(items: readonly PyValue[], a: PyValue[]): bigint {
  argCount('count', a, 1, 1);
  let n = 0n;
  for (const v of items) if (pyEquals(v, a[0]!)) n++;
  return n;
}

const LIST_METHODS: Record<string, Method<PyValue[]>> = {
  append: (l, a) => {
    argCount('append', a, 1, 1);
    l.push(a[0]!);
    return null;
  },
  clear: (l) => {
    l.length = 0;
    return null;
  },
  copy: (l) => l.slice(),
  count: (l, a) => seqCount(l, a),
  extend: (l, a) => {
    argCount('extend', a, 1, 1);
    const items = Array.from(iterable(a[0]!));
    for (const v of items) l.push(v);
    return null;
  },
  index: (l, a) => seqIndex(l, a, 'list'),
  insert: (l, a) => {
    argCount('insert', a, 2, 2);
    let i = Number(intArg('insert', a[0]!));
    if (i < 0) i = Math.max(l.length + i, 0);
    l.splice(Math.min(i, l.length), 0, a[1]!);
    return null;
  },
  pop: (l, a) => {
    argCount('pop', a, 0, 1);
    if (l.length === 0) throw new PyError('IndexError', 'pop from empty list');
    let i = a.length ? Number(intArg('pop', a[0]!)) : l.length - 1;
    if (i < 0) i += l.length;
    if (i < 0 || i >= l.length) throw new PyError('IndexError', 'pop index out of range');
    return l.splice(i, 1)[0]!;
  },
  remove: (l, a) => {
    argCount('remove', a, 1, 1);
    const i = l.findIndex((v) => pyEquals(v, a[0]!));
    if (i < 0) throw valueError('list.remove(x): x not in list');
    l.splice(i, 1);
    return null;
  },
  reverse: (l) => {
    l.reverse();
    return null;
  },
  sort: (l, a, k) => {
    noPositional('sort', a);
    const [key = MISSING, reverse = MISSING] = bindArgs('sort', ['key', 'reverse'], [], k);
    const sorted = sortValues(l, keyFunction(key), reverse !== MISSING && truthy(reverse));
    l.splice(0, l.length, ...sorted);
    return null;
  },
};

function noPositional(fname: string, a: PyValue[]): void {
  if (a.length) throw typeError(`${fname}() takes no positional arguments`);
}

const TUPLE_METHODS: Record<string, Method<PyTuple>> = {
  count: (t, a) => seqCount(t.items, a),
  index: (t, a) => seqIndex(t.items, a, 'tuple'),
};

// ---------------------------------------------------------------------------------------------
// dict

export function dictUpdate(d: PyDict, source: PyValue | Missing, kwargs: Kwargs | null): void {
  if (source !== MISSING) {
    if (source instanceof PyDict) {
      for (const [k, v] of source.entries()) d.set(k, v);
    } else {
      let i = 0;
      for (const item of iterable(source)) {
        const pair = Array.from(iterable(item));
        if (pair.length !== 2) {
          throw valueError(
            `dictionary update sequence element #${i} has length ${pair.length}; 2 is required`,
          );
        }
        d.set(pair[0]!, pair[1]!);
        i++;
      }
    }
  }
  if (kwargs) for (const [k, v] of kwargs) d.set(k, v);
}

const DICT_METHODS: Record<string, Method<PyDict>> = {
  clear: (d) => {
    d.map.clear();
    return null;
  },
  copy: (d) => d.copy(),
  get: (d, a) => {
    argCount('get', a, 1, 2);
    const v = d.get(a[0]!);
    return v === undefined ? (a[1] ?? null) : v;
  },
  items: (d) => new PyDictView(d, 'items'),
  keys: (d) => new PyDictView(d, 'keys'),
  pop: (d, a) => {
    argCount('pop', a, 1, 2);
    const v = d.get(a[0]!);
    if (v === undefined) {
      if (a.length > 1) return a[1]!;
      throw keyError(a[0]!);
    }
    d.delete(a[0]!);
    return v;
  },
  popitem: (d) => {
    const last = [...d.map.values()].pop();
    if (!last) throw new PyError('KeyError', "'popitem(): dictionary is empty'");
    d.delete(last[0]);
    return new PyTuple([last[0], last[1]]);
  },
  setdefault: (d, a) => {
    argCount('setdefault', a, 1, 2);
    const v = d.get(a[0]!);
    if (v !== undefined) return v;
    const dflt = a[1] ?? null;
    d.set(a[0]!, dflt);
    return dflt;
  },
  update: (d, a, k) => {
    argCount('update', a, 0, 1);
    dictUpdate(d, a.length ? a[0]! : MISSING, k);
    return null;
  },
  values: (d) => new PyDictView(d, 'values'),
};

// ---------------------------------------------------------------------------------------------
// set

function setOf(v: PyValue): PySet {
  return v instanceof PySet ? v : new PySet(iterable(v));
}

function newSetLike(s: PySet, items: Iterable<PyValue>): PySet {
  return s instanceof PyFrozenSet ? new PyFrozenSet(items) : new PySet(items);
}

const SET_METHODS: Record<string, Method<PySet>> = {
  add: (s, a) => {
    argCount('add', a, 1, 1);
    s.add(a[0]!);
    return null;
  },
  clear: (s) => {
    s.map.clear();
    return null;
  },
  copy: (s) => newSetLike(s, s.values()),
  difference: (s, a) => {
    const others = a.map(setOf);
    return newSetLike(
      s,
      [...s.values()].filter((v) => others.every((o) => !o.has(v))),
    );
  },
  discard: (s, a) => {
    argCount('discard', a, 1, 1);
    s.delete(a[0]!);
    return null;
  },
  intersection: (s, a) => {
    const others = a.map(setOf);
    return newSetLike(
      s,
      [...s.values()].filter((v) => others.every((o) => o.has(v))),
    );
  },
  isdisjoint: (s, a) => {
    argCount('isdisjoint', a, 1, 1);
    const o = setOf(a[0]!);
    return [...s.values()].every((v) => !o.has(v));
  },
  issubset: (s, a) => {
    argCount('issubset', a, 1, 1);
    const o = setOf(a[0]!);
    return [...s.values()].every((v) => o.has(v));
  },
  issuperset: (s, a) => {
    argCount('issuperset', a, 1, 1);
    return [...setOf(a[0]!).values()].every((v) => s.has(v));
  },
  pop: (s) => {
    const first = s.map.entries().next();
    if (first.done) throw new PyError('KeyError', "'pop from an empty set'");
    s.map.delete(first.value[0]);
    return first.value[1];
  },
  remove: (s, a) => {
    argCount('remove', a, 1, 1);
    if (!s.delete(a[0]!)) throw keyError(a[0]!);
    return null;
  },
  symmetric_difference: (s, a) => {
    argCount('symmetric_difference', a, 1, 1);
    const o = setOf(a[0]!);
    return newSetLike(s, [
      ...[...s.values()].filter((v) => !o.has(v)),
      ...[...o.values()].filter((v) => !s.has(v)),
    ]);
  },
  union: (s, a) => {
    const out = newSetLike(s, s.values());
    for (const o of a) for (const v of iterable(o)) out.add(v);
    return out;
  },
  update: (s, a) => {
    for (const o of a) for (const v of iterable(o)) s.add(v);
    return null;
  },
};

// ---------------------------------------------------------------------------------------------
// bytes, float

const BYTES_METHODS: Record<string, Method<PyBytes>> = {
  decode: (b, a, k) => {
    const [encoding = MISSING] = bindArgs('decode', ['encoding', 'errors'], a, k);
    const enc = (encoding === MISSING ? 'utf-8' : strArg('decode', encoding))
      .toLowerCase()
      .replace(/[-_]/g, '');
    if (enc === 'utf8') return b.data.toString('utf8');
    if (enc === 'ascii' || enc === 'latin1') return b.data.toString('latin1');
    throw new PyError('LookupError', `unknown encoding: ${pyStr(encoding === MISSING ? null : encoding)}`);
  },
  hex: (b) => b.data.toString('hex'),
  startswith: (b, a) => {
    const p = a[0];
    return p instanceof PyBytes && b.data.subarray(0, p.data.length).equals(p.data);
  },
  endswith: (b, a) => {
    const p = a[0];
    return p instanceof PyBytes && b.data.subarray(b.data.length - p.data.length).equals(p.data);
  },
};

const FLOAT_METHODS: Record<string, Method<number>> = {
  is_integer: (f) => Number.isInteger(f),
};

const INT_METHODS: Record<string, Method<bigint>> = {
  bit_length: (i) => BigInt(i === 0n ? 0 : (i < 0n ? -i : i).toString(2).length),
};

// ---------------------------------------------------------------------------------------------
// Dispatch.

/** Special methods every subscriptable/container value answers. */
function dunder(obj: PyValue, name: string): ((args: PyValue[], kwargs: Kwargs | null) => PyValue) | null {
  switch (name) {
    case '__getitem__':
      return (a) => {
        argCount('__getitem__', a, 1, 1);
        const v = getItem(obj, a[0]!);
        if (v === MISSING) {
          if (obj instanceof PyDict) throw keyError(a[0]!);
          throw new PyError('IndexError', `${typeName(obj)} index out of range`);
        }
        return v;
      };
    case '__setitem__':
      if (!(obj instanceof PyDict) && !Array.isArray(obj)) return null;
      return (a) => {
        argCount('__setitem__', a, 2, 2);
        setItem(obj, a[0]!, a[1]!);
        return null;
      };
    case '__delitem__':
      if (!(obj instanceof PyDict) && !Array.isArray(obj)) return null;
      return (a) => {
        argCount('__delitem__', a, 1, 1);
        delItem(obj, a[0]!);
        return null;
      };
    case '__contains__':
      return (a) => {
        argCount('__contains__', a, 1, 1);
        return contains(obj, a[0]!);
      };
    case '__len__':
      return () => BigInt(Array.isArray(obj) ? obj.length : typeof obj === 'string' ? strLen(obj) : 0);
    case '__str__':
      return () => pyStr(obj);
    case '__repr__':
      return () => pyRepr(obj);
    case '__format__':
      return (a) => formatValue(obj, strArg('__format__', a[0] ?? ''));
    default:
      return null;
  }
}

/** Method tables as Maps: names come from templates and must never reach Object.prototype. */
function table<T>(methods: Record<string, Method<T>>): Map<string, Method<T>> {
  return new Map(Object.entries(methods));
}
const STR_TABLE = table(STR_METHODS);
const LIST_TABLE = table(LIST_METHODS);
const TUPLE_TABLE = table(TUPLE_METHODS);
const DICT_TABLE = table(DICT_METHODS);
const SET_TABLE = table(SET_METHODS);
const BYTES_TABLE = table(BYTES_METHODS);
const FLOAT_TABLE = table(FLOAT_METHODS);
const INT_TABLE = table(INT_METHODS);
const FROZENSET_MUTATORS = new Set(['add', 'clear', 'discard', 'pop', 'remove', 'update']);

/** The built-in method `name` of `obj`'s type (not for Markup, which wraps str methods). */
function methodFor(obj: PyValue, name: string): Method<never> | undefined {
  switch (typeof obj) {
    case 'string':
      return STR_TABLE.get(name);
    case 'number':
      return FLOAT_TABLE.get(name);
    case 'bigint':
      return INT_TABLE.get(name);
    default:
      if (Array.isArray(obj)) return LIST_TABLE.get(name);
      if (obj instanceof PyDict) return DICT_TABLE.get(name);
      if (obj instanceof PyTuple) return TUPLE_TABLE.get(name);
      if (obj instanceof PySet)
        return obj instanceof PyFrozenSet && FROZENSET_MUTATORS.has(name) ? undefined : SET_TABLE.get(name);
      if (obj instanceof PyBytes) return BYTES_TABLE.get(name);
      return undefined;
  }
}

const NO_METHOD: unique symbol = Symbol('no-method');

/** Calls built-in method `name` of `obj`, or returns NO_METHOD when its type has none. */
function invokeMethod(
  obj: PyValue,
  name: string,
  args: PyValue[],
  kwargs: Kwargs | null,
): PyValue | typeof NO_METHOD {
  if (obj instanceof PyMarkup) {
    const m = STR_TABLE.get(name);
    if (m) {
      const r = m(obj.value, args, kwargs);
      return typeof r === 'string' ? new PyMarkup(r) : r;
    }
  } else {
    const m = methodFor(obj, name);
    if (m) return (m as Method<PyValue>)(obj, args, kwargs);
  }
  if (name.startsWith('__')) {
    const d = dunder(obj, name);
    if (d) return d(args, kwargs);
  }
  return NO_METHOD;
}

function hasMethod(obj: PyValue, name: string): boolean {
  if (obj instanceof PyMarkup ? STR_TABLE.has(name) : methodFor(obj, name) !== undefined) return true;
  return name.startsWith('__') && dunder(obj, name) !== null;
}

/**
 * Python `getattr(obj, name)`: methods of built-in types (bound), attributes of objects. MISSING when
 * there is no such attribute. Undefined fails (Jinja raises on any attribute of an undefined value).
 */
export function getAttr(obj: PyValue, name: string): PyValue | Missing {
  if (obj instanceof PyUndefined) obj.fail();
  if (hasMethod(obj, name)) return new PyFunction(name, (a, k) => invokeMethod(obj, name, a, k) as PyValue);
  if (obj instanceof PyObject) return obj.getAttr(name);
  if (typeof obj === 'bigint' && (name === 'real' || name === 'numerator')) return obj;
  if (typeof obj === 'bigint' && name === 'denominator') return 1n;
  if (typeof obj === 'number' && name === 'real') return obj;
  return MISSING;
}

/** `obj.name(*args, **kwargs)` without materialising a bound method. */
export function callMethod(
  obj: PyValue,
  name: string,
  args: PyValue[],
  kwargs: Kwargs | null,
  undefinedFor: (obj: PyValue, name: string) => PyValue,
): PyValue {
  if (obj instanceof PyUndefined) obj.fail();
  const r = invokeMethod(obj, name, args, kwargs);
  if (r !== NO_METHOD) return r;
  let fn: PyValue | Missing = obj instanceof PyObject ? obj.getAttr(name) : getAttr(obj, name);
  if (fn === MISSING) {
    const item = tryGetItem(obj, name);
    fn = item === MISSING ? undefinedFor(obj, name) : item;
  }
  return callValue(fn, args, kwargs);
}

/** `obj[key]` swallowing the errors Jinja swallows (TypeError/LookupError), for attribute fallback. */
export function tryGetItem(obj: PyValue, key: PyValue): PyValue | Missing {
  if (obj instanceof PyUndefined) obj.fail();
  try {
    return getItem(obj, key);
  } catch (e) {
    if (
      e instanceof PyError &&
      (e.pyType === 'TypeError' || e.pyType === 'KeyError' || e.pyType === 'IndexError')
    ) {
      return MISSING;
    }
    throw e;
  }
}

/** Python `getattr(obj, name)`: AttributeError when absent. */
export function getAttrOrFail(obj: PyValue, name: string): PyValue {
  const v = getAttr(obj, name);
  if (v === MISSING)
    throw new PyError('AttributeError', `'${typeName(obj)}' object has no attribute '${name}'`);
  return v;
}

/** Python `obj[key]`: KeyError/IndexError when absent. */
export function getItemOrFail(obj: PyValue, key: PyValue): PyValue {
  const v = getItem(obj, key);
  if (v === MISSING)
    throw obj instanceof PyDict
      ? keyError(key)
      : new PyError('IndexError', `${typeName(obj)} index out of range`);
  return v;
}

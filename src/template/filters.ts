/** Jinja2's built-in filters, with Python value semantics. */
import { bindArgs, intArg } from './args.ts';
import {
  callValue,
  getAttr,
  pyCapitalize,
  pyCenter,
  pyReplace,
  pySplitlines,
  pyStrip,
  sortValues,
  tryGetItem,
} from './attributes.ts';
import { percentFormat } from './format.ts';
import { jsonDumps } from './json.ts';
import { wordwrap } from './wordwrap.ts';
import { escapeHtml } from './markup.ts';
import { parseFloatLiteral, parseIntLiteral, roundFloat, formatFixed } from './numbers.ts';
import { abs, add, lessThan, mul, truediv, toFloat, toInt } from './ops.ts';
import type { EvalContext, FilterFn } from './runtime.ts';
import {
  MISSING,
  PyDict,
  PyDictView,
  PyError,
  PyIterator,
  PyMarkup,
  PyRange,
  PyBytes,
  PySet,
  PyTuple,
  PyUndefined,
  hashKey,
  iterable,
  pyEquals,
  pyIter,
  pyLen,
  pyRepr,
  pyStr,
  strChars,
  strLen,
  toList,
  truthy,
  typeError,
  typeName,
  type Kwargs,
  type Missing,
  type PyValue,
} from './values.ts';
import { quote } from './module-urllib.ts';

function filterArgumentError(message: string): PyError {
  return new PyError('FilterArgumentError', message);
}

function runtimeError(message: string): PyError {
  return new PyError('TemplateRuntimeError', message);
}

/** Jinja's `environment.getitem`: item first, then attribute; Undefined when neither. */
export function envGetitem(ctx: EvalContext, obj: PyValue, key: PyValue): PyValue {
  const v = tryGetItem(obj, key);
  if (v !== MISSING) return v;
  if (typeof key === 'string') {
    const a = getAttr(obj, key);
    if (a !== MISSING) return a;
  }
  return ctx.undefined(undefined, obj, key);
}

function attributeParts(attribute: PyValue): PyValue[] {
  if (attribute === null) return [];
  if (typeof attribute === 'string')
    return attribute.split('.').map((p) => (/^\d+$/.test(p) ? BigInt(p) : p));
  return [attribute];
}

function ignoreCase(v: PyValue): PyValue {
  return typeof v === 'string' ? v.toLowerCase() : v;
}

/** Jinja's `make_attrgetter`. */
export function makeAttrgetter(
  ctx: EvalContext,
  attribute: PyValue,
  postprocess: ((v: PyValue) => PyValue) | null = null,
  dflt: PyValue = null,
): (item: PyValue) => PyValue {
  const parts = attributeParts(attribute);
  return (item) => {
    let v = item;
    for (const part of parts) {
      v = envGetitem(ctx, v, part);
      if (dflt !== null && v instanceof PyUndefined) v = dflt;
    }
    return postprocess ? postprocess(v) : v;
  };
}

function makeMultiAttrgetter(
  ctx: EvalContext,
  attribute: PyValue,
  postprocess: ((v: PyValue) => PyValue) | null,
): (item: PyValue) => PyValue {
  const parts =
    typeof attribute === 'string' ? attribute.split(',').map(attributeParts) : [attributeParts(attribute)];
  return (item) => {
    const values: PyValue[] = [];
    for (const path of parts) {
      let v = item;
      for (const part of path) v = envGetitem(ctx, v, part);
      values.push(postprocess ? postprocess(v) : v);
    }
    return values;
  };
}

type Bound = (PyValue | Missing)[];

/** Binds a filter's arguments (after the value) to names. */
function params(name: string, names: string[], args: PyValue[], kwargs: Kwargs | null): Bound {
  return bindArgs(name, names, args, kwargs);
}

function opt(v: PyValue | Missing | undefined, dflt: PyValue): PyValue {
  return v === MISSING || v === undefined ? dflt : v;
}

function softStr(v: PyValue): string {
  return pyStr(v);
}

function caseFlag(v: PyValue | Missing | undefined): boolean {
  return v !== MISSING && v !== undefined && truthy(v);
}

function generator(it: Iterator<PyValue>): PyIterator {
  return new PyIterator(it, 'generator');
}

function minOrMax(
  ctx: EvalContext,
  name: string,
  value: PyValue,
  args: PyValue[],
  kwargs: Kwargs | null,
  wantMax: boolean,
): PyValue {
  const [cs = MISSING, attribute = MISSING] = params(name, ['case_sensitive', 'attribute'], args, kwargs);
  const items = Array.from(iterable(value));
  if (items.length === 0) return ctx.undefined('No aggregated item, sequence was empty.');
  const key = makeAttrgetter(ctx, opt(attribute, null), caseFlag(cs) ? null : ignoreCase);
  let best = items[0] as PyValue;
  let bestKey = key(best);
  for (const item of items.slice(1)) {
    const k = key(item);
    if (wantMax ? lessThan(bestKey, k) : lessThan(k, bestKey)) {
      best = item;
      bestKey = k;
    }
  }
  return best;
}

function callFilter(
  ctx: EvalContext,
  name: PyValue,
  value: PyValue,
  args: PyValue[],
  kwargs: Kwargs | null,
): PyValue {
  const fn = typeof name === 'string' ? ctx.filter(name) : undefined;
  if (!fn) throw runtimeError(`No filter named ${pyRepr(name)}.`);
  return fn(ctx, value, args, kwargs);
}

function callTest(
  ctx: EvalContext,
  name: PyValue,
  value: PyValue,
  args: PyValue[],
  kwargs: Kwargs | null,
): boolean {
  const fn = typeof name === 'string' ? ctx.test(name) : undefined;
  if (!fn) throw runtimeError(`No test named ${pyRepr(name)}.`);
  return fn(ctx, value, args, kwargs);
}

function selectOrReject(
  ctx: EvalContext,
  value: PyValue,
  args: PyValue[],
  kwargs: Kwargs | null,
  keep: boolean,
  lookupAttr: boolean,
): PyValue {
  if (!truthy(value)) return generator([][Symbol.iterator]());
  let transform: (v: PyValue) => PyValue = (v) => v;
  let off = 0;
  if (lookupAttr) {
    if (args.length === 0) throw filterArgumentError('Missing parameter for attribute name');
    transform = makeAttrgetter(ctx, args[0]!);
    off = 1;
  }
  let test: (v: PyValue) => boolean = truthy;
  if (args.length > off) {
    const name = args[off]!;
    const rest = args.slice(off + 1);
    test = (v) => callTest(ctx, name, v, rest, kwargs);
  }
  const source = pyIter(value);
  return generator(
    (function* () {
      for (let r = source.next(); !r.done; r = source.next()) {
        if (test(transform(r.value)) === keep) yield r.value;
      }
    })(),
  );
}

function doIndent(value: PyValue, args: PyValue[], kwargs: Kwargs | null): PyValue {
  const [width = MISSING, first = MISSING, blank = MISSING] = params(
    'indent',
    ['width', 'first', 'blank'],
    args,
    kwargs,
  );
  const w = opt(width, 4n);
  const indention = typeof w === 'string' ? w : ' '.repeat(Number(intArg('indent', w)));
  const s = softStr(value) + '\n';
  let rv: string;
  if (caseFlag(blank)) rv = pySplitlines(s).join('\n' + indention);
  else {
    const lines = pySplitlines(s);
    rv = lines.shift() ?? '';
    if (lines.length) rv += '\n' + lines.map((l) => (l ? indention + l : l)).join('\n');
  }
  if (caseFlag(first)) rv = indention + rv;
  return value instanceof PyMarkup ? new PyMarkup(rv) : rv;
}

function doRound(value: PyValue, args: PyValue[], kwargs: Kwargs | null): PyValue {
  const [precisionArg = MISSING, methodArg = MISSING] = params(
    'round',
    ['precision', 'method'],
    args,
    kwargs,
  );
  const precision = opt(precisionArg, 0n);
  const method = opt(methodArg, 'common');
  if (method !== 'common' && method !== 'ceil' && method !== 'floor') {
    throw filterArgumentError('method must be common, ceil or floor');
  }
  const p = intArg('round', precision);
  if (method === 'common') return pyRound(value, p);
  const scale = mul(value, 10n ** (p < 0n ? 0n : p));
  const f = toFloat(scale, parseFloatLiteral);
  const r = method === 'ceil' ? Math.ceil(f) : Math.floor(f);
  return truediv(BigInt(r), 10n ** (p < 0n ? 0n : p));
}

/** Python `round(value, ndigits)` where ndigits is given. */
export function pyRound(value: PyValue, ndigits: bigint): PyValue {
  if (typeof value === 'bigint' || typeof value === 'boolean') {
    const i = typeof value === 'boolean' ? (value ? 1n : 0n) : value;
    if (ndigits >= 0n) return i;
    const unit = 10n ** -ndigits;
    const q = i / unit;
    let r = i % unit;
    let base = q;
    if (r < 0n) {
      r += unit;
      base -= 1n;
    }
    const twice = r * 2n;
    if (twice > unit || (twice === unit && base % 2n !== 0n)) base += 1n;
    return base * unit;
  }
  if (typeof value === 'number') return roundFloat(value, Number(ndigits));
  if (value instanceof PyUndefined) value.fail();
  throw typeError(`type ${typeName(value)} doesn't define __round__ method`);
}

/** Jinja2's url_quote: `/` kept in paths; in a query string, spaces become `+`. */
function urlQuote(v: PyValue, forQs: boolean): string {
  const out = quote(pyStr(v), forQs ? '' : '/');
  return forQs ? out.replace(/%20/g, '+') : out;
}

function doUrlencode(value: PyValue): PyValue {
  if (typeof value === 'string' || value instanceof PyMarkup) return urlQuote(value, false);
  let items: Iterable<PyValue>;
  try {
    items =
      value instanceof PyDict
        ? Array.from(value.entries(), ([k, v]) => new PyTuple([k, v]))
        : iterable(value);
  } catch (e) {
    if (e instanceof PyError && e.pyType === 'TypeError') return urlQuote(value, false);
    throw e;
  }
  const parts: string[] = [];
  for (const item of items) {
    const [k, v] = Array.from(iterable(item));
    parts.push(`${urlQuote(k ?? null, true)}=${urlQuote(v ?? null, true)}`);
  }
  return parts.join('&');
}

function doTruncate(value: PyValue, args: PyValue[], kwargs: Kwargs | null): PyValue {
  const [lengthArg = MISSING, killwords = MISSING, endArg = MISSING, leewayArg = MISSING] = params(
    'truncate',
    ['length', 'killwords', 'end', 'leeway'],
    args,
    kwargs,
  );
  const s = softStr(value);
  const length = Number(intArg('truncate', opt(lengthArg, 255n)));
  const end = softStr(opt(endArg, '...'));
  const leeway = Number(intArg('truncate', opt(leewayArg, 5n)));
  if (length < strLen(end))
    throw new PyError('AssertionError', `expected length >= ${strLen(end)}, got ${length}`);
  if (leeway < 0) throw new PyError('AssertionError', `expected leeway >= 0, got ${leeway}`);
  const chars = strChars(s) ?? s.split('');
  if (chars.length <= length + leeway) return s;
  const head = chars.slice(0, length - strLen(end)).join('');
  if (caseFlag(killwords)) return head + end;
  const cut = head.lastIndexOf(' ');
  return (cut >= 0 ? head.slice(0, cut) : head) + end;
}

function doFilesizeformat(value: PyValue, args: PyValue[], kwargs: Kwargs | null): PyValue {
  const [binaryArg = MISSING] = params('filesizeformat', ['binary'], args, kwargs);
  const binary = caseFlag(binaryArg);
  const bytes = toFloat(value, parseFloatLiteral);
  const base = binary ? 1024 : 1000;
  const prefixes = binary
    ? ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB']
    : ['kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  if (bytes === 1) return '1 Byte';
  if (bytes < base) return `${Math.trunc(bytes)} Bytes`;
  let unit = base;
  let prefix = prefixes[0]!;
  for (let i = 0; i < prefixes.length; i++) {
    unit = base ** (i + 2);
    prefix = prefixes[i]!;
    if (bytes < unit) break;
  }
  return `${formatFixed((base * bytes) / unit, 1)} ${prefix}`;
}

function doStriptags(value: PyValue): PyValue {
  const s = softStr(value)
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<[^>]*>/g, '');
  const collapsed = s.split(/\s+/).filter(Boolean).join(' ');
  return collapsed
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function doXmlattr(ctx: EvalContext, value: PyValue, args: PyValue[], kwargs: Kwargs | null): PyValue {
  const [autospace = MISSING] = params('xmlattr', ['autospace'], args, kwargs);
  if (!(value instanceof PyDict)) throw typeError('xmlattr requires a mapping');
  const parts: string[] = [];
  for (const [k, v] of value.entries()) {
    if (v === null || v instanceof PyUndefined) continue;
    const key = pyStr(k);
    if (/[\s/>=]/.test(key))
      throw new PyError('ValueError', `Invalid character in attribute name: ${pyRepr(key)}`);
    parts.push(`${escapeHtml(key)}="${escapeHtml(pyStr(v))}"`);
  }
  let rv = parts.join(' ');
  if (rv && (autospace === MISSING || truthy(autospace))) rv = ' ' + rv;
  return ctx.autoescape ? new PyMarkup(rv) : rv;
}

function groupTuple(grouper: PyValue, list: PyValue[]): PyTuple {
  return new GroupTuple(grouper, list);
}

class GroupTuple extends PyTuple {
  constructor(grouper: PyValue, list: PyValue[]) {
    super([grouper, list]);
  }
  override getAttr(name: string): PyValue | Missing {
    if (name === 'grouper') return this.items[0]!;
    if (name === 'list') return this.items[1]!;
    return MISSING;
  }
}

function escapeValue(v: PyValue): PyMarkup {
  if (v instanceof PyMarkup) return v;
  return new PyMarkup(escapeHtml(pyStr(v)));
}

export const BUILTIN_FILTERS: Record<string, FilterFn> = {
  abs: (_c, v) => abs(v),
  attr: (c, v, a, k) => {
    const [name = MISSING] = params('attr', ['name'], a, k);
    const n = pyStr(opt(name, null));
    const r = getAttr(v, n);
    return r === MISSING ? c.undefined(undefined, v, n) : r;
  },
  batch: (_c, v, a, k) => {
    const [countArg = MISSING, fill = MISSING] = params('batch', ['linecount', 'fill_with'], a, k);
    const count = Number(intArg('batch', opt(countArg, null)));
    const source = pyIter(v);
    return generator(
      (function* () {
        let tmp: PyValue[] = [];
        for (let r = source.next(); !r.done; r = source.next()) {
          if (tmp.length === count) {
            yield tmp;
            tmp = [];
          }
          tmp.push(r.value);
        }
        if (tmp.length) {
          if (fill !== MISSING && fill !== null) while (tmp.length < count) tmp.push(fill);
          yield tmp;
        }
      })(),
    );
  },
  capitalize: (_c, v) => pyCapitalize(softStr(v)),
  center: (_c, v, a, k) => {
    const [width = MISSING] = params('center', ['width'], a, k);
    return pyCenter(softStr(v), Number(intArg('center', opt(width, 80n))));
  },
  count: (_c, v) => BigInt(pyLen(v)),
  d: (c, v, a, k) => BUILTIN_FILTERS.default!(c, v, a, k),
  default: (_c, v, a, k) => {
    const [dflt = MISSING, boolean = MISSING] = params('default', ['default_value', 'boolean'], a, k);
    if (v instanceof PyUndefined || (caseFlag(boolean) && !truthy(v))) return opt(dflt, '');
    return v;
  },
  dictsort: (_c, v, a, k) => {
    const [cs = MISSING, by = MISSING, reverse = MISSING] = params(
      'dictsort',
      ['case_sensitive', 'by', 'reverse'],
      a,
      k,
    );
    const byV = opt(by, 'key');
    let pos: number;
    if (byV === 'key') pos = 0;
    else if (byV === 'value') pos = 1;
    else throw filterArgumentError('You can only sort by either "key" or "value"');
    const items = iterableItems(v);
    const sensitive = caseFlag(cs);
    return sortValues(
      items,
      (item) => {
        const x = (item as PyTuple).items[pos]!;
        return sensitive ? x : ignoreCase(x);
      },
      caseFlag(reverse),
    );
  },
  e: (_c, v) => escapeValue(v),
  escape: (_c, v) => escapeValue(v),
  filesizeformat: (_c, v, a, k) => doFilesizeformat(v, a, k),
  first: (c, v) => {
    const r = pyIter(v).next();
    return r.done ? c.undefined('No first item, sequence was empty.') : r.value;
  },
  float: (_c, v, a, k) => {
    const [dflt = MISSING] = params('float', ['default'], a, k);
    try {
      return toFloat(v, parseFloatLiteral);
    } catch (e) {
      if (e instanceof PyError && (e.pyType === 'ValueError' || e.pyType === 'TypeError'))
        return opt(dflt, 0);
      throw e;
    }
  },
  forceescape: (_c, v) => new PyMarkup(escapeHtml(v instanceof PyMarkup ? v.value : pyStr(v))),
  format: (_c, v, a, k) => {
    if (a.length && k && k.size)
      throw filterArgumentError("can't handle positional and keyword arguments at the same time");
    return percentFormat(softStr(v), k && k.size ? PyDict.from(k) : new PyTuple(a));
  },
  groupby: (c, v, a, k) => {
    const [attribute = MISSING, dflt = MISSING, cs = MISSING] = params(
      'groupby',
      ['attribute', 'default', 'case_sensitive'],
      a,
      k,
    );
    const sensitive = caseFlag(cs);
    const key = makeAttrgetter(c, opt(attribute, null), sensitive ? null : ignoreCase, opt(dflt, null));
    const sorted = sortValues(Array.from(iterable(v)), key, false);
    const groups: [PyValue, PyValue[]][] = [];
    for (const item of sorted) {
      const kv = key(item);
      const last = groups[groups.length - 1];
      if (last && pyEquals(last[0], kv)) last[1].push(item);
      else groups.push([kv, [item]]);
    }
    const output = makeAttrgetter(c, opt(attribute, null), null, opt(dflt, null));
    return groups.map(([kv, items]) => groupTuple(sensitive ? kv : output(items[0]!), items));
  },
  indent: (_c, v, a, k) => doIndent(v, a, k),
  int: (_c, v, a, k) => {
    const [dflt = MISSING, base = MISSING] = params('int', ['default', 'base'], a, k);
    try {
      if (typeof v === 'string' || v instanceof PyMarkup) {
        const b = Number(intArg('int', opt(base, 10n)));
        const r = parseIntLiteral(pyStr(v), b);
        if (r !== null) return r;
        throw new PyError('ValueError', 'invalid literal');
      }
      return toInt(v, (s) => parseIntLiteral(s, 10));
    } catch (e) {
      if (!(e instanceof PyError) || (e.pyType !== 'ValueError' && e.pyType !== 'TypeError')) throw e;
      try {
        return toInt(toFloat(v, parseFloatLiteral), (s) => parseIntLiteral(s, 10));
      } catch (e2) {
        if (
          e2 instanceof PyError &&
          (e2.pyType === 'ValueError' || e2.pyType === 'TypeError' || e2.pyType === 'OverflowError')
        ) {
          return opt(dflt, 0n);
        }
        throw e2;
      }
    }
  },
  items: (_c, v) => {
    if (v instanceof PyUndefined) return generator([][Symbol.iterator]());
    if (!(v instanceof PyDict)) throw typeError('Can only get item pairs from a mapping.');
    return generator(new PyDictView(v, 'items').pyIter());
  },
  join: (c, v, a, k) => {
    const [d = MISSING, attribute = MISSING] = params('join', ['d', 'attribute'], a, k);
    let items: PyValue[] = Array.from(iterable(v));
    if (attribute !== MISSING && attribute !== null) items = items.map(makeAttrgetter(c, attribute));
    const sep = softStr(opt(d, ''));
    if (!c.autoescape) return items.map(pyStr).join(sep);
    return new PyMarkup(items.map((x) => escapeValue(x).value).join(escapeValue(opt(d, '')).value));
  },
  last: (c, v) => {
    let items: readonly PyValue[];
    if (Array.isArray(v)) items = v;
    else if (v instanceof PyTuple) items = v.items;
    else if (
      typeof v === 'string' ||
      v instanceof PyDict ||
      v instanceof PyDictView ||
      v instanceof PyMarkup ||
      v instanceof PyRange ||
      v instanceof PyBytes
    ) {
      items = toList(v);
    } else if (v instanceof PyUndefined) {
      if (v.strict) v.fail();
      items = [];
    } else throw typeError(`'${typeName(v)}' object is not reversible`);
    return items.length ? items[items.length - 1]! : c.undefined('No last item, sequence was empty.');
  },
  length: (_c, v) => BigInt(pyLen(v)),
  list: (_c, v) => toList(v),
  lower: (_c, v) => softStr(v).toLowerCase(),
  map: (c, v, a, k) => {
    if (!truthy(v)) return generator([][Symbol.iterator]());
    let fn: (item: PyValue) => PyValue;
    if (a.length === 0 && k?.has('attribute')) {
      const kw = new Map(k);
      const attribute = kw.get('attribute')!;
      kw.delete('attribute');
      const dflt = kw.get('default') ?? null;
      kw.delete('default');
      if (kw.size)
        throw filterArgumentError(`Unexpected keyword argument ${pyRepr(kw.keys().next().value!)}`);
      fn = makeAttrgetter(c, attribute, null, dflt);
    } else {
      if (a.length === 0) throw filterArgumentError('map requires a filter argument');
      const name = a[0]!;
      const rest = a.slice(1);
      fn = (item) => callFilter(c, name, item, rest, k);
    }
    const source = pyIter(v);
    return generator(
      (function* () {
        for (let r = source.next(); !r.done; r = source.next()) yield fn(r.value);
      })(),
    );
  },
  max: (c, v, a, k) => minOrMax(c, 'max', v, a, k, true),
  min: (c, v, a, k) => minOrMax(c, 'min', v, a, k, false),
  pprint: (_c, v) => pyRepr(v),
  random: (_c, v) => {
    const items = toList(v);
    if (!items.length) throw new PyError('IndexError', 'Cannot choose from an empty sequence');
    return items[Math.floor(Math.random() * items.length)]!;
  },
  reject: (c, v, a, k) => selectOrReject(c, v, a, k, false, false),
  rejectattr: (c, v, a, k) => selectOrReject(c, v, a, k, false, true),
  replace: (c, v, a, k) => {
    const [old = MISSING, replacement = MISSING, count = MISSING] = params(
      'replace',
      ['old', 'new', 'count'],
      a,
      k,
    );
    const n = count === MISSING || count === null ? -1 : Number(intArg('replace', count));
    if (!c.autoescape)
      return pyReplace(softStr(v), softStr(opt(old, null)), softStr(opt(replacement, null)), n);
    const o = opt(old, null);
    const r = opt(replacement, null);
    const s = v instanceof PyMarkup ? v.value : escapeHtml(pyStr(v));
    return new PyMarkup(pyReplace(s, escapeValue(o).value, escapeValue(r).value, n));
  },
  reverse: (_c, v) => {
    if (typeof v === 'string') return Array.from(v).reverse().join('');
    if (v instanceof PyMarkup) return new PyMarkup(Array.from(v.value).reverse().join(''));
    if (Array.isArray(v) || v instanceof PyTuple) {
      const items = Array.isArray(v) ? v : v.items;
      return new PyIterator(items.slice().reverse()[Symbol.iterator](), 'list_reverseiterator');
    }
    const items = toList(v);
    items.reverse();
    return items;
  },
  round: (_c, v, a, k) => doRound(v, a, k),
  safe: (_c, v) => (v instanceof PyMarkup ? v : new PyMarkup(pyStr(v))),
  select: (c, v, a, k) => selectOrReject(c, v, a, k, true, false),
  selectattr: (c, v, a, k) => selectOrReject(c, v, a, k, true, true),
  slice: (_c, v, a, k) => {
    const [slicesArg = MISSING, fill = MISSING] = params('slice', ['slices', 'fill_with'], a, k);
    const seq = toList(v);
    const slices = Number(intArg('slice', opt(slicesArg, null)));
    const per = Math.floor(seq.length / slices);
    const extra = seq.length % slices;
    const out: PyValue[][] = [];
    let offset = 0;
    for (let n = 0; n < slices; n++) {
      const start = offset + n * per;
      if (n < extra) offset += 1;
      const end = offset + (n + 1) * per;
      const tmp = seq.slice(start, end);
      if (fill !== MISSING && fill !== null && n >= extra) tmp.push(fill);
      out.push(tmp);
    }
    return generator(out[Symbol.iterator]());
  },
  sort: (c, v, a, k) => {
    const [reverse = MISSING, cs = MISSING, attribute = MISSING] = params(
      'sort',
      ['reverse', 'case_sensitive', 'attribute'],
      a,
      k,
    );
    const key = makeMultiAttrgetter(c, opt(attribute, null), caseFlag(cs) ? null : ignoreCase);
    return sortValues(Array.from(iterable(v)), key, caseFlag(reverse));
  },
  string: (_c, v) => (v instanceof PyMarkup ? v : softStr(v)),
  striptags: (_c, v) => doStriptags(v),
  sum: (c, v, a, k) => {
    const [attribute = MISSING, start = MISSING] = params('sum', ['attribute', 'start'], a, k);
    let items = Array.from(iterable(v));
    if (attribute !== MISSING && attribute !== null) items = items.map(makeAttrgetter(c, attribute));
    return items.reduce<PyValue>((acc, x) => add(acc, x), opt(start, 0n));
  },
  title: (_c, v) => {
    const s = softStr(v);
    return s
      .split(/([-\s({[<]+)/)
      .filter(Boolean)
      .map((item) => {
        const chars = Array.from(item);
        return chars.length ? chars[0]!.toUpperCase() + chars.slice(1).join('').toLowerCase() : item;
      })
      .join('');
  },
  tojson: (_c, v, a, k) => {
    const [indent = MISSING] = params('tojson', ['indent'], a, k);
    const ind = opt(indent, null);
    const text = jsonDumps(v, {
      sortKeys: true,
      indent: ind === null ? null : typeof ind === 'string' ? ind : Number(intArg('tojson', ind)),
    });
    return new PyMarkup(
      text
        .replace(/</g, '\\u003c')
        .replace(/>/g, '\\u003e')
        .replace(/&/g, '\\u0026')
        .replace(/'/g, '\\u0027'),
    );
  },
  trim: (_c, v, a, k) => {
    const [chars = MISSING] = params('trim', ['chars'], a, k);
    const c = opt(chars, null);
    return pyStrip(softStr(v), c === null ? null : pyStr(c), true, true);
  },
  truncate: (_c, v, a, k) => doTruncate(v, a, k),
  wordwrap: (_c, v, a, k) => {
    const [width, breakLong, wrapstring, hyphens] = params(
      'wordwrap',
      ['width', 'break_long_words', 'wrapstring', 'break_on_hyphens'],
      a,
      k,
    );
    const w = Number(intArg('wordwrap', opt(width, 79n)));
    if (w <= 0) throw new PyError('ValueError', `invalid width ${w} (must be > 0)`);
    const sep = opt(wrapstring, null);
    return wordwrap(
      softStr(v),
      w,
      truthy(opt(breakLong, true)),
      sep === null ? '\n' : softStr(sep),
      truthy(opt(hyphens, true)),
    );
  },
  unique: (c, v, a, k) => {
    const [cs = MISSING, attribute = MISSING] = params('unique', ['case_sensitive', 'attribute'], a, k);
    const getter = makeAttrgetter(c, opt(attribute, null), caseFlag(cs) ? null : ignoreCase);
    const source = pyIter(v);
    return generator(
      (function* () {
        const seen = new PySet();
        for (let r = source.next(); !r.done; r = source.next()) {
          const key = getter(r.value);
          hashKey(key);
          if (!seen.has(key)) {
            seen.add(key);
            yield r.value;
          }
        }
      })(),
    );
  },
  upper: (_c, v) => softStr(v).toUpperCase(),
  urlencode: (_c, v) => doUrlencode(v),
  wordcount: (_c, v) => BigInt((softStr(v).match(/[\p{L}\p{N}_]+/gu) ?? []).length),
  xmlattr: (c, v, a, k) => doXmlattr(c, v, a, k),
};

/** Filters Jinja has that this engine does not implement: they fail with a clear message. */
for (const name of ['urlize']) {
  BUILTIN_FILTERS[name] = () => {
    throw runtimeError(`the '${name}' filter is not supported by this template engine`);
  };
}

function iterableItems(v: PyValue): PyValue[] {
  if (v instanceof PyDict) return Array.from(v.entries(), ([k, x]) => new PyTuple([k, x]));
  const items = getAttr(v, 'items');
  if (items === MISSING) {
    if (v instanceof PyUndefined) v.fail();
    throw new PyError('AttributeError', `'${typeName(v)}' object has no attribute 'items'`);
  }
  return toList(callValue(items, []));
}

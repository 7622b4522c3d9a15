/** Python operators on the value model: arithmetic, comparison, membership, subscription. */
import { floatToInt, intToFloat } from './numbers.ts';
import {
  MISSING,
  PyBytes,
  PyDict,
  PyError,
  PyMarkup,
  PyObject,
  PyRange,
  PySet,
  PyTuple,
  PyUndefined,
  hasInt,
  isContainer,
  isSubscriptable,
  iterable,
  pyEquals,
  pyStr,
  strChars,
  typeError,
  typeName,
  type Missing,
  type PyValue,
} from './values.ts';
import { escapeHtml } from './markup.ts';

type Num = bigint | number;

/** bool → int; int and float unchanged; anything else null. */
function asNum(v: PyValue): Num | null {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return null;
}

function failUndefined(...values: PyValue[]): void {
  for (const v of values) if (v instanceof PyUndefined) v.fail();
}

function unsupported(op: string, a: PyValue, b: PyValue): PyError {
  failUndefined(a, b);
  return typeError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

function bothFloat(a: Num, b: Num): [number, number] {
  return [typeof a === 'bigint' ? intToFloat(a) : a, typeof b === 'bigint' ? intToFloat(b) : b];
}

export function add(a: PyValue, b: PyValue): PyValue {
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  const x = asNum(a);
  const y = asNum(b);
  if (x !== null && y !== null) {
    if (typeof x === 'bigint' && typeof y === 'bigint') return x + y;
    const [f, g] = bothFloat(x, y);
    return f + g;
  }
  if (a instanceof PyMarkup || b instanceof PyMarkup) {
    if (
      (typeof a === 'string' || a instanceof PyMarkup) &&
      (typeof b === 'string' || b instanceof PyMarkup)
    ) {
      return new PyMarkup(markupText(a) + markupText(b));
    }
  }
  if (Array.isArray(a)) {
    if (Array.isArray(b)) return a.concat(b);
    failUndefined(b);
    throw typeError(`can only concatenate list (not "${typeName(b)}") to list`);
  }
  if (a instanceof PyTuple) {
    if (b instanceof PyTuple) return new PyTuple([...a.items, ...b.items]);
    failUndefined(b);
    throw typeError(`can only concatenate tuple (not "${typeName(b)}") to tuple`);
  }
  if (typeof a === 'string') {
    failUndefined(b);
    throw typeError(`can only concatenate str (not "${typeName(b)}") to str`);
  }
  if (a instanceof PyBytes && b instanceof PyBytes) return new PyBytes(Buffer.concat([a.data, b.data]));
  throw unsupported('+', a, b);
}

function markupText(v: string | PyMarkup): string {
  return v instanceof PyMarkup ? v.value : escapeHtml(v);
}

export function sub(a: PyValue, b: PyValue): PyValue {
  const x = asNum(a);
  const y = asNum(b);
  if (x !== null && y !== null) {
    if (typeof x === 'bigint' && typeof y === 'bigint') return x - y;
    const [f, g] = bothFloat(x, y);
    return f - g;
  }
  if (a instanceof PySet && b instanceof PySet) {
    const out = new PySet();
    for (const v of a.values()) if (!b.has(v)) out.add(v);
    return out;
  }
  throw unsupported('-', a, b);
}

/** Largest str/list a `*` repetition may build (Python would exhaust memory; we fail cleanly). */
const MAX_REPEAT_LENGTH = 64 * 1024 * 1024;

function repeatCount(n: bigint, unit: number): number {
  if (n <= 0n) return 0;
  if (n * BigInt(Math.max(unit, 1)) > BigInt(MAX_REPEAT_LENGTH)) throw new PyError('MemoryError', '');
  return Number(n);
}

export function mul(a: PyValue, b: PyValue): PyValue {
  const x = asNum(a);
  const y = asNum(b);
  if (x !== null && y !== null) {
    if (typeof x === 'bigint' && typeof y === 'bigint') return x * y;
    const [f, g] = bothFloat(x, y);
    return f * g;
  }
  if (x !== null && typeof x === 'bigint') return mul(b, a);
  if (y !== null && typeof y === 'bigint') {
    if (typeof a === 'string') return a.repeat(repeatCount(y, a.length));
    if (Array.isArray(a)) {
      const n = repeatCount(y, a.length);
      const out: PyValue[] = [];
      for (let i = 0; i < n; i++) out.push(...a);
      return out;
    }
    if (a instanceof PyTuple) {
      const n = repeatCount(y, a.items.length);
      const out: PyValue[] = [];
      for (let i = 0; i < n; i++) out.push(...a.items);
      return new PyTuple(out);
    }
  }
  if ((typeof a === 'string' || Array.isArray(a) || a instanceof PyTuple) && typeof b === 'number') {
    throw typeError(`can't multiply sequence by non-int of type 'float'`);
  }
  throw unsupported('*', a, b);
}

export function truediv(a: PyValue, b: PyValue): PyValue {
  const x = asNum(a);
  const y = asNum(b);
  if (x === null || y === null) throw unsupported('/', a, b);
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    if (y === 0n) throw new PyError('ZeroDivisionError', 'division by zero');
    return exactIntDivision(x, y);
  }
  const [f, g] = bothFloat(x, y);
  if (g === 0) throw new PyError('ZeroDivisionError', 'float division by zero');
  return f / g;
}

/** int / int, correctly rounded like Python even when the operands exceed 2^53. */
function exactIntDivision(x: bigint, y: bigint): number {
  const limit = 1n << 53n;
  const ax = x < 0n ? -x : x;
  const ay = y < 0n ? -y : y;
  if (ax <= limit && ay <= limit) return Number(x) / Number(y);
  const negative = x < 0n !== y < 0n;
  // scale so that the quotient has ~64 significant bits, then let Number() round
  const shift = Math.max(0, 64 - (ax.toString(2).length - ay.toString(2).length));
  const q = (ax << BigInt(shift)) / ay;
  const v = Number(q) / 2 ** shift;
  return negative ? -v : v;
}

export function floordiv(a: PyValue, b: PyValue): PyValue {
  const x = asNum(a);
  const y = asNum(b);
  if (x === null || y === null) throw unsupported('//', a, b);
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    if (y === 0n) throw new PyError('ZeroDivisionError', 'integer division or modulo by zero');
    const q = x / y;
    return x % y !== 0n && x < 0n !== y < 0n ? q - 1n : q;
  }
  const [f, g] = bothFloat(x, y);
  if (g === 0) throw new PyError('ZeroDivisionError', 'float floor division by zero');
  return Math.floor(f / g);
}

export function mod(
  a: PyValue,
  b: PyValue,
  percentFormat: (fmt: PyValue, args: PyValue) => PyValue,
): PyValue {
  if (typeof a === 'string' || a instanceof PyMarkup) return percentFormat(a, b);
  const x = asNum(a);
  const y = asNum(b);
  if (x === null || y === null) throw unsupported('%', a, b);
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    if (y === 0n) throw new PyError('ZeroDivisionError', 'integer division or modulo by zero');
    const r = x % y;
    return r !== 0n && r < 0n !== y < 0n ? r + y : r;
  }
  const [f, g] = bothFloat(x, y);
  if (g === 0) throw new PyError('ZeroDivisionError', 'float modulo');
  let r = f % g;
  if (r !== 0 && r < 0 !== g < 0) r += g;
  else if (r === 0) r = g < 0 ? -0 : 0;
  return r;
}

export function pow(a: PyValue, b: PyValue): PyValue {
  const x = asNum(a);
  const y = asNum(b);
  if (x === null || y === null) throw unsupported('** or pow()', a, b);
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    if (y >= 0n) {
      const bits = x === 0n || x === 1n || x === -1n ? 1 : (x < 0n ? -x : x).toString(2).length;
      if (y * BigInt(bits) > 64_000_000n) throw new PyError('MemoryError', '');
      return x ** y;
    }
    if (x === 0n) throw new PyError('ZeroDivisionError', '0.0 cannot be raised to a negative power');
    return intToFloat(x) ** Number(y);
  }
  const [f, g] = bothFloat(x, y);
  if (f === 0 && g < 0) throw new PyError('ZeroDivisionError', '0.0 cannot be raised to a negative power');
  return f ** g;
}

export function neg(a: PyValue): PyValue {
  const x = asNum(a);
  if (x === null) {
    failUndefined(a);
    throw typeError(`bad operand type for unary -: '${typeName(a)}'`);
  }
  return -x;
}

export function pos(a: PyValue): PyValue {
  const x = asNum(a);
  if (x === null) {
    failUndefined(a);
    throw typeError(`bad operand type for unary +: '${typeName(a)}'`);
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// Ordering.

/** Three-way comparison for `<`, `<=`, `>`, `>=`; throws TypeError like Python for unorderable types. */
export function compare(a: PyValue, b: PyValue, op: string): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  const x = asNum(a);
  const y = asNum(b);
  if (x !== null && y !== null) {
    if (typeof x === typeof y) return x < y ? -1 : x > y ? 1 : 0;
    const f = typeof x === 'number' ? x : y;
    if (Number.isNaN(f)) return NaN;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (isStrLike(a) && isStrLike(b)) return compare(pyStr(a), pyStr(b), op);
  if (Array.isArray(a) && Array.isArray(b)) return compareSeq(a, b, op);
  if (a instanceof PyTuple && b instanceof PyTuple) return compareSeq(a.items, b.items, op);
  if (a instanceof PySet && b instanceof PySet) {
    const subset = [...a.values()].every((v) => b.has(v));
    const superset = [...b.values()].every((v) => a.has(v));
    if (subset && superset) return 0;
    if (subset) return -1;
    if (superset) return 1;
    return NaN;
  }
  failUndefined(a, b);
  throw typeError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

function isStrLike(v: PyValue): boolean {
  return typeof v === 'string' || v instanceof PyMarkup;
}

function compareSeq(a: readonly PyValue[], b: readonly PyValue[], op: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (!pyEquals(a[i]!, b[i]!)) return compare(a[i]!, b[i]!, op);
  }
  return a.length - b.length;
}

export function lessThan(a: PyValue, b: PyValue): boolean {
  return compare(a, b, '<') < 0;
}

// ---------------------------------------------------------------------------------------------
// Membership.

/** `item in list/tuple`; strings (the common case, e.g. `host in used_host_list`) compare without a call. */
function sequenceContains(items: readonly PyValue[], item: PyValue): boolean {
  if (typeof item === 'string') {
    for (const v of items) {
      if (v === item) return true;
      if (typeof v === 'object' && v !== null && pyEquals(v, item)) return true;
    }
    return false;
  }
  for (const v of items) if (v === item || pyEquals(v, item)) return true;
  return false;
}

/** Python `item in container`. */
export function contains(container: PyValue, item: PyValue): boolean {
  if (typeof container === 'string' || container instanceof PyMarkup) {
    const hay = pyStr(container);
    if (typeof item === 'string') return hay.includes(item);
    if (item instanceof PyMarkup) return hay.includes(item.value);
    failUndefined(item);
    throw typeError(`'in <string>' requires string as left operand, not ${typeName(item)}`);
  }
  if (Array.isArray(container)) return sequenceContains(container, item);
  if (container instanceof PyTuple) return sequenceContains(container.items, item);
  if (container instanceof PyObject) {
    if (isContainer(container)) return container.pyContains(item);
    if (container instanceof PyUndefined) {
      if (container.strict) container.fail();
      return false;
    }
    if (container instanceof PyBytes) {
      if (typeof item === 'bigint') return container.data.includes(Number(item));
      if (item instanceof PyBytes) return container.data.includes(item.data);
      throw typeError(`a bytes-like object is required, not '${typeName(item)}'`);
    }
    try {
      for (const v of iterable(container)) if (pyEquals(v, item)) return true;
      return false;
    } catch (e) {
      if (e instanceof PyError && e.pyType === 'TypeError') {
        throw typeError(`argument of type '${typeName(container)}' is not iterable`);
      }
      throw e;
    }
  }
  throw typeError(`argument of type '${typeName(container)}' is not iterable`);
}

// ---------------------------------------------------------------------------------------------
// Subscription: obj[key] and slices.

/** A slice object `start:stop:step` (any part may be None). */
export class PySlice extends PyObject {
  constructor(
    readonly start: PyValue,
    readonly stop: PyValue,
    readonly step: PyValue,
  ) {
    super();
  }
  get typeName(): string {
    return 'slice';
  }
}

function sliceIndex(v: PyValue): bigint | null {
  if (v === null) return null;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  failUndefined(v);
  throw typeError('slice indices must be integers or None or have an __index__ method');
}

/** Python's slice.indices(length) → the list of selected positions. */
export function sliceIndices(s: PySlice, length: number): number[] {
  const stepBig = sliceIndex(s.step) ?? 1n;
  if (stepBig === 0n) throw new PyError('ValueError', 'slice step cannot be zero');
  const step = Number(stepBig);
  const len = BigInt(length);
  const clamp = (v: bigint | null, dflt: bigint, lo: bigint, hi: bigint): bigint => {
    if (v === null) return dflt;
    let x = v < 0n ? v + len : v;
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return x;
  };
  const out: number[] = [];
  if (step > 0) {
    const start = Number(clamp(sliceIndex(s.start), 0n, 0n, len));
    const stop = Number(clamp(sliceIndex(s.stop), len, 0n, len));
    for (let i = start; i < stop; i += step) out.push(i);
  } else {
    const start = Number(clamp(sliceIndex(s.start), len - 1n, -1n, len - 1n));
    const stop = Number(clamp(sliceIndex(s.stop), -1n, -1n, len - 1n));
    for (let i = start; i > stop; i += step) out.push(i);
  }
  return out;
}

/** Where a step-1 slice starts (for assignment into an empty slice). */
function sliceStart(s: PySlice, length: number): number {
  const start = sliceIndex(s.start);
  if (start === null) return 0;
  const n = Number(start);
  return n < 0 ? Math.max(length + n, 0) : Math.min(n, length);
}

function sliceArray<T>(items: readonly T[], s: PySlice): T[] {
  if (
    (s.step === null || s.step === 1n) &&
    (s.start === null || typeof s.start === 'bigint') &&
    (s.stop === null || typeof s.stop === 'bigint')
  ) {
    const len = items.length;
    const norm = (v: bigint | null, dflt: number): number => {
      if (v === null) return dflt;
      const n = Number(v);
      return n < 0 ? Math.max(len + n, 0) : Math.min(n, len);
    };
    return items.slice(norm(s.start, 0), norm(s.stop, len));
  }
  return sliceIndices(s, items.length).map((i) => items[i]!);
}

function intIndex(key: PyValue, what: string): number | null {
  if (typeof key === 'bigint') return Number(key);
  if (typeof key === 'boolean') return key ? 1 : 0;
  if (key instanceof PySlice) return null;
  failUndefined(key);
  throw typeError(`${what} indices must be integers or slices, not ${typeName(key)}`);
}

/**
 * Python `obj[key]`. Returns MISSING for a missing key or index (KeyError/IndexError, which Jinja
 * turns into Undefined); throws TypeError for unsubscriptable objects or bad index types.
 */
export function getItem(obj: PyValue, key: PyValue): PyValue | Missing {
  if (Array.isArray(obj)) {
    const i = intIndex(key, 'list');
    if (i === null) return sliceArray(obj, key as PySlice);
    const v = obj[i < 0 ? obj.length + i : i];
    return v === undefined ? MISSING : v;
  }
  if (typeof obj === 'string' || obj instanceof PyMarkup) {
    const s = pyStr(obj);
    const i = intIndex(key, 'string');
    const chars = strChars(s);
    if (i === null) {
      const sliced = chars
        ? sliceArray(chars, key as PySlice).join('')
        : sliceArray(s.split(''), key as PySlice).join('');
      return obj instanceof PyMarkup ? new PyMarkup(sliced) : sliced;
    }
    const len = chars ? chars.length : s.length;
    const j = i < 0 ? len + i : i;
    if (j < 0 || j >= len) return MISSING;
    return chars ? chars[j]! : s[j]!;
  }
  if (obj instanceof PyDict) {
    const v = obj.get(key);
    return v === undefined ? MISSING : v;
  }
  if (obj instanceof PyTuple) {
    const i = intIndex(key, 'tuple');
    if (i === null) return new PyTuple(sliceArray(obj.items, key as PySlice));
    const v = obj.items[i < 0 ? obj.items.length + i : i];
    return v === undefined ? MISSING : v;
  }
  if (obj instanceof PyRange) {
    if (key instanceof PySlice) {
      const all = sliceIndices(key, obj.pyLen());
      return all.map((i) => obj.start + BigInt(i) * obj.step);
    }
    const i = intIndex(key, 'range');
    return obj.pyGetItem(BigInt(i!));
  }
  if (obj instanceof PyBytes) {
    const i = intIndex(key, 'byte');
    if (i === null) return new PyBytes(Buffer.from(sliceArray([...obj.data], key as PySlice)));
    const v = obj.data[i < 0 ? obj.data.length + i : i];
    return v === undefined ? MISSING : BigInt(v);
  }
  if (obj instanceof PyUndefined) obj.fail();
  if (obj instanceof PyObject && isSubscriptable(obj)) return obj.pyGetItem(key);
  throw typeError(`'${typeName(obj)}' object is not subscriptable`);
}

/** Python `obj[key] = value` (lists and dicts). */
export function setItem(obj: PyValue, key: PyValue, value: PyValue): void {
  if (obj instanceof PyDict) {
    obj.set(key, value);
    return;
  }
  if (Array.isArray(obj)) {
    const i = intIndex(key, 'list');
    if (i === null) {
      const s = key as PySlice;
      const idx = sliceIndices(s, obj.length);
      const items = Array.from(iterable(value));
      if (s.step === null || s.step === 1n) {
        const start = idx.length ? idx[0]! : sliceStart(s, obj.length);
        obj.splice(start, idx.length, ...items);
        return;
      }
      if (items.length !== idx.length) {
        throw new PyError(
          'ValueError',
          `attempt to assign sequence of size ${items.length} to extended slice of size ${idx.length}`,
        );
      }
      idx.forEach((j, n) => (obj[j] = items[n]!));
      return;
    }
    const j = i < 0 ? obj.length + i : i;
    if (j < 0 || j >= obj.length) throw new PyError('IndexError', 'list assignment index out of range');
    obj[j] = value;
    return;
  }
  failUndefined(obj);
  throw typeError(`'${typeName(obj)}' object does not support item assignment`);
}

/** Python `del obj[key]`. */
export function delItem(obj: PyValue, key: PyValue): void {
  if (obj instanceof PyDict) {
    if (!obj.delete(key)) throw keyError(key);
    return;
  }
  if (Array.isArray(obj)) {
    const i = intIndex(key, 'list');
    if (i === null) {
      const idx = sliceIndices(key as PySlice, obj.length).sort((p, q) => q - p);
      for (const j of idx) obj.splice(j, 1);
      return;
    }
    const j = i < 0 ? obj.length + i : i;
    if (j < 0 || j >= obj.length) throw new PyError('IndexError', 'list assignment index out of range');
    obj.splice(j, 1);
    return;
  }
  throw typeError(`'${typeName(obj)}' object doesn't support item deletion`);
}

export function keyError(key: PyValue): PyError {
  return new PyError('KeyError', reprForKeyError(key));
}

function reprForKeyError(key: PyValue): string {
  return typeof key === 'string' ? `'${key.replace(/'/g, "\\'")}'` : pyStr(key);
}

// ---------------------------------------------------------------------------------------------
// Conversions used by builtins and filters.

/** Python `int(v)` (no base). */
export function toInt(v: PyValue, parse: (s: string) => bigint | null): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'number') return floatToInt(v);
  if (v instanceof PyObject && hasInt(v)) return v.pyInt();
  if (typeof v === 'string' || v instanceof PyMarkup) {
    const s = pyStr(v);
    const r = parse(s);
    if (r === null)
      throw new PyError('ValueError', `invalid literal for int() with base 10: ${quoteRepr(s)}`);
    return r;
  }
  failUndefined(v);
  throw typeError(
    `int() argument must be a string, a bytes-like object or a real number, not '${typeName(v)}'`,
  );
}

/** Python `float(v)`. */
export function toFloat(v: PyValue, parse: (s: string) => number | null): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return intToFloat(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' || v instanceof PyMarkup) {
    const s = pyStr(v);
    const r = parse(s);
    if (r === null) throw new PyError('ValueError', `could not convert string to float: ${quoteRepr(s)}`);
    return r;
  }
  failUndefined(v);
  throw typeError(`float() argument must be a string or a real number, not '${typeName(v)}'`);
}

function quoteRepr(s: string): string {
  return s.includes("'") && !s.includes('"')
    ? `"${s}"`
    : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Python's `abs()`. */
export function abs(v: PyValue): PyValue {
  const x = asNum(v);
  if (x === null) {
    failUndefined(v);
    throw typeError(`bad operand type for abs(): '${typeName(v)}'`);
  }
  if (typeof x === 'bigint') return x < 0n ? -x : x;
  return Math.abs(x);
}

/**
 * Python values as buildout stores them: option values set by recipes may be objects, written into
 * the profile as `!py!` + a Python literal (the SlapOS buildout fork's serialisation) and read back
 * as objects. This module holds the JavaScript representation of those values, Python's `repr`, and
 * the `!py!` encoding. The literal is parsed by `py-expr.ts`.
 *
 * Representation (what recipes get and may set):
 * | Python          | JavaScript                                                  |
 * |-----------------|-------------------------------------------------------------|
 * | None, bool, str | null, boolean, string                                       |
 * | int, float      | number (bigint for integers beyond 2^53); an integral number is an int |
 * | integral float  | PyFloat (`2.0`, `1e+20`: a float whose value a plain number would print as an int) |
 * | list            | Array                                                       |
 * | tuple           | PyTuple                                                     |
 * | set, frozenset  | Set                                                         |
 * | dict            | plain object with string keys (Map when a key is not a string) |
 */
import { pyFloatRepr, pyStrRepr } from '../core/python-value.ts';

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A Python float whose value is integral (`2.0`): a plain integral number stands for an int. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A float as this model holds it: PyFloat when integral, else the number itself. */
export function pyFloat(value: number): number | PyFloat {
  return Number.isInteger(value) ? new PyFloat(value) : value;
}

/** The numeric value of an int or float (PyFloat unwrapped). */
export function numberOf(value: number | bigint | boolean | PyFloat): number | bigint | boolean {
  return value instanceof PyFloat ? value.value : value;
}

export type PyDict = { [key: string]: PyValue };

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyValue[]
  | PyTuple
  | PyFloat
  | Set<PyValue>
  | Map<PyValue, PyValue>
  | PyDict;

/** The prefix of serialised option values (`!py!` + literal; `!pyVERSION!` is reserved for other serialisers). */
export const SERIALISED_PREFIX = '!py!';
const SERIALISED_RE = /^!py([^!]*)!/;

export function isPlainDict(value: unknown): value is PyDict {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

// Python's repr() of str and float: the project's one implementation, re-exported for recipes.
export { pyFloatRepr, pyStrRepr };

/**
 * Python's `repr()` as pprint prints it on one line: dict items sorted by key; sets sorted too so
 * that the text is stable (Python's own set order is the hash order).
 */
export function pyRepr(value: PyValue): string {
  if (value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pyStrRepr(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isInteger(value) ? value.toFixed(0) : pyFloatRepr(value);
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (value instanceof PyTuple) {
    const items = value.items.map(pyRepr);
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
  }
  if (value instanceof Set) {
    if (value.size === 0) return 'set()';
    return `{${sortedValues([...value])
      .map(pyRepr)
      .join(', ')}}`;
  }
  const entries = dictEntries(value);
  const sorted = entries.sort((a, b) => comparePy(a[0], b[0]));
  return `{${sorted.map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
}

export function dictEntries(value: Map<PyValue, PyValue> | PyDict): [PyValue, PyValue][] {
  return value instanceof Map ? [...value.entries()] : Object.entries(value);
}

function sortedValues(values: PyValue[]): PyValue[] {
  return values.sort(comparePy);
}

/** A total order for sorting (numbers, then strings, then the rest by repr). */
function comparePy(a: PyValue, b: PyValue): number {
  const rank = (v: PyValue): number =>
    typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v instanceof PyFloat
      ? 0
      : typeof v === 'string'
        ? 1
        : 2;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return Number(numberOf(a as number)) - Number(numberOf(b as number));
  const sa = ra === 1 ? (a as string) : pyRepr(a);
  const sb = rb === 1 ? (b as string) : pyRepr(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Python `str()`: strings as they are, anything else as its repr. */
export function pyStr(value: PyValue): string {
  return typeof value === 'string' ? value : pyRepr(value);
}

/** Python equality (1 == 1.0 == True, containers element-wise, dicts and sets regardless of order). */
export function pyEquals(a: PyValue, b: PyValue): boolean {
  if (a === b) return true;
  const numeric = (v: PyValue): v is number | bigint | boolean | PyFloat =>
    typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v instanceof PyFloat;
  if (numeric(a) && numeric(b)) return Number(numberOf(a)) === Number(numberOf(b));
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((x, i) => pyEquals(x, b[i] ?? null))
    );
  }
  if (a instanceof PyTuple || b instanceof PyTuple) {
    return (
      a instanceof PyTuple &&
      b instanceof PyTuple &&
      a.items.length === b.items.length &&
      a.items.every((x, i) => pyEquals(x, b.items[i] ?? null))
    );
  }
  if (a instanceof Set || b instanceof Set) {
    return a instanceof Set && b instanceof Set && a.size === b.size && [...a].every((x) => pyContains(b, x));
  }
  if (a instanceof PyFloat || b instanceof PyFloat) return false;
  const ea = dictEntries(a);
  const eb = dictEntries(b);
  return (
    ea.length === eb.length && ea.every(([k, v]) => eb.some(([k2, v2]) => pyEquals(k, k2) && pyEquals(v, v2)))
  );
}

function pyContains(set: Set<PyValue>, value: PyValue): boolean {
  if (set.has(value)) return true;
  for (const item of set) if (pyEquals(item, value)) return true;
  return false;
}

/** Python truthiness. */
export function pyTruthy(value: PyValue): boolean {
  if (value === null || value === false) return false;
  if (typeof value === 'number') return value !== 0;
  if (value instanceof PyFloat) return value.value !== 0;
  if (typeof value === 'bigint') return value !== 0n;
  if (typeof value === 'string') return value.length > 0;
  if (value === true) return true;
  if (Array.isArray(value)) return value.length > 0;
  if (value instanceof PyTuple) return value.items.length > 0;
  if (value instanceof Set || value instanceof Map) return value.size > 0;
  return Object.keys(value).length > 0;
}

/** True if an option value is a serialised object (`!py!…`). */
export function isSerialised(text: string): boolean {
  return text.startsWith('!py');
}

/**
 * The `!py!` text of a value, as the fork's `dumps()` writes it: the repr with `$` and `;` written
 * as `\x24` and `\x3b`, so that the text survives buildout substitution and comment rules.
 */
export function serialise(value: PyValue): string {
  return SERIALISED_PREFIX + pyRepr(value).replaceAll('$', '\\x24').replaceAll(';', '\\x3b');
}

/** Splits `!pyVERSION!body` into its version and body, or undefined for a plain string. */
export function splitSerialised(text: string): { version: string; body: string } | undefined {
  const match = SERIALISED_RE.exec(text);
  if (!match) return undefined;
  return { version: match[1] ?? '', body: text.slice(match[0].length) };
}

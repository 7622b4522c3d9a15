/**
 * The Python value model the template engine computes with.
 *
 * Mapping of Python types to JavaScript representations:
 *   None → null, bool → boolean, int → bigint, float → number, str → string, list → JS array,
 *   tuple → PyTuple, dict → PyDict (insertion ordered, Python key equality), set → PySet,
 *   everything else → a PyObject subclass (Markup, bytes, Undefined, callables, namespaces…).
 * Keeping int (bigint) and float (number) apart is what makes `{{ 4/2 }}` print `2.0` and
 * `{{ 7//2 }}` print `3`, as Python does.
 */

import { pyFloatRepr, pyStrRepr } from '../core/python-value.ts';
import { tick } from './budget.ts';

export type PyValue = null | boolean | bigint | number | string | PyList | PyObject;
export type PyList = PyValue[];
/** Keyword arguments of a call, in call order. */
export type Kwargs = Map<string, PyValue>;

/** A Python exception raised while rendering: `pyType` is the Python class name (TypeError, UndefinedError…). */
export class PyError extends Error {
  /** Line in the template where it happened, filled in by the renderer. */
  lineno: number | undefined;
  /** Name of the template where it happened, filled in by the renderer. */
  templateName: string | undefined;
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
    this.name = 'PyError';
  }
}

export function typeError(message: string): PyError {
  return new PyError('TypeError', message);
}

export function valueError(message: string): PyError {
  return new PyError('ValueError', message);
}

/** Base class of every non-primitive Python value. */
export abstract class PyObject {
  /** Python type name, as `type(x).__name__` prints it. */
  abstract get typeName(): string;
  /** Module of the type, for Jinja's `object_type_repr` (empty for builtins). */
  get typeModule(): string {
    return '';
  }
  repr(): string {
    return `<${this.typeModule ? this.typeModule + '.' : ''}${this.typeName} object>`;
  }
  str(): string {
    return this.repr();
  }
  truthy(): boolean {
    return true;
  }
  /** Attribute lookup (`getattr`); MISSING when absent. */
  getAttr(_name: string): PyValue | typeof MISSING {
    return MISSING;
  }
}

/** Sentinel for "no such attribute/item/argument". Never a PyValue. */
export const MISSING: unique symbol = Symbol('missing');
export type Missing = typeof MISSING;

// ---------------------------------------------------------------------------------------------
// Protocol interfaces implemented by some PyObjects.

export interface PyIterable {
  pyIter(): Iterator<PyValue>;
}
export interface PySized {
  pyLen(): number;
}
export interface PySubscriptable {
  /** Item lookup (`obj[key]`); MISSING when absent (KeyError/IndexError). */
  pyGetItem(key: PyValue): PyValue | Missing;
}
export interface PyCallableObject {
  pyCall(args: PyValue[], kwargs: Kwargs | null): PyValue;
}
/** Objects with their own `==` (netaddr addresses). */
export interface PyEquatable {
  pyEq(other: PyValue): boolean;
}
/** Objects `int()` converts (netaddr addresses). */
export interface PyIntConvertible {
  pyInt(): bigint;
}
export function hasEq(v: PyObject): v is PyObject & PyEquatable {
  return typeof (v as Partial<PyEquatable>).pyEq === 'function';
}
export function hasInt(v: PyObject): v is PyObject & PyIntConvertible {
  return typeof (v as Partial<PyIntConvertible>).pyInt === 'function';
}
export interface PyContainer {
  pyContains(item: PyValue): boolean;
}

export function isIterableObject(v: PyObject): v is PyObject & PyIterable {
  return typeof (v as Partial<PyIterable>).pyIter === 'function';
}
export function isSizedObject(v: PyObject): v is PyObject & PySized {
  return typeof (v as Partial<PySized>).pyLen === 'function';
}
export function isSubscriptable(v: PyObject): v is PyObject & PySubscriptable {
  return typeof (v as Partial<PySubscriptable>).pyGetItem === 'function';
}
export function isCallable(v: PyValue): v is PyObject & PyCallableObject {
  return v instanceof PyObject && typeof (v as Partial<PyCallableObject>).pyCall === 'function';
}
export function isContainer(v: PyObject): v is PyObject & PyContainer {
  return typeof (v as Partial<PyContainer>).pyContains === 'function';
}

// ---------------------------------------------------------------------------------------------
// Hashing: Python key equality (1 == 1.0 == True, tuples by value) mapped onto JS Map keys.

type HashKey = string | number | bigint | boolean | null | PyObject;
const TUPLE_KEY_PREFIX = '\u0000\u0001tuple:';

export function hashKey(v: PyValue): HashKey {
  switch (typeof v) {
    case 'string':
      return v;
    case 'bigint':
      return v;
    case 'boolean':
      return v ? 1n : 0n;
    case 'number':
      return Number.isInteger(v) ? BigInt(v) : v;
    default:
      break;
  }
  if (v === null) return null;
  if (Array.isArray(v)) throw typeError("unhashable type: 'list'");
  if (v instanceof PyTuple) return TUPLE_KEY_PREFIX + v.items.map(tupleItemKey).join('\u0000,');
  if (v instanceof PyMarkup) return v.value;
  if (v instanceof PyFrozenSet)
    return TUPLE_KEY_PREFIX + 'frozenset:' + [...v.map.keys()].map(keyToString).sort().join(',');
  if (v instanceof PyBytes) return TUPLE_KEY_PREFIX + 'bytes:' + v.data.toString('hex');
  if (v instanceof PyDict || v instanceof PySet) throw typeError(`unhashable type: '${v.typeName}'`);
  if (v instanceof PyUndefined) {
    if (v.strict) v.fail();
    return TUPLE_KEY_PREFIX + 'undefined';
  }
  return v;
}

function keyToString(k: HashKey): string {
  if (typeof k === 'string') return 's' + k;
  if (typeof k === 'bigint') return 'i' + k.toString();
  if (typeof k === 'number') return 'f' + String(k);
  if (k === null) return 'n';
  if (typeof k === 'boolean') return 'b' + String(k);
  return 'o' + String(objectId(k));
}

function tupleItemKey(v: PyValue): string {
  return keyToString(hashKey(v));
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
/** A stable identity number for an object (Python's `id()`, for hashing only). */
export function objectId(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(o, id);
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// Containers.

export class PyTuple extends PyObject implements PyIterable, PySized {
  constructor(readonly items: readonly PyValue[]) {
    super();
  }
  get typeName(): string {
    return 'tuple';
  }
  pyIter(): Iterator<PyValue> {
    return this.items[Symbol.iterator]();
  }
  pyLen(): number {
    return this.items.length;
  }
  override truthy(): boolean {
    return this.items.length > 0;
  }
}

/** A `collections.namedtuple` instance: a tuple whose items also have names (`ParseResult`, `version_info`). */
export class PyNamedTuple extends PyTuple {
  constructor(
    readonly name: string,
    readonly fields: readonly string[],
    items: readonly PyValue[],
    readonly extra: (self: PyNamedTuple, attr: string) => PyValue | Missing = () => MISSING,
  ) {
    super(items);
  }
  override get typeName(): string {
    return this.name;
  }
  override getAttr(attr: string): PyValue | Missing {
    const i = this.fields.indexOf(attr);
    return i >= 0 ? this.items[i]! : this.extra(this, attr);
  }
  override repr(): string {
    return `${this.name}(${this.fields.map((f, i) => `${f}=${pyRepr(this.items[i]!)}`).join(', ')})`;
  }
}

export function tuple(...items: PyValue[]): PyTuple {
  return new PyTuple(items);
}

export class PyDict extends PyObject implements PyIterable, PySized, PyContainer {
  /** hash key → [original key, value] (Python keeps the first key object given). */
  readonly map = new Map<HashKey, [PyValue, PyValue]>();

  static from(entries: Iterable<readonly [PyValue, PyValue]>): PyDict {
    const d = new PyDict();
    for (const [k, v] of entries) d.set(k, v);
    return d;
  }
  get typeName(): string {
    return 'dict';
  }
  get size(): number {
    return this.map.size;
  }
  get(key: PyValue): PyValue | undefined {
    return this.map.get(hashKey(key))?.[1];
  }
  has(key: PyValue): boolean {
    return this.map.has(hashKey(key));
  }
  set(key: PyValue, value: PyValue): void {
    const hk = hashKey(key);
    const entry = this.map.get(hk);
    if (entry) entry[1] = value;
    else this.map.set(hk, [key, value]);
  }
  delete(key: PyValue): boolean {
    return this.map.delete(hashKey(key));
  }
  *keys(): Generator<PyValue> {
    const size = this.map.size;
    for (const [k] of this.map.values()) {
      yield k;
      if (this.map.size !== size)
        throw new PyError('RuntimeError', 'dictionary changed size during iteration');
    }
  }
  *values(): Generator<PyValue> {
    const size = this.map.size;
    for (const [, v] of this.map.values()) {
      yield v;
      if (this.map.size !== size)
        throw new PyError('RuntimeError', 'dictionary changed size during iteration');
    }
  }
  *entries(): Generator<[PyValue, PyValue]> {
    const size = this.map.size;
    for (const [k, v] of this.map.values()) {
      yield [k, v];
      if (this.map.size !== size)
        throw new PyError('RuntimeError', 'dictionary changed size during iteration');
    }
  }
  copy(): PyDict {
    const d = new PyDict();
    for (const [hk, [k, v]] of this.map) d.map.set(hk, [k, v]);
    return d;
  }
  pyIter(): Iterator<PyValue> {
    return this.keys();
  }
  pyLen(): number {
    return this.map.size;
  }
  pyContains(item: PyValue): boolean {
    return this.has(item);
  }
  override truthy(): boolean {
    return this.map.size > 0;
  }
}

export class PySet extends PyObject implements PyIterable, PySized, PyContainer {
  readonly map = new Map<HashKey, PyValue>();
  constructor(items?: Iterable<PyValue>) {
    super();
    if (items) for (const v of items) this.add(v);
  }
  get typeName(): string {
    return 'set';
  }
  get size(): number {
    return this.map.size;
  }
  add(v: PyValue): void {
    const hk = hashKey(v);
    if (!this.map.has(hk)) this.map.set(hk, v);
  }
  has(v: PyValue): boolean {
    return this.map.has(hashKey(v));
  }
  delete(v: PyValue): boolean {
    return this.map.delete(hashKey(v));
  }
  /** Elements in iteration order: CPython's hash-table order when it is computable (ints), else insertion order. */
  ordered(): PyValue[] {
    const items = [...this.map.values()];
    return cpythonIntSetOrder(items) ?? items;
  }
  *values(): Generator<PyValue> {
    const size = this.map.size;
    for (const v of this.ordered()) {
      yield v;
      if (this.map.size !== size) throw new PyError('RuntimeError', 'Set changed size during iteration');
    }
  }
  pyIter(): Iterator<PyValue> {
    return this.values();
  }
  pyLen(): number {
    return this.map.size;
  }
  pyContains(item: PyValue): boolean {
    return this.has(item);
  }
  override truthy(): boolean {
    return this.map.size > 0;
  }
}

export class PyFrozenSet extends PySet {
  override get typeName(): string {
    return 'frozenset';
  }
}

const HASH_MODULUS = (1n << 61n) - 1n;
const U64 = (1n << 64n) - 1n;

/** Python's hash() of an int-like value, as an unsigned 64-bit number; null when not int-like. */
function intHash(v: PyValue): bigint | null {
  let i: bigint;
  if (typeof v === 'bigint') i = v;
  else if (typeof v === 'boolean') i = v ? 1n : 0n;
  else if (typeof v === 'number' && Number.isInteger(v)) i = BigInt(v);
  else return null;
  let h = (i < 0n ? -i : i) % HASH_MODULUS;
  if (i < 0n) h = -h;
  if (h === -1n) h = -2n;
  return h & U64;
}

/**
 * The iteration order CPython gives a set of ints built by adding `items` in order: a simulation of
 * its open-addressing table (linear probes of 9, perturbed probing, resize at 3/5 fill). Sets of
 * strings have a per-process random order in Python, so only int-like sets are reproduced.
 */
function cpythonIntSetOrder(items: PyValue[]): PyValue[] | null {
  if (items.length < 2) return null;
  const hashes: bigint[] = [];
  for (const v of items) {
    const h = intHash(v);
    if (h === null) return null;
    hashes.push(h);
  }
  let size = 8;
  let table: number[] = new Array<number>(size).fill(-1);
  const insert = (tbl: number[], mask: number, idx: number): void => {
    const hash = hashes[idx]!;
    let perturb = hash;
    let i = Number(hash & BigInt(mask));
    for (;;) {
      const probes = i + 9 <= mask ? 9 : 0;
      for (let j = 0; j <= probes; j++) {
        if (tbl[i + j] === -1) {
          tbl[i + j] = idx;
          return;
        }
      }
      perturb >>= 5n;
      i = Number((BigInt(i) * 5n + 1n + perturb) & BigInt(mask));
    }
  };
  let fill = 0;
  for (let idx = 0; idx < items.length; idx++) {
    insert(table, size - 1, idx);
    fill++;
    if (fill * 5 >= (size - 1) * 3) {
      const minUsed = fill > 50000 ? fill * 2 : fill * 4;
      let newSize = 8;
      while (newSize <= minUsed) newSize <<= 1;
      const next = new Array<number>(newSize).fill(-1);
      for (const e of table) if (e !== -1) insert(next, newSize - 1, e);
      table = next;
      size = newSize;
    }
  }
  return table.filter((e) => e !== -1).map((e) => items[e]!);
}

/** `dict.keys()` / `.values()` / `.items()`: live views over a dict. */
export class PyDictView extends PyObject implements PyIterable, PySized, PyContainer {
  constructor(
    readonly dict: PyDict,
    readonly kind: 'keys' | 'values' | 'items',
  ) {
    super();
  }
  get typeName(): string {
    return `dict_${this.kind}`;
  }
  *pyIter(): Iterator<PyValue> {
    if (this.kind === 'keys') yield* this.dict.keys();
    else if (this.kind === 'values') yield* this.dict.values();
    else for (const [k, v] of this.dict.entries()) yield new PyTuple([k, v]);
  }
  pyLen(): number {
    return this.dict.size;
  }
  pyContains(item: PyValue): boolean {
    if (this.kind === 'keys') return this.dict.has(item);
    for (const v of { [Symbol.iterator]: () => this.pyIter() }) if (pyEquals(v, item)) return true;
    return false;
  }
  override truthy(): boolean {
    return this.dict.size > 0;
  }
}

/** Python's `range` object. */
export class PyRange extends PyObject implements PyIterable, PySized, PyContainer, PySubscriptable {
  constructor(
    readonly start: bigint,
    readonly stop: bigint,
    readonly step: bigint,
  ) {
    super();
  }
  get typeName(): string {
    return 'range';
  }
  get length(): bigint {
    const { start, stop, step } = this;
    if (step > 0n) return stop > start ? (stop - start + step - 1n) / step : 0n;
    return start > stop ? (start - stop - step - 1n) / -step : 0n;
  }
  *pyIter(): Iterator<PyValue> {
    const n = this.length;
    let v = this.start;
    for (let i = 0n; i < n; i++, v += this.step) {
      tick();
      yield v;
    }
  }
  pyLen(): number {
    return Number(this.length);
  }
  pyContains(item: PyValue): boolean {
    const n = typeof item === 'boolean' ? (item ? 1n : 0n) : item;
    let i: bigint;
    if (typeof n === 'bigint') i = n;
    else if (typeof n === 'number' && Number.isInteger(n)) i = BigInt(n);
    else return false;
    const off = i - this.start;
    if (off % this.step !== 0n) return false;
    const idx = off / this.step;
    return idx >= 0n && idx < this.length;
  }
  pyGetItem(key: PyValue): PyValue | Missing {
    if (typeof key !== 'bigint') return MISSING;
    const n = this.length;
    const i = key < 0n ? key + n : key;
    if (i < 0n || i >= n) return MISSING;
    return this.start + i * this.step;
  }
  override repr(): string {
    return this.step === 1n
      ? `range(${this.start}, ${this.stop})`
      : `range(${this.start}, ${this.stop}, ${this.step})`;
  }
  override truthy(): boolean {
    return this.length > 0n;
  }
}

/** A one-shot iterator (generators, `map()`, `zip()`, `enumerate()`…). */
export class PyIterator extends PyObject implements PyIterable {
  constructor(
    readonly it: Iterator<PyValue>,
    readonly kind = 'generator',
  ) {
    super();
  }
  get typeName(): string {
    return this.kind;
  }
  pyIter(): Iterator<PyValue> {
    return this.it;
  }
  next(): PyValue | Missing {
    const r = this.it.next();
    return r.done ? MISSING : r.value;
  }
  override repr(): string {
    return this.kind === 'generator' ? '<generator object>' : `<${this.kind} object>`;
  }
}

/** `markupsafe.Markup`: a str that is already HTML-safe. */
export class PyMarkup extends PyObject {
  constructor(readonly value: string) {
    super();
  }
  get typeName(): string {
    return 'Markup';
  }
  override get typeModule(): string {
    return 'markupsafe';
  }
  override str(): string {
    return this.value;
  }
  override repr(): string {
    return `Markup(${strRepr(this.value)})`;
  }
  override truthy(): boolean {
    return this.value.length > 0;
  }
}

export class PyBytes extends PyObject implements PyIterable, PySized {
  constructor(readonly data: Buffer) {
    super();
  }
  get typeName(): string {
    return 'bytes';
  }
  *pyIter(): Iterator<PyValue> {
    for (const b of this.data) yield BigInt(b);
  }
  pyLen(): number {
    return this.data.length;
  }
  override repr(): string {
    const s = this.data.toString('latin1');
    const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
    let out = 'b' + quote;
    for (const byte of this.data) {
      const ch = String.fromCharCode(byte);
      if (ch === quote || ch === '\\') out += '\\' + ch;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (byte < 0x20 || byte >= 0x7f) out += '\\x' + byte.toString(16).padStart(2, '0');
      else out += ch;
    }
    return out + quote;
  }
  override truthy(): boolean {
    return this.data.length > 0;
  }
}

/** Jinja's Undefined / StrictUndefined. */
export class PyUndefined extends PyObject implements PyIterable, PySized {
  constructor(
    readonly strict: boolean,
    readonly name: PyValue | Missing = MISSING,
    readonly obj: PyValue | Missing = MISSING,
    readonly hint: string | undefined = undefined,
  ) {
    super();
  }
  get typeName(): string {
    return this.strict ? 'StrictUndefined' : 'Undefined';
  }
  override get typeModule(): string {
    return 'jinja2.runtime';
  }
  get message(): string {
    if (this.hint !== undefined) return this.hint;
    if (this.obj instanceof PyModule && this.obj.stub && typeof this.name === 'string') {
      return this.obj.missingMessage(this.name);
    }
    if (this.obj === MISSING) return `${pyRepr(this.name === MISSING ? null : this.name)} is undefined`;
    if (typeof this.name !== 'string') {
      return `${objectTypeRepr(this.obj)} has no element ${pyRepr(this.name === MISSING ? null : this.name)}`;
    }
    return `${strRepr(objectTypeRepr(this.obj))} has no attribute ${strRepr(this.name)}`;
  }
  fail(): never {
    throw new PyError('UndefinedError', this.message);
  }
  override str(): string {
    if (this.strict) this.fail();
    return '';
  }
  override repr(): string {
    if (this.strict) this.fail();
    return 'Undefined';
  }
  override truthy(): boolean {
    if (this.strict) this.fail();
    return false;
  }
  pyIter(): Iterator<PyValue> {
    if (this.strict) this.fail();
    return [][Symbol.iterator]();
  }
  pyLen(): number {
    if (this.strict) this.fail();
    return 0;
  }
}

/** Jinja's `object_type_repr`: how error messages name the type of a value. */
export function objectTypeRepr(v: PyValue | Missing): string {
  if (v === MISSING || v === null) return 'None';
  if (v instanceof PyObject && v.typeModule) return `${v.typeModule}.${v.typeName} object`;
  return `${typeName(v)} object`;
}

/** A callable implemented in TypeScript (builtins, methods, module functions). */
export class PyFunction extends PyObject implements PyCallableObject {
  constructor(
    readonly name: string,
    readonly fn: (args: PyValue[], kwargs: Kwargs | null) => PyValue,
    readonly kind = 'builtin_function_or_method',
  ) {
    super();
  }
  get typeName(): string {
    return this.kind;
  }
  pyCall(args: PyValue[], kwargs: Kwargs | null): PyValue {
    return this.fn(args, kwargs);
  }
  override repr(): string {
    return `<built-in function ${this.name}>`;
  }
}

/** A Python type object usable as a callable and with `isinstance` (str, int, dict…). */
export class PyType extends PyFunction {
  constructor(
    name: string,
    fn: (args: PyValue[], kwargs: Kwargs | null) => PyValue,
    readonly check: (v: PyValue) => boolean,
  ) {
    super(name, fn, 'type');
  }
  override repr(): string {
    return `<class '${this.name}'>`;
  }
}

/**
 * A module-like object with fixed attributes (`json`, `six`… shims, imported template modules).
 * `stub` marks the stand-ins of Python modules: a missing attribute names the module and what it has.
 */
export class PyModule extends PyObject {
  constructor(
    readonly name: string,
    readonly attrs: Map<string, PyValue>,
    readonly stub = false,
  ) {
    super();
  }
  missingMessage(attr: string): string {
    const names = [...this.attrs.keys()].filter((n) => !n.startsWith('_')).sort();
    return `module '${this.name}' has no attribute '${attr}' in this engine (its stand-in provides: ${names.join(', ')})`;
  }
  get typeName(): string {
    return 'module';
  }
  override getAttr(name: string): PyValue | Missing {
    const v = this.attrs.get(name);
    return v === undefined ? MISSING : v;
  }
  override repr(): string {
    return `<module '${this.name}'>`;
  }
}

/** `namespace()`: an object whose attributes can be assigned with `{% set ns.x = … %}`. */
export class PyNamespace extends PyObject {
  readonly attrs = new Map<string, PyValue>();
  get typeName(): string {
    return 'Namespace';
  }
  override get typeModule(): string {
    return 'jinja2.utils';
  }
  override getAttr(name: string): PyValue | Missing {
    const v = this.attrs.get(name);
    return v === undefined ? MISSING : v;
  }
  override repr(): string {
    return `<Namespace ${pyRepr(PyDict.from(this.attrs))}>`;
  }
}

// ---------------------------------------------------------------------------------------------
// Core protocol functions.

export function typeName(v: PyValue): string {
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'string':
      return 'str';
    default:
      break;
  }
  if (v === null) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  return v.typeName;
}

export function isStr(v: PyValue): v is string | PyMarkup {
  return typeof v === 'string' || v instanceof PyMarkup;
}

/** Python `bool(v)`. */
export function truthy(v: PyValue): boolean {
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'bigint':
      return v !== 0n;
    case 'number':
      return v !== 0;
    case 'string':
      return v.length > 0;
    default:
      break;
  }
  if (v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  return v.truthy();
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Python `len(s)` of a str: counts code points. */
export function strLen(s: string): number {
  if (!SURROGATE.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The code points of a string, as Python indexes them. */
export function strChars(s: string): string[] | null {
  return SURROGATE.test(s) ? Array.from(s) : null;
}

/** Python `len(v)`. */
export function pyLen(v: PyValue): number {
  if (typeof v === 'string') return strLen(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof PyMarkup) return strLen(v.value);
  if (v instanceof PyObject && isSizedObject(v)) return v.pyLen();
  throw typeError(`object of type '${typeName(v)}' has no len()`);
}

/** Python `iter(v)`. */
export function pyIter(v: PyValue): Iterator<PyValue> {
  if (Array.isArray(v)) return v[Symbol.iterator]();
  if (typeof v === 'string') return v[Symbol.iterator]();
  if (v instanceof PyObject) {
    if (isIterableObject(v)) return v.pyIter();
    if (v instanceof PyMarkup) return v.value[Symbol.iterator]();
  }
  throw typeError(`'${typeName(v)}' object is not iterable`);
}

export function iterable(v: PyValue): Iterable<PyValue> {
  if (Array.isArray(v)) return v;
  const it = pyIter(v);
  return { [Symbol.iterator]: () => it };
}

/** `list(v)`: always a fresh array. */
export function toList(v: PyValue): PyValue[] {
  if (Array.isArray(v)) return v.slice();
  if (v instanceof PyTuple) return v.items.slice();
  return Array.from(iterable(v));
}

// ---------------------------------------------------------------------------------------------
// Equality.

/** Python `a == b`. */
export function pyEquals(a: PyValue, b: PyValue): boolean {
  if (a === b) {
    if (a instanceof PyUndefined && a.strict) a.fail();
    return typeof a !== 'number' || !Number.isNaN(a);
  }
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'string' || tb === 'string') {
    if (a instanceof PyMarkup) return a.value === b;
    if (b instanceof PyMarkup) return b.value === a;
    if (a instanceof PyUndefined && a.strict) a.fail();
    if (b instanceof PyUndefined && b.strict) b.fail();
    return false;
  }
  if (isNumeric(a) && isNumeric(b)) return numEquals(a, b);
  if (a === null || b === null) {
    if (a instanceof PyUndefined && a.strict) a.fail();
    if (b instanceof PyUndefined && b.strict) b.fail();
    return false;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) return undefinedEq(b);
    return seqEquals(a, b);
  }
  if (a instanceof PyTuple) return b instanceof PyTuple ? seqEquals(a.items, b.items) : undefinedEq(b);
  if (a instanceof PyDict) {
    if (!(b instanceof PyDict)) return undefinedEq(b);
    if (a.size !== b.size) return false;
    for (const [k, v] of a.entries()) {
      const w = b.get(k);
      if (w === undefined || !pyEquals(v, w)) return false;
    }
    return true;
  }
  if (a instanceof PySet) {
    if (!(b instanceof PySet)) return undefinedEq(b);
    if (a.size !== b.size) return false;
    for (const v of a.values()) if (!b.has(v)) return false;
    return true;
  }
  if (a instanceof PyMarkup && b instanceof PyMarkup) return a.value === b.value;
  if (a instanceof PyBytes && b instanceof PyBytes) return a.data.equals(b.data);
  if (a instanceof PyUndefined) {
    if (a.strict) a.fail();
    if (b instanceof PyUndefined && b.strict) b.fail();
    return b instanceof PyUndefined;
  }
  if (a instanceof PyDictView && b instanceof PyDictView && a.kind === b.kind && a.kind !== 'values') {
    return pyEquals(new PySet(iterable(a)), new PySet(iterable(b)));
  }
  if (a instanceof PyRange && b instanceof PyRange) return seqEquals(toList(a), toList(b));
  if (a instanceof PyObject && hasEq(a)) return a.pyEq(b);
  return undefinedEq(b);
}

function undefinedEq(b: PyValue): false {
  if (b instanceof PyUndefined && b.strict) b.fail();
  return false;
}

function seqEquals(a: readonly PyValue[], b: readonly PyValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!pyEquals(a[i]!, b[i]!)) return false;
  return true;
}

export function isNumeric(v: PyValue): v is bigint | number | boolean {
  const t = typeof v;
  return t === 'bigint' || t === 'number' || t === 'boolean';
}

function numEquals(a: bigint | number | boolean, b: bigint | number | boolean): boolean {
  const x = typeof a === 'boolean' ? (a ? 1n : 0n) : a;
  const y = typeof b === 'boolean' ? (b ? 1n : 0n) : b;
  if (typeof x === 'bigint' && typeof y === 'bigint') return x === y;
  if (typeof x === 'number' && typeof y === 'number') return x === y;
  const f = typeof x === 'number' ? x : (y as number);
  const i = typeof x === 'bigint' ? x : (y as bigint);
  return Number.isInteger(f) && BigInt(f) === i;
}

// ---------------------------------------------------------------------------------------------
// str() and repr().

/** Python `str(v)`. */
export function pyStr(v: PyValue): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'bigint':
      return v.toString();
    case 'number':
      return floatRepr(v);
    case 'boolean':
      return v ? 'True' : 'False';
    default:
      break;
  }
  if (v === null) return 'None';
  if (Array.isArray(v)) return reprList(v, new Set());
  if (v instanceof PyNamedTuple) return v.repr();
  if (v instanceof PyTuple || v instanceof PyDict || v instanceof PySet || v instanceof PyDictView) {
    return reprInner(v, new Set());
  }
  return v.str();
}

/** Python `repr(v)`. */
export function pyRepr(v: PyValue): string {
  return reprInner(v, new Set());
}

/** An order of values, for reprs that sort dict items (by key) and set members as pprint does. */
export type ReprOrder = (a: PyValue, b: PyValue) => number;

/** `repr(v)` with dict items and set members sorted by `order` (`pprint.pformat` on one line). */
export function pyReprSorted(v: PyValue, order: ReprOrder): string {
  return reprInner(v, new Set(), order);
}

function reprInner(v: PyValue, seen: Set<object>, order?: ReprOrder): string {
  switch (typeof v) {
    case 'string':
      return strRepr(v);
    case 'bigint':
      return v.toString();
    case 'number':
      return floatRepr(v);
    case 'boolean':
      return v ? 'True' : 'False';
    default:
      break;
  }
  if (v === null) return 'None';
  if (Array.isArray(v)) return reprList(v, seen, order);
  if (v instanceof PyNamedTuple) return v.repr();
  if (v instanceof PyTuple) {
    if (seen.has(v)) return '(...)';
    seen.add(v);
    const parts = v.items.map((x) => reprInner(x, seen, order));
    seen.delete(v);
    return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
  }
  if (v instanceof PyDict) {
    if (seen.has(v)) return '{...}';
    seen.add(v);
    const entries = [...v.map.values()];
    if (order) entries.sort((a, b) => order(a[0], b[0]));
    const parts = entries.map(([k, x]) => `${reprInner(k, seen, order)}: ${reprInner(x, seen, order)}`);
    seen.delete(v);
    return `{${parts.join(', ')}}`;
  }
  if (v instanceof PySet) {
    const members = order ? [...v.map.values()].sort(order) : v.ordered();
    const parts = members.map((x) => reprInner(x, seen, order));
    if (v instanceof PyFrozenSet) return parts.length ? `frozenset({${parts.join(', ')}})` : 'frozenset()';
    return parts.length ? `{${parts.join(', ')}}` : 'set()';
  }
  if (v instanceof PyDictView) {
    const items = Array.from(iterable(v)).map((x) => reprInner(x, seen));
    return `${v.typeName}([${items.join(', ')}])`;
  }
  return v.repr();
}

function reprList(v: PyValue[], seen: Set<object>, order?: ReprOrder): string {
  if (seen.has(v)) return '[...]';
  seen.add(v);
  const parts = v.map((x) => reprInner(x, seen, order));
  seen.delete(v);
  return `[${parts.join(', ')}]`;
}

const SIMPLE_ASCII = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;
/** Python `repr()` of a str (plain ASCII without quotes or backslashes takes a shortcut). */
export function strRepr(s: string): string {
  return SIMPLE_ASCII.test(s) ? `'${s}'` : pyStrRepr(s);
}

/** Python `repr()` of a float: shortest round-trip digits, Python's notation rules. */
export const floatRepr = pyFloatRepr;

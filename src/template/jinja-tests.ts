/** Jinja2's built-in tests (`x is defined`, `x is none`, `x is divisibleby 3`…). */
import { argCount } from './args.ts';
import { compare, contains, mod } from './ops.ts';
import type { TestFn } from './runtime.ts';
import { percentFormat } from './format.ts';
import {
  PyBytes,
  PyDict,
  PyMarkup,
  PyRange,
  PyTuple,
  PyUndefined,
  isCallable,
  pyEquals,
  pyIter,
  pyLen,
  pyStr,
  PyError,
  type PyValue,
} from './values.ts';

function one(name: string, args: PyValue[]): PyValue {
  argCount(name, args, 1, 1);
  return args[0]!;
}

function isLower(s: string): boolean {
  return /\p{Ll}|\p{Lu}|\p{Lt}/u.test(s) && s === s.toLowerCase() && s !== s.toUpperCase();
}

function isUpper(s: string): boolean {
  return /\p{Ll}|\p{Lu}|\p{Lt}/u.test(s) && s === s.toUpperCase() && s !== s.toLowerCase();
}

function sameAs(a: PyValue, b: PyValue): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
  return a === b;
}

function isSequence(v: PyValue): boolean {
  try {
    pyLen(v);
  } catch (e) {
    if (e instanceof PyError) return false;
    throw e;
  }
  return (
    typeof v === 'string' ||
    Array.isArray(v) ||
    v instanceof PyTuple ||
    v instanceof PyDict ||
    v instanceof PyRange ||
    v instanceof PyBytes ||
    v instanceof PyMarkup ||
    v instanceof PyUndefined
  );
}

function isIterable(v: PyValue): boolean {
  try {
    pyIter(v);
    return true;
  } catch (e) {
    if (e instanceof PyError && e.pyType === 'TypeError') return false;
    throw e;
  }
}

const eq: TestFn = (_c, v, a) => pyEquals(v, one('eq', a));
const ne: TestFn = (_c, v, a) => !pyEquals(v, one('ne', a));
const gt: TestFn = (_c, v, a) => compare(v, one('gt', a), '>') > 0;
const ge: TestFn = (_c, v, a) => compare(v, one('ge', a), '>=') >= 0;
const lt: TestFn = (_c, v, a) => compare(v, one('lt', a), '<') < 0;
const le: TestFn = (_c, v, a) => compare(v, one('le', a), '<=') <= 0;

export const BUILTIN_TESTS: Record<string, TestFn> = {
  odd: (_c, v) => pyEquals(mod(v, 2n, percentFormat), 1n),
  even: (_c, v) => pyEquals(mod(v, 2n, percentFormat), 0n),
  divisibleby: (_c, v, a) => pyEquals(mod(v, one('divisibleby', a), percentFormat), 0n),
  defined: (_c, v) => !(v instanceof PyUndefined),
  undefined: (_c, v) => v instanceof PyUndefined,
  filter: (c, v) => typeof v === 'string' && c.filter(v) !== undefined,
  test: (c, v) => typeof v === 'string' && c.test(v) !== undefined,
  none: (_c, v) => v === null,
  boolean: (_c, v) => typeof v === 'boolean',
  false: (_c, v) => v === false,
  true: (_c, v) => v === true,
  integer: (_c, v) => typeof v === 'bigint',
  float: (_c, v) => typeof v === 'number',
  lower: (_c, v) => isLower(pyStr(v)),
  upper: (_c, v) => isUpper(pyStr(v)),
  string: (_c, v) => typeof v === 'string' || v instanceof PyMarkup,
  mapping: (_c, v) => v instanceof PyDict,
  number: (_c, v) => typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean',
  sequence: (_c, v) => isSequence(v),
  iterable: (_c, v) => isIterable(v),
  callable: (_c, v) => isCallable(v) || v instanceof PyUndefined,
  sameas: (_c, v, a) => sameAs(v, one('sameas', a)),
  escaped: (_c, v) => v instanceof PyMarkup,
  in: (_c, v, a) => contains(one('in', a), v),
  '==': eq,
  eq,
  equalto: eq,
  '!=': ne,
  ne,
  '>': gt,
  gt,
  greaterthan: gt,
  ge,
  '>=': ge,
  '<': lt,
  lt,
  lessthan: lt,
  '<=': le,
  le,
};

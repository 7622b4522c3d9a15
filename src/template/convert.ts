/** Conversions between plain JavaScript values and the Python value model. */
import { PyNumber } from '../core/python-value.ts';
import {
  PyBytes,
  PyDict,
  PyFunction,
  PyMarkup,
  PyObject,
  PySet,
  PyTuple,
  PyUndefined,
  pyStr,
  type PyValue,
} from './values.ts';

/** core's PyNumber (a JSON number with its source): a float keeps its float-ness, an int stays exact. */
function fromPyNumber(value: PyNumber): PyValue {
  return value.isFloat ? value.value : BigInt(value.source);
}

/**
 * JSON-ish JavaScript → Python: integral numbers → int, other numbers → float, bigint → int,
 * strings, booleans, null/undefined → None, arrays → list, Map/plain objects → dict (insertion order),
 * Set → set, Buffer → bytes, functions → callables (receiving converted positional arguments), core's
 * `PyNumber` (JSON number with its source) → float or int. PyObject values (already Python) pass
 * through unchanged.
 */
export function fromJs(value: unknown): PyValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return value;
    case 'number':
      return Number.isInteger(value) ? BigInt(value) : value;
    case 'undefined':
      return null;
    case 'function': {
      const f = value as (...args: unknown[]) => unknown;
      return new PyFunction(f.name || 'function', (args) => fromJs(f(...args.map((a) => toJs(a)))));
    }
    default:
      break;
  }
  if (value === null) return null;
  if (value instanceof PyObject) return value;
  if (Array.isArray(value)) return value.map(fromJs);
  if (Buffer.isBuffer(value)) return new PyBytes(value);
  if (value instanceof Map) {
    const d = new PyDict();
    for (const [k, v] of value) d.set(fromJs(k), fromJs(v));
    return d;
  }
  if (value instanceof Set) return new PySet([...value].map(fromJs));
  if (value instanceof PyNumber) return fromPyNumber(value);
  if (typeof value === 'object') {
    const d = new PyDict();
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) d.set(k, fromJs(v));
    return d;
  }
  return typeof value === 'symbol' ? value.toString() : null;
}

/**
 * Python → JavaScript: int → number (bigint when beyond 2^53), float → number, tuple/list → array,
 * dict → plain object (keys through str()), set → array, Markup → string, bytes → Buffer,
 * Undefined → undefined. Other objects (callables, modules…) are returned as they are.
 */
export function toJs(value: PyValue): unknown {
  const convert = (v: PyValue): unknown => toJs(v);
  switch (typeof value) {
    case 'bigint':
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value;
    case 'number':
    case 'string':
    case 'boolean':
      return value;
    default:
      break;
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(convert);
  if (value instanceof PyTuple) return value.items.map(convert);
  if (value instanceof PyDict) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value.entries()) out[typeof k === 'string' ? k : pyStr(k)] = convert(v);
    return out;
  }
  if (value instanceof PySet) return [...value.values()].map(convert);
  if (value instanceof PyMarkup) return value.value;
  if (value instanceof PyBytes) return value.data;
  if (value instanceof PyUndefined) return undefined;
  return value;
}

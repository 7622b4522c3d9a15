/**
 * Values crossing between the master (JSON) and buildout options (Python values, `!py!`), and the
 * json-in-xml convention of SlapOS: all parameters as one `_` parameter holding JSON text.
 */
import { SlapError } from '../../../core/errors.ts';
import { PyNumber, parsePythonJson } from '../../../core/python-value.ts';
import {
  PyFloat,
  PyTuple,
  isPlainDict,
  pyFloat,
  pyFloatRepr,
  type PyDict,
  type PyValue,
} from '../../py-value.ts';
import { jsonString } from '../../../template/index.ts';

/** The key of json-in-xml parameters. */
export const SERIALISED_KEY = '_';

/** Sets a dict entry as an own property, whatever the key (`__proto__` included). */
export function setEntry<T>(dict: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A JSON value as a Python value (objects → dicts, integral numbers → ints; PyNumbers from
 * `parsePythonJson` keep Python's type: `2.0` stays a float, big integers exact).
 */
export function jsonToPy(value: unknown): PyValue {
  if (value === null || value === undefined) return null;
  if (value instanceof PyNumber) return value.isFloat ? pyFloat(value.value) : BigInt(value.source);
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return value;
  if (Array.isArray(value)) return value.map(jsonToPy);
  if (typeof value === 'object') {
    const dict: PyDict = {};
    for (const [key, item] of Object.entries(value)) setEntry(dict, key, jsonToPy(item));
    return dict;
  }
  return null;
}

export interface PyToJsonOptions {
  /**
   * Keep integral floats as PyFloat and big integers as bigint, for `pythonJsonDumps` (which
   * writes them as Python's json.dumps does); by default they become plain numbers.
   */
  pythonNumbers?: boolean;
}

/** A Python value as JSON (tuples → arrays, as json.dumps does); sets and non-string keys are refused. */
export function pyToJson(value: PyValue, where: string, options: PyToJsonOptions = {}): unknown {
  if (value instanceof PyFloat) return options.pythonNumbers ? value : value.value;
  if (value === null || typeof value !== 'object')
    return typeof value === 'bigint' && !options.pythonNumbers ? Number(value) : value;
  if (Array.isArray(value)) return value.map((item) => pyToJson(item, where, options));
  if (value instanceof PyTuple) return value.items.map((item) => pyToJson(item, where, options));
  if (value instanceof Set)
    throw new SlapError('SLAP_ERR_PROFILE', `${where}: a set is not JSON serialisable`);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) {
      if (typeof key !== 'string')
        throw new SlapError(
          'SLAP_ERR_PROFILE',
          `${where}: a dict key is not a string (not JSON serialisable)`,
        );
      setEntry(out, key, pyToJson(item, where, options));
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) setEntry(out, key, pyToJson(item, where, options));
  return out;
}

/** Python's `json.dumps(value)` text (default separators, ASCII only, keys in insertion order). */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value.toFixed(0);
    return Number.isFinite(value)
      ? pyFloatRepr(value)
      : Number.isNaN(value)
        ? 'NaN'
        : value > 0
          ? 'Infinity'
          : '-Infinity';
  }
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  if (typeof value === 'string') return jsonString(value, true);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([key, item]) => `${jsonString(key, true)}: ${pythonJsonDumps(item)}`).join(', ')}}`;
}

/** json-in-xml: the parameters as `{_: json}`. */
export function wrapSerialised(value: unknown): Record<string, string> {
  return { [SERIALISED_KEY]: pythonJsonDumps(value) };
}

/** The parameters behind `_` if they are json-in-xml, else as they are (librecipe's `unwrap`). */
export function unwrapSerialised(parameters: PyValue, where: string): PyValue {
  if (!isPlainDict(parameters) || !(SERIALISED_KEY in parameters)) return parameters;
  const text = parameters[SERIALISED_KEY];
  if (typeof text !== 'string') return parameters;
  try {
    return jsonToPy(parsePythonJson(text));
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `${where}: the "_" parameter is not valid JSON (${(error as Error).message})`,
    );
  }
}

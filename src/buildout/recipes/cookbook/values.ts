/**
 * Values crossing between the master (JSON) and buildout options (Python values, `!py!`), and the
 * json-in-xml convention of SlapOS: all parameters as one `_` parameter holding JSON text.
 */
import { SlapError } from '../../../core/errors.ts';
import { jsonDumps, jsonLoads } from '../../../template/index.ts';
import { PyDict, PyError, PySet, PyTuple, type PyValue } from '../../../template/values.ts';

/** The key of json-in-xml parameters. */
export const SERIALISED_KEY = '_';

/** Sets a dict entry as an own property, whatever the key (`__proto__` included). */
export function setEntry<T>(dict: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(dict, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A Python value as JSON for JavaScript (tuples → arrays, as json.dumps does; ints beyond 2^53 stay
 * bigint); sets and non-string keys are refused.
 */
export function pyToJson(value: PyValue, where: string): unknown {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' && Number.isSafeInteger(Number(value)) ? Number(value) : value;
  }
  if (Array.isArray(value)) return value.map((item) => pyToJson(item, where));
  if (value instanceof PyTuple) return value.items.map((item) => pyToJson(item, where));
  if (value instanceof PySet)
    throw new SlapError('SLAP_ERR_PROFILE', `${where}: a set is not JSON serialisable`);
  if (value instanceof PyDict) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of value.entries()) {
      if (typeof key !== 'string')
        throw new SlapError(
          'SLAP_ERR_PROFILE',
          `${where}: a dict key is not a string (not JSON serialisable)`,
        );
      setEntry(out, key, pyToJson(item, where));
    }
    return out;
  }
  throw new SlapError('SLAP_ERR_PROFILE', `${where}: a ${value.typeName} is not JSON serialisable`);
}

/** json-in-xml: the parameters as `{_: json}`, the text Python's `json.dumps` writes. */
export function wrapSerialised(value: PyValue, where: string): Record<string, string> {
  try {
    return { [SERIALISED_KEY]: jsonDumps(value) };
  } catch (error) {
    if (!(error instanceof PyError)) throw error;
    throw new SlapError('SLAP_ERR_PROFILE', `${where}: ${error.message}`);
  }
}

/** The parameters behind `_` if they are json-in-xml, else as they are (librecipe's `unwrap`). */
export function unwrapSerialised(parameters: PyValue, where: string): PyValue {
  const text = parameters instanceof PyDict ? parameters.get(SERIALISED_KEY) : undefined;
  if (typeof text !== 'string') return parameters;
  try {
    return jsonLoads(text);
  } catch (error) {
    if (!(error instanceof PyError)) throw error;
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `${where}: the "_" parameter is not valid JSON (${error.message})`,
    );
  }
}

/**
 * Python values on the bridge's wire (runner-source.ts has the Python half): JSON with tags for
 * what JSON lacks. str, None, bool and list are plain JSON; `{"i":"12"}` an int (digits, any size),
 * `{"f":1.5}` a float (`{"f":"inf"}`, `"-inf"`, `"nan"` for the non-finite ones), `{"t":[…]}` a
 * tuple, `{"s":[…]}` a set, `{"d":[[key,value]…]}` a dict. Values are py-value.ts's model.
 */
import { PyDict, PySet, PyTuple, pyTypeName, type PyValue } from '../py-value.ts';

export type Wire = null | boolean | string | Wire[] | { [tag: string]: unknown };

const NON_FINITE: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };

export function encode(value: PyValue): Wire {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'bigint') return { i: value.toString() };
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return { f: value };
    return { f: Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf' };
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value instanceof PyTuple && pyTypeName(value) === 'tuple') return { t: value.items.map(encode) };
  if (value instanceof PySet) return { s: [...value.values()].map(encode) };
  if (value instanceof PyDict) return { d: [...value.entries()].map(([k, v]) => [encode(k), encode(v)]) };
  throw invalid(`a ${pyTypeName(value)} cannot cross the bridge`);
}

function invalid(what: string): Error {
  return new TypeError(`invalid value on the Python bridge: ${what}`);
}

export function decode(wire: unknown): PyValue {
  if (wire === null || typeof wire === 'boolean' || typeof wire === 'string') return wire;
  if (Array.isArray(wire)) return wire.map(decode);
  if (typeof wire !== 'object') throw invalid(typeof wire);
  const tagged = wire as Record<string, unknown>;
  if ('i' in tagged) {
    const digits = tagged.i;
    if (typeof digits !== 'string' || !/^-?\d+$/.test(digits)) throw invalid('int');
    return BigInt(digits);
  }
  if ('f' in tagged) {
    const f = tagged.f;
    if (typeof f === 'number') return f;
    if (typeof f === 'string' && f in NON_FINITE) return NON_FINITE[f] as number;
    throw invalid('float');
  }
  if ('t' in tagged && Array.isArray(tagged.t)) return new PyTuple(tagged.t.map(decode));
  if ('s' in tagged && Array.isArray(tagged.s)) return new PySet(tagged.s.map(decode));
  if ('d' in tagged && Array.isArray(tagged.d)) {
    const pairs = tagged.d.map((pair): [PyValue, PyValue] => {
      if (!Array.isArray(pair) || pair.length !== 2) throw invalid('dict item');
      return [decode(pair[0]), decode(pair[1])];
    });
    return PyDict.from(pairs);
  }
  throw invalid('unknown tag');
}

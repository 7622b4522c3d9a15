/**
 * Python values on the bridge's wire (runner-source.ts has the Python half): JSON with tags for
 * what JSON lacks. str, None, bool and list are plain JSON; `{"i":"12"}` an int (digits, any size),
 * `{"f":1.5}` a float (`{"f":"inf"}`, `"-inf"`, `"nan"` for the non-finite ones), `{"t":[…]}` a
 * tuple, `{"s":[…]}` a set, `{"d":[[key,value]…]}` a dict. Values are py-value.ts's model.
 */
import { PyFloat, PyTuple, pyFloat, type PyValue } from '../py-value.ts';

export type Wire = null | boolean | string | Wire[] | { [tag: string]: unknown };

const NON_FINITE: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };

export function encode(value: PyValue): Wire {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'bigint') return { i: value.toString() };
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return { i: value.toFixed(0) };
    if (Number.isFinite(value)) return { f: value };
    return { f: Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf' };
  }
  if (value instanceof PyFloat) return { f: value.value };
  if (Array.isArray(value)) return value.map(encode);
  if (value instanceof PyTuple) return { t: value.items.map(encode) };
  if (value instanceof Set) return { s: [...value].map(encode) };
  const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
  return { d: entries.map(([k, v]) => [encode(k), encode(v)]) };
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
    const big = BigInt(digits);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big)
      : big;
  }
  if ('f' in tagged) {
    const f = tagged.f;
    if (typeof f === 'number') return pyFloat(f);
    if (typeof f === 'string' && f in NON_FINITE) return NON_FINITE[f] as number;
    throw invalid('float');
  }
  if ('t' in tagged && Array.isArray(tagged.t)) return new PyTuple(tagged.t.map(decode));
  if ('s' in tagged && Array.isArray(tagged.s)) return new Set(tagged.s.map(decode));
  if ('d' in tagged && Array.isArray(tagged.d)) {
    const pairs = tagged.d.map((pair): [PyValue, PyValue] => {
      if (!Array.isArray(pair) || pair.length !== 2) throw invalid('dict item');
      return [decode(pair[0]), decode(pair[1])];
    });
    if (pairs.every(([k]) => typeof k === 'string')) {
      const dict = Object.create(null) as Record<string, PyValue>;
      for (const [k, v] of pairs) dict[k as string] = v;
      return dict;
    }
    return new Map(pairs);
  }
  throw invalid('unknown tag');
}

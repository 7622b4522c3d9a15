/** Argument binding for functions implemented in TypeScript (builtins, methods, filters). */
import {
  MISSING,
  PyUndefined,
  typeError,
  typeName,
  type Kwargs,
  type Missing,
  type PyValue,
} from './values.ts';

/**
 * Binds call arguments to parameter names, Python style. `params` lists the parameter names in
 * order; a name prefixed with `*` collects the remaining positional arguments (returned as a JS array
 * in that slot). Absent arguments are MISSING.
 */
export function bindArgs(
  fname: string,
  params: readonly string[],
  args: readonly PyValue[],
  kwargs: Kwargs | null,
): (PyValue | Missing)[] {
  const out: (PyValue | Missing)[] = new Array<PyValue | Missing>(params.length).fill(MISSING);
  let positional = params.length;
  const star = params.findIndex((p) => p.startsWith('*'));
  if (star >= 0) positional = star;
  if (args.length > positional && star < 0) {
    throw typeError(
      `${fname}() takes at most ${positional} argument${positional === 1 ? '' : 's'} (${args.length} given)`,
    );
  }
  for (let i = 0; i < Math.min(args.length, positional); i++) out[i] = args[i] as PyValue;
  if (star >= 0) out[star] = args.slice(positional);
  if (kwargs) {
    for (const [name, value] of kwargs) {
      const idx = params.indexOf(name);
      if (idx < 0 || idx === star) throw typeError(`${fname}() got an unexpected keyword argument '${name}'`);
      if (out[idx] !== MISSING) throw typeError(`${fname}() got multiple values for argument '${name}'`);
      out[idx] = value;
    }
  }
  return out;
}

/** Positional-only argument at `index`, or `dflt` when absent. */
export function arg(args: readonly PyValue[], index: number, dflt: PyValue): PyValue {
  return index < args.length ? args[index]! : dflt;
}

export function noKwargs(fname: string, kwargs: Kwargs | null): void {
  if (kwargs && kwargs.size > 0) throw typeError(`${fname}() takes no keyword arguments`);
}

export function argCount(fname: string, args: readonly PyValue[], min: number, max: number): void {
  if (args.length < min) {
    throw typeError(
      min === max
        ? `${fname}() takes exactly ${min} argument${min === 1 ? '' : 's'} (${args.length} given)`
        : `${fname}() takes at least ${min} argument${min === 1 ? '' : 's'} (${args.length} given)`,
    );
  }
  if (args.length > max) {
    throw typeError(`${fname}() takes at most ${max} argument${max === 1 ? '' : 's'} (${args.length} given)`);
  }
}

/** An int argument (bool accepted, Undefined fails). */
export function intArg(fname: string, v: PyValue): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (v instanceof PyUndefined) v.fail();
  throw typeError(`'${typeName(v)}' object cannot be interpreted as an integer`);
}

export function optional<T extends PyValue>(v: PyValue | Missing, dflt: T): PyValue {
  return v === MISSING ? dflt : v;
}

/** Building blocks of the Python module stand-ins (module-*.ts). */
import { bindArgs } from './args.ts';
import {
  MISSING,
  PyFunction,
  PyMarkup,
  PyModule,
  PyUndefined,
  typeError,
  typeName,
  type Kwargs,
  type Missing,
  type PyValue,
} from './values.ts';

export function fn(name: string, impl: PyFunction['fn']): PyFunction {
  return new PyFunction(name, impl);
}

/** A stand-in module: a missing attribute is an error naming the module and the attribute. */
export function stubModule(name: string, entries: Iterable<[string, PyValue]>): PyModule {
  return new PyModule(name, new Map(entries), true);
}

/** A str argument (Markup accepted, Undefined fails) or a TypeError with `message(type)`. */
export function strOf(v: PyValue, message: (type: string) => string): string {
  if (typeof v === 'string') return v;
  if (v instanceof PyMarkup) return v.value;
  if (v instanceof PyUndefined) v.fail();
  throw typeError(message(typeName(v)));
}

/** Binds arguments and fails on missing required ones (the first `required` parameters). */
export function bindRequired(
  fname: string,
  params: readonly string[],
  required: number,
  args: readonly PyValue[],
  kwargs: Kwargs | null,
): (PyValue | Missing)[] {
  const bound = bindArgs(fname, params, args, kwargs);
  const missing = params.slice(0, required).filter((_, i) => bound[i] === MISSING);
  if (missing.length) {
    const names = missing.map((n) => `'${n}'`);
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
    throw typeError(
      `${fname}() missing ${missing.length} required positional argument${missing.length === 1 ? '' : 's'}: ${list}`,
    );
  }
  return bound;
}

/** A bound argument known to be present (required, or checked against MISSING before). */
export function req(v: PyValue | Missing | undefined): PyValue {
  if (v === MISSING || v === undefined) throw typeError('missing argument');
  return v;
}

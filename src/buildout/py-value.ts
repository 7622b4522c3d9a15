/**
 * Python values as buildout stores them: option values set by recipes may be objects, written into
 * the profile as `!py!` + a Python literal (the SlapOS buildout fork's serialisation) and read back
 * as objects. The values are those of the project's one Python value model, src/template/values.ts
 * (re-exported here): None → null, bool → boolean, int → bigint, float → number, str → string,
 * list → array, tuple → PyTuple, dict → PyDict (insertion order), set → PySet, frozenset →
 * PyFrozenSet. So a value keeps its Python type whether it crosses into a Jinja2 context, a `!py!`
 * option or back. This module holds the `!py!` encoding; the literal is evaluated by `py-expr.ts`.
 */
import { SlapError } from '../core/errors.ts';
import { compare } from '../template/ops.ts';
import { pythonBuiltins } from '../template/builtins.ts';
import { PyDict, PyError, PySet, PyTuple, pyReprSorted, typeName, type PyValue } from '../template/values.ts';
import { PyExprError, evaluate, parseExpression, type Globals } from './py-expr.ts';

export {
  PyDict,
  PyFrozenSet,
  PySet,
  PyTuple,
  pyEquals,
  pyRepr,
  pyStr,
  truthy as pyTruthy,
  typeName as pyTypeName,
  type PyValue,
} from '../template/values.ts';
export { fromJs, toJs } from '../template/convert.ts';
// Python's repr() of str and float: the project's one implementation, re-exported for recipes.
export { pyFloatRepr, pyStrRepr } from '../core/python-value.ts';

/** The prefix of serialised option values (`!py!` + literal; `!pyVERSION!` is reserved for other serialisers). */
export const SERIALISED_PREFIX = '!py!';
const SERIALISED_RE = /^!py([^!]*)!/;

/** True if an option value is a serialised object (`!py…`). */
export function isSerialised(text: string): boolean {
  return text.startsWith('!py');
}

/** Splits `!pyVERSION!body` into its version and body, or undefined for a plain string. */
export function splitSerialised(text: string): { version: string; body: string } | undefined {
  const match = SERIALISED_RE.exec(text);
  if (!match) return undefined;
  return { version: match[1] ?? '', body: text.slice(match[0].length) };
}

/**
 * pprint's `_safe_key` order: Python's `<`, and values Python cannot order by their type's name
 * (`<class 'int'>` before `<class 'str'>`).
 */
function safeOrder(a: PyValue, b: PyValue): number {
  try {
    return compare(a, b, '<') || 0;
  } catch (error) {
    if (!(error instanceof PyError) || error.pyType !== 'TypeError') throw error;
    const ta = typeName(a);
    const tb = typeName(b);
    return ta < tb ? -1 : ta > tb ? 1 : 0;
  }
}

/**
 * `pprint.pformat(value, width=sys.maxsize)`, the text the fork serialises: a repr on one line with
 * dict items sorted by key. Sets are sorted too, so that equal sets always give the same text
 * (Python prints them in hash order, which varies between processes for strings).
 */
export function pyPformat(value: PyValue): string {
  return pyReprSorted(value, safeOrder);
}

const DATA_TYPES = new Set(['tuple', 'dict', 'set', 'frozenset']);

/**
 * The first value inside `value` that is not data of the model (str, int, float, bool, None, list,
 * tuple, dict, set, frozenset), or undefined: what a `!py!` literal may hold. A container that
 * contains itself is not data either (its repr `[[...]]` is no literal).
 */
function notData(value: PyValue, open = new Set<object>()): PyValue | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (open.has(value)) return value;
  let items: Iterable<PyValue>;
  if (Array.isArray(value)) items = value;
  else if (!DATA_TYPES.has(value.typeName)) return value;
  else if (value instanceof PyTuple) items = value.items;
  else if (value instanceof PyDict) items = [...value.keys(), ...value.values()];
  else if (value instanceof PySet) items = value.values();
  else return value;
  open.add(value);
  for (const item of items) {
    const found = notData(item, open);
    if (found !== undefined) return found;
  }
  open.delete(value);
  return undefined;
}

/**
 * The `!py!` text of a value, as the fork's `dumps()` writes it: the pformat text with `$` and `;`
 * written as `\x24` and `\x3b`, so that the text survives buildout substitution and comment rules.
 * Throws a PyError (TypeError) for values that are not data (functions, modules, bytes, Markup…).
 */
export function serialise(value: PyValue): string {
  const foreign = notData(value);
  if (foreign !== undefined) {
    throw new PyError('TypeError', `cannot serialise a ${typeName(foreign)} object as a !py! value`);
  }
  return SERIALISED_PREFIX + pyPformat(value).replaceAll('$', '\\x24').replaceAll(';', '\\x3b');
}

/** The names `!py!` literals may use (the fork's safe globals that this engine provides). */
const SERIALISED_GLOBALS: Globals = (() => {
  const builtins = pythonBuiltins();
  const names = ['set', 'frozenset', 'dict', 'list', 'tuple', 'str'];
  return Object.freeze(Object.fromEntries(names.map((name) => [name, builtins.get(name) ?? null])));
})();

/** Reads a `!py!` serialised value (plain text is returned as it is); `what` names the option in errors. */
export function deserialise(text: string, what: string): PyValue {
  const split = splitSerialised(text);
  if (!split) return text;
  if (split.version !== '') {
    throw new SlapError(
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      `${what}: unknown serialisation "!py${split.version}!"`,
    );
  }
  let result: PyValue;
  try {
    result = evaluate(parseExpression(split.body), SERIALISED_GLOBALS);
  } catch (error) {
    if (error instanceof PyExprError) {
      throw new SlapError(
        'SLAP_ERR_RECIPE_UNSUPPORTED',
        `${what}: the !py! value is Python code this engine does not run (${error.message})`,
        {
          hint: 'Only Python literals (str, int, float, bool, None, list, tuple, dict, set) with + and slicing are supported.',
        },
      );
    }
    throw error;
  }
  if (notData(result) !== undefined) {
    throw new SlapError(
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      `${what}: a !py! value must be data (str, int, float, bool, None, list, tuple, dict, set), not a ${typeName(result)}`,
    );
  }
  return result;
}

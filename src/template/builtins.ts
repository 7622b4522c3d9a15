/**
 * Jinja2's default globals (`range`, `dict`, `namespace`, `cycler`, `joiner`, `lipsum`) and the Python
 * builtins that `slapos.recipe.template:jinja2` passes in every render context (`len`, `str`, `int`,
 * `sorted`, `enumerate`…, its `DEFAULT_CONTEXT`).
 */
import { urllibModule } from './module-urllib.ts';
import { argCount, bindArgs, intArg, noKwargs } from './args.ts';
import { callValue, dictUpdate, sortValues } from './attributes.ts';
import { asciiRepr, formatValue } from './format.ts';
import { parseFloatLiteral, parseIntLiteral, roundFloatToInt } from './numbers.ts';
import { abs, add, floordiv, lessThan, mod, pow, toFloat, toInt } from './ops.ts';
import { pyRound } from './filters.ts';
import type { PyFunction } from './values.ts';
import {
  MISSING,
  PyBytes,
  PyDict,
  PyError,
  PyFrozenSet,
  PyIterator,
  PyMarkup,
  PyModule,
  PyNamespace,
  PyObject,
  PyRange,
  PySet,
  PyTuple,
  PyType,
  PyUndefined,
  isCallable,
  iterable,
  pyIter,
  pyLen,
  pyRepr,
  pyStr,
  strLen,
  toList,
  truthy,
  typeError,
  typeName,
  valueError,
  type Kwargs,
  type PyValue,
} from './values.ts';
import { fn } from './module-helpers.ts';

function range(args: PyValue[], kwargs: Kwargs | null): PyValue {
  noKwargs('range', kwargs);
  argCount('range', args, 1, 3);
  const n = args.map((a) => intArg('range', a));
  const [start, stop, step] = n.length === 1 ? [0n, n[0]!, 1n] : [n[0]!, n[1]!, n[2] ?? 1n];
  if (step === 0n) throw valueError('range() arg 3 must not be zero');
  return new PyRange(start, stop, step);
}

function makeDict(args: PyValue[], kwargs: Kwargs | null): PyDict {
  argCount('dict', args, 0, 1);
  const d = new PyDict();
  dictUpdate(d, args.length ? args[0]! : MISSING, kwargs);
  return d;
}

class Cycler extends PyObject {
  private pos = 0;
  constructor(private readonly items: PyValue[]) {
    super();
  }
  get typeName(): string {
    return 'Cycler';
  }
  override get typeModule(): string {
    return 'jinja2.utils';
  }
  override getAttr(name: string): PyValue | typeof MISSING {
    switch (name) {
      case 'current':
        return this.items[this.pos]!;
      case 'next':
        return fn('next', () => {
          const v = this.items[this.pos]!;
          this.pos = (this.pos + 1) % this.items.length;
          return v;
        });
      case 'reset':
        return fn('reset', () => {
          this.pos = 0;
          return null;
        });
      default:
        return MISSING;
    }
  }
}

class Joiner extends PyObject {
  private used = false;
  constructor(private readonly sep: string) {
    super();
  }
  get typeName(): string {
    return 'Joiner';
  }
  override get typeModule(): string {
    return 'jinja2.utils';
  }
  pyCall(): PyValue {
    if (!this.used) {
      this.used = true;
      return '';
    }
    return this.sep;
  }
}

/** Jinja2's default global namespace. */
export function jinjaGlobals(): Map<string, PyValue> {
  return new Map<string, PyValue>([
    ['range', fn('range', range)],
    ['dict', new PyType('dict', makeDict, (v) => v instanceof PyDict)],
    [
      'namespace',
      fn('namespace', (args, kwargs) => {
        const ns = new PyNamespace();
        const d = makeDict(args, kwargs);
        for (const [k, v] of d.entries()) ns.attrs.set(pyStr(k), v);
        return ns;
      }),
    ],
    [
      'cycler',
      fn('cycler', (args) => {
        if (!args.length) throw new PyError('RuntimeError', 'at least one item has to be provided');
        return new Cycler(args);
      }),
    ],
    [
      'joiner',
      fn('joiner', (args, kwargs) => {
        const [sep = MISSING] = bindArgs('joiner', ['sep'], args, kwargs);
        return new Joiner(sep === MISSING ? ', ' : pyStr(sep));
      }),
    ],
    [
      'lipsum',
      fn('lipsum', () => {
        throw new PyError(
          'TemplateRuntimeError',
          "the 'lipsum' global is not supported by this template engine",
        );
      }),
    ],
  ]);
}

// ---------------------------------------------------------------------------------------------
// Python builtins.

function one(name: string, args: PyValue[], kwargs: Kwargs | null): PyValue {
  noKwargs(name, kwargs);
  argCount(name, args, 1, 1);
  return args[0]!;
}

function iter(kind: string, it: Iterator<PyValue>): PyIterator {
  return new PyIterator(it, kind);
}

function minMax(name: string, wantMax: boolean, args: PyValue[], kwargs: Kwargs | null): PyValue {
  const kw = new Map(kwargs ?? []);
  const key = kw.get('key') ?? null;
  const dflt = kw.get('default');
  kw.delete('key');
  kw.delete('default');
  if (kw.size) throw typeError(`'${kw.keys().next().value!}' is an invalid keyword argument for ${name}()`);
  if (args.length === 0) throw typeError(`${name} expected at least 1 argument, got 0`);
  const items = args.length === 1 ? Array.from(iterable(args[0]!)) : args;
  if (items.length === 0) {
    if (dflt !== undefined) return dflt;
    throw valueError(`${name}() arg is an empty sequence`);
  }
  const k = (v: PyValue): PyValue => (key === null ? v : callValue(key, [v]));
  let best = items[0] as PyValue;
  let bestKey = k(best);
  for (let i = 1; i < items.length; i++) {
    const item = items[i] as PyValue;
    const ik = k(item);
    if (wantMax ? lessThan(bestKey, ik) : lessThan(ik, bestKey)) {
      best = item;
      bestKey = ik;
    }
  }
  return best;
}

function isInstance(obj: PyValue, cls: PyValue): boolean {
  if (cls instanceof PyTuple) return cls.items.some((c) => isInstance(obj, c));
  if (cls instanceof PyType) return cls.check(obj);
  throw typeError('isinstance() arg 2 must be a type, a tuple of types, or a union');
}

function intBuiltin(args: PyValue[], kwargs: Kwargs | null): PyValue {
  const [x = MISSING, base = MISSING] = bindArgs('int', ['x', 'base'], args, kwargs);
  if (x === MISSING) return 0n;
  if (base !== MISSING) {
    if (typeof x !== 'string' && !(x instanceof PyMarkup))
      throw typeError("int() can't convert non-string with explicit base");
    const b = Number(intArg('int', base));
    const r = parseIntLiteral(pyStr(x), b);
    if (r === null) throw valueError(`invalid literal for int() with base ${b}: ${pyRepr(pyStr(x))}`);
    return r;
  }
  return toInt(x, (s) => parseIntLiteral(s, 10));
}

function strBuiltin(args: PyValue[], kwargs: Kwargs | null): PyValue {
  const [obj = MISSING, encoding = MISSING] = bindArgs('str', ['object', 'encoding', 'errors'], args, kwargs);
  if (obj === MISSING) return '';
  if (encoding !== MISSING && obj instanceof PyBytes) return obj.data.toString('utf8');
  if (obj instanceof PyMarkup) return obj.value;
  return pyStr(obj);
}

function roundBuiltin(args: PyValue[], kwargs: Kwargs | null): PyValue {
  const [x = MISSING, n = MISSING] = bindArgs('round', ['number', 'ndigits'], args, kwargs);
  if (x === MISSING) throw typeError("round() missing required argument 'number' (pos 1)");
  if (n === MISSING || n === null) {
    if (typeof x === 'number') return roundFloatToInt(x);
    if (typeof x === 'bigint') return x;
    if (typeof x === 'boolean') return x ? 1n : 0n;
    throw typeError(`type ${typeName(x)} doesn't define __round__ method`);
  }
  return pyRound(x, intArg('round', n));
}

function radix(name: string, base: number, prefix: string): PyFunction {
  return fn(name, (args, kwargs) => {
    const i = intArg(name, one(name, args, kwargs));
    return (i < 0n ? '-' : '') + prefix + (i < 0n ? -i : i).toString(base);
  });
}

const strType = new PyType('str', strBuiltin, (v) => typeof v === 'string' || v instanceof PyMarkup);
const intType = new PyType('int', intBuiltin, (v) => typeof v === 'bigint' || typeof v === 'boolean');
const floatType = new PyType(
  'float',
  (args, kwargs) => {
    const [x = MISSING] = bindArgs('float', ['x'], args, kwargs);
    return x === MISSING ? 0 : toFloat(x, parseFloatLiteral);
  },
  (v) => typeof v === 'number',
);
const boolType = new PyType(
  'bool',
  (args, kwargs) => {
    noKwargs('bool', kwargs);
    argCount('bool', args, 0, 1);
    return args.length ? truthy(args[0]!) : false;
  },
  (v) => typeof v === 'boolean',
);
const listType = new PyType(
  'list',
  (args, kwargs) => {
    noKwargs('list', kwargs);
    argCount('list', args, 0, 1);
    return args.length ? toList(args[0]!) : [];
  },
  (v) => Array.isArray(v),
);
const tupleType = new PyType(
  'tuple',
  (args, kwargs) => {
    noKwargs('tuple', kwargs);
    argCount('tuple', args, 0, 1);
    const v = args[0];
    if (v === undefined) return new PyTuple([]);
    return v instanceof PyTuple ? v : new PyTuple(toList(v));
  },
  (v) => v instanceof PyTuple,
);
const setType = new PyType(
  'set',
  (args, kwargs) => {
    noKwargs('set', kwargs);
    argCount('set', args, 0, 1);
    return new PySet(args.length ? iterable(args[0]!) : []);
  },
  (v) => v instanceof PySet && !(v instanceof PyFrozenSet),
);
const frozensetType = new PyType(
  'frozenset',
  (args, kwargs) => {
    noKwargs('frozenset', kwargs);
    argCount('frozenset', args, 0, 1);
    return new PyFrozenSet(args.length ? iterable(args[0]!) : []);
  },
  (v) => v instanceof PyFrozenSet,
);
const dictType = new PyType('dict', makeDict, (v) => v instanceof PyDict);
const bytesType = new PyType(
  'bytes',
  (args, kwargs) => {
    const [source = MISSING, encoding = MISSING] = bindArgs(
      'bytes',
      ['source', 'encoding', 'errors'],
      args,
      kwargs,
    );
    if (source === MISSING) return new PyBytes(Buffer.alloc(0));
    if (typeof source === 'string') {
      if (encoding === MISSING) throw typeError('string argument without an encoding');
      return new PyBytes(Buffer.from(source, 'utf8'));
    }
    if (typeof source === 'bigint') return new PyBytes(Buffer.alloc(Number(source)));
    return new PyBytes(Buffer.from(Array.from(iterable(source), (b) => Number(intArg('bytes', b)))));
  },
  (v) => v instanceof PyBytes,
);

/** The Python builtins slapos.recipe.template:jinja2 puts in every render context. */
export function pythonBuiltins(): Map<string, PyValue> {
  const entries: [string, PyValue][] = [
    ['abs', fn('abs', (a, k) => abs(one('abs', a, k)))],
    ['all', fn('all', (a, k) => Array.from(iterable(one('all', a, k))).every(truthy))],
    ['any', fn('any', (a, k) => Array.from(iterable(one('any', a, k))).some(truthy))],
    ['bin', radix('bin', 2, '0b')],
    ['bool', boolType],
    ['bytes', bytesType],
    ['callable', fn('callable', (a, k) => isCallable(one('callable', a, k)))],
    [
      'chr',
      fn('chr', (a, k) => {
        const i = intArg('chr', one('chr', a, k));
        if (i < 0n || i > 0x10ffffn) throw valueError('chr() arg not in range(0x110000)');
        return String.fromCodePoint(Number(i));
      }),
    ],
    [
      'complex',
      fn('complex', () => {
        throw new PyError(
          'TemplateRuntimeError',
          'complex numbers are not supported by this template engine',
        );
      }),
    ],
    ['dict', dictType],
    [
      'divmod',
      fn('divmod', (a, k) => {
        noKwargs('divmod', k);
        argCount('divmod', a, 2, 2);
        return new PyTuple([
          floordiv(a[0]!, a[1]!),
          mod(a[0]!, a[1]!, () => {
            throw typeError(
              `unsupported operand type(s) for divmod(): '${typeName(a[0]!)}' and '${typeName(a[1]!)}'`,
            );
          }),
        ]);
      }),
    ],
    [
      'enumerate',
      fn('enumerate', (a, k) => {
        const [it = MISSING, start = MISSING] = bindArgs('enumerate', ['iterable', 'start'], a, k);
        if (it === MISSING) throw typeError("enumerate() missing required argument 'iterable' (pos 1)");
        const source = pyIter(it);
        let i = start === MISSING ? 0n : intArg('enumerate', start);
        return iter(
          'enumerate',
          (function* () {
            for (let r = source.next(); !r.done; r = source.next()) yield new PyTuple([i++, r.value]);
          })(),
        );
      }),
    ],
    [
      'filter',
      fn('filter', (a, k) => {
        noKwargs('filter', k);
        argCount('filter', a, 2, 2);
        const f = a[0]!;
        const source = pyIter(a[1]!);
        return iter(
          'filter',
          (function* () {
            for (let r = source.next(); !r.done; r = source.next()) {
              if (truthy(f === null ? r.value : callValue(f, [r.value]))) yield r.value;
            }
          })(),
        );
      }),
    ],
    ['float', floatType],
    [
      'format',
      fn('format', (a, k) => {
        noKwargs('format', k);
        argCount('format', a, 1, 2);
        return formatValue(a[0]!, a.length > 1 ? pyStr(a[1]!) : '');
      }),
    ],
    ['frozenset', frozensetType],
    ['hex', radix('hex', 16, '0x')],
    [
      'isinstance',
      fn('isinstance', (a, k) => {
        noKwargs('isinstance', k);
        argCount('isinstance', a, 2, 2);
        return isInstance(a[0]!, a[1]!);
      }),
    ],
    ['int', intType],
    ['iter', fn('iter', (a, k) => iter(`${typeName(one('iter', a, k))}_iterator`, pyIter(a[0]!)))],
    ['len', fn('len', (a, k) => BigInt(pyLen(one('len', a, k))))],
    ['list', listType],
    [
      'map',
      fn('map', (a, k) => {
        noKwargs('map', k);
        if (a.length < 2) throw typeError('map() must have at least two arguments.');
        const f = a[0]!;
        const sources = a.slice(1).map(pyIter);
        return iter(
          'map',
          (function* () {
            for (;;) {
              const values: PyValue[] = [];
              for (const s of sources) {
                const r = s.next();
                if (r.done) return;
                values.push(r.value);
              }
              yield callValue(f, values);
            }
          })(),
        );
      }),
    ],
    ['max', fn('max', (a, k) => minMax('max', true, a, k))],
    ['min', fn('min', (a, k) => minMax('min', false, a, k))],
    [
      'next',
      fn('next', (a, k) => {
        noKwargs('next', k);
        argCount('next', a, 1, 2);
        const it = a[0]!;
        if (!(it instanceof PyIterator)) throw typeError(`'${typeName(it)}' object is not an iterator`);
        const v = it.next();
        if (v !== MISSING) return v;
        if (a.length > 1) return a[1]!;
        throw new PyError('StopIteration', '');
      }),
    ],
    ['oct', radix('oct', 8, '0o')],
    [
      'ord',
      fn('ord', (a, k) => {
        const c = one('ord', a, k);
        if (typeof c !== 'string' && !(c instanceof PyMarkup)) {
          throw typeError(`ord() expected string of length 1, but ${typeName(c)} found`);
        }
        const s = pyStr(c);
        if (strLen(s) !== 1)
          throw typeError(`ord() expected a character, but string of length ${strLen(s)} found`);
        return BigInt(s.codePointAt(0)!);
      }),
    ],
    [
      'pow',
      fn('pow', (a, k) => {
        const [base = MISSING, exp = MISSING, m = MISSING] = bindArgs('pow', ['base', 'exp', 'mod'], a, k);
        if (base === MISSING || exp === MISSING) throw typeError('pow() missing required argument');
        if (m === MISSING || m === null) return pow(base, exp);
        const b = intArg('pow', base);
        let e = intArg('pow', exp);
        const md = intArg('pow', m);
        if (md === 0n) throw valueError('pow() 3rd argument cannot be 0');
        let result = 1n;
        let x = ((b % md) + md) % md;
        while (e > 0n) {
          if (e & 1n) result = (result * x) % md;
          x = (x * x) % md;
          e >>= 1n;
        }
        return md < 0n && result > 0n ? result + md : result;
      }),
    ],
    ['range', fn('range', range)],
    ['repr', fn('repr', (a, k) => pyRepr(one('repr', a, k)))],
    ['ascii', fn('ascii', (a, k) => asciiRepr(one('ascii', a, k)))],
    [
      'reversed',
      fn('reversed', (a, k) => {
        const v = one('reversed', a, k);
        if (
          v instanceof PySet ||
          v instanceof PyIterator ||
          v instanceof PyUndefined ||
          v === null ||
          (typeof v !== 'object' && typeof v !== 'string')
        ) {
          if (v instanceof PyUndefined) v.fail();
          throw typeError(`'${typeName(v)}' object is not reversible`);
        }
        return iter('reversed', toList(v).reverse()[Symbol.iterator]());
      }),
    ],
    ['round', fn('round', roundBuiltin)],
    ['set', setType],
    [
      'sorted',
      fn('sorted', (a, k) => {
        argCount('sorted', a, 1, 1);
        const [key = MISSING, reverse = MISSING] = bindArgs('sorted', ['key', 'reverse'], [], k);
        const keyFn = key === MISSING || key === null ? null : (v: PyValue): PyValue => callValue(key, [v]);
        return sortValues(Array.from(iterable(a[0]!)), keyFn, reverse !== MISSING && truthy(reverse));
      }),
    ],
    ['str', strType],
    [
      'sum',
      fn('sum', (a, k) => {
        const [it = MISSING, start = MISSING] = bindArgs('sum', ['iterable', 'start'], a, k);
        if (it === MISSING) throw typeError('sum() takes at least 1 positional argument (0 given)');
        if (typeof start === 'string') throw typeError("sum() can't sum strings [use ''.join(seq) instead]");
        let acc: PyValue = start === MISSING ? 0n : start;
        for (const v of iterable(it)) acc = add(acc, v);
        return acc;
      }),
    ],
    ['tuple', tupleType],
    [
      'zip',
      fn('zip', (a, k) => {
        noKwargs('zip', k);
        const sources = a.map(pyIter);
        return iter(
          'zip',
          (function* () {
            if (!sources.length) return;
            for (;;) {
              const values: PyValue[] = [];
              for (const s of sources) {
                const r = s.next();
                if (r.done) return;
                values.push(r.value);
              }
              yield new PyTuple(values);
            }
          })(),
        );
      }),
    ],
    [
      'assert',
      fn('assert', (a) => {
        if (a.length === 0) throw typeError("_assert() missing 1 required positional argument: 'x'");
        if (truthy(a[0]!)) return '';
        throw new PyError('AssertionError', a.slice(1).map(pyStr).join(', '));
      }),
    ],
    ['six', sixModule()],
  ];
  return new Map(entries);
}

/** The `six` compatibility module (also passed as a builtin by the recipe). */
export function sixModule(): PyModule {
  const items = (kind: 'items' | 'keys' | 'values') =>
    fn(`iter${kind}`, (a, k) => {
      const d = one(`iter${kind}`, a, k);
      if (!(d instanceof PyDict))
        throw new PyError('AttributeError', `'${typeName(d)}' object has no attribute '${kind}'`);
      const source =
        kind === 'keys'
          ? d.keys()
          : kind === 'values'
            ? d.values()
            : (function* () {
                for (const [key, v] of d.entries()) yield new PyTuple([key, v]);
              })();
      return iter(
        `dict_${kind === 'items' ? 'itemiterator' : kind === 'keys' ? 'keyiterator' : 'valueiterator'}`,
        source,
      );
    });
  return new PyModule(
    'six',
    new Map<string, PyValue>([
      ['PY2', false],
      ['PY3', true],
      ['moves', new PyModule('six.moves', new Map<string, PyValue>([['urllib', urllibModule()]]), true)],
      ['iteritems', items('items')],
      ['iterkeys', items('keys')],
      ['itervalues', items('values')],
      ['string_types', new PyTuple([strType])],
      ['text_type', strType],
      ['binary_type', bytesType],
      ['integer_types', new PyTuple([intType])],
      [
        'ensure_str',
        fn('ensure_str', (a, k) => {
          const v = one('ensure_str', a, k);
          return v instanceof PyBytes ? v.data.toString('utf8') : pyStr(v);
        }),
      ],
      [
        'ensure_text',
        fn('ensure_text', (a, k) => {
          const v = one('ensure_text', a, k);
          return v instanceof PyBytes ? v.data.toString('utf8') : pyStr(v);
        }),
      ],
    ]),
  );
}

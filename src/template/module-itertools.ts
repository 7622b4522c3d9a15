/** Stand-ins for `itertools`, `functools` and `sys` (the parts templates use). */
import { argCount, intArg } from './args.ts';
import { callValue } from './attributes.ts';
import { bindRequired, fn, req, stubModule } from './module-helpers.ts';
import { add } from './ops.ts';
import type { PyModule } from './values.ts';
import {
  MISSING,
  PyFunction,
  PyIterator,
  PyNamedTuple,
  PyTuple,
  iterable,
  pyEquals,
  pyIter,
  toList,
  truthy,
  typeError,
  valueError,
  type Kwargs,
  type PyValue,
} from './values.ts';

function iterator(kind: string, gen: Iterator<PyValue>): PyIterator {
  return new PyIterator(gen, `itertools.${kind}`);
}

function optionalInt(name: string, v: PyValue | undefined): number | null {
  if (v === undefined || v === null) return null;
  const n = intArg(name, v);
  if (n < 0n) throw valueError(`${name}() argument must be None or an integer: 0 <= x <= sys.maxsize.`);
  return Number(n);
}

function* product(pools: PyValue[][]): Generator<PyValue> {
  if (pools.some((p) => p.length === 0)) return;
  const idx = pools.map(() => 0);
  for (;;) {
    yield new PyTuple(idx.map((i, k) => pools[k]![i]!));
    let k = pools.length - 1;
    while (k >= 0 && ++idx[k]! >= pools[k]!.length) idx[k--] = 0;
    if (k < 0) return;
  }
}

function* permutations(pool: PyValue[], r: number): Generator<PyValue> {
  if (r > pool.length) return;
  const pick = function* (prefix: number[]): Generator<number[]> {
    if (prefix.length === r) {
      yield prefix;
      return;
    }
    for (let i = 0; i < pool.length; i++) if (!prefix.includes(i)) yield* pick([...prefix, i]);
  };
  for (const p of pick([])) yield new PyTuple(p.map((i) => pool[i]!));
}

function* combinations(pool: PyValue[], r: number, replace: boolean): Generator<PyValue> {
  const pick = function* (start: number, prefix: number[]): Generator<number[]> {
    if (prefix.length === r) {
      yield prefix;
      return;
    }
    for (let i = start; i < pool.length; i++) yield* pick(replace ? i : i + 1, [...prefix, i]);
  };
  if (!replace && r > pool.length) return;
  if (replace && pool.length === 0 && r > 0) return;
  for (const c of pick(0, [])) yield new PyTuple(c.map((i) => pool[i]!));
}

function repeatKw(kwargs: Kwargs | null): number {
  const rest = new Map(kwargs ?? []);
  const v = rest.get('repeat');
  rest.delete('repeat');
  if (rest.size) throw typeError(`product() got an unexpected keyword argument '${[...rest.keys()][0]}'`);
  if (v === undefined) return 1;
  const n = intArg('product', v);
  if (n < 0n) throw valueError('repeat argument cannot be negative');
  return Number(n);
}

export function itertoolsModule(): PyModule {
  const chain = fn('chain', (args) =>
    iterator(
      'chain',
      (function* () {
        for (const a of args) yield* iterable(a);
      })(),
    ),
  );
  const fromIterable = fn('from_iterable', (args) => {
    argCount('from_iterable', args, 1, 1);
    return iterator(
      'chain',
      (function* () {
        for (const a of iterable(args[0]!)) yield* iterable(a);
      })(),
    );
  });
  // `chain.from_iterable`: the chain function carries it as an attribute.
  const chainWithAttr = new (class extends PyFunction {
    override getAttr(name: string) {
      return name === 'from_iterable' ? fromIterable : MISSING;
    }
  })('chain', chain.fn);
  return stubModule('itertools', [
    ['chain', chainWithAttr],
    [
      'product',
      fn('product', (args, kwargs) => {
        const pools = args.map(toList);
        const n = repeatKw(kwargs);
        return iterator('product', product(Array.from({ length: n }, () => pools).flat()));
      }),
    ],
    [
      'permutations',
      fn('permutations', (args, kwargs) => {
        const [it, r] = bindRequired('permutations', ['iterable', 'r'], 1, args, kwargs);
        const pool = toList(req(it));
        const size = r === MISSING ? pool.length : (optionalInt('permutations', r) ?? pool.length);
        return iterator('permutations', permutations(pool, size));
      }),
    ],
    ...(['combinations', 'combinations_with_replacement'] as const).map((name): [string, PyValue] => [
      name,
      fn(name, (args, kwargs) => {
        const [it, r] = bindRequired(name, ['iterable', 'r'], 2, args, kwargs);
        const n = intArg(name, req(r));
        if (n < 0n) throw valueError('r must be non-negative');
        return iterator(name, combinations(toList(req(it)), Number(n), name !== 'combinations'));
      }),
    ]),
    [
      'islice',
      fn('islice', (args) => {
        argCount('islice', args, 2, 4);
        const it = pyIter(args[0]!);
        const [start, stop, step] =
          args.length === 2
            ? [0, optionalInt('Stop argument for islice', args[1]), 1]
            : [
                optionalInt('Indices for islice', args[1]) ?? 0,
                optionalInt('Stop argument for islice', args[2]),
                optionalInt('Step for islice', args[3]) ?? 1,
              ];
        if (step === 0) throw valueError('Step for islice() must be a positive integer or None.');
        return iterator(
          'islice',
          (function* () {
            let i = 0;
            let next = start;
            for (let r = it.next(); !r.done; r = it.next(), i++) {
              if (stop !== null && i >= stop) return;
              if (i === next) {
                yield r.value;
                next += step;
              }
            }
          })(),
        );
      }),
    ],
    [
      'count',
      fn('count', (args, kwargs) => {
        const [start, step] = bindRequired('count', ['start', 'step'], 0, args, kwargs);
        let v: PyValue = start === MISSING || start === undefined ? 0n : start;
        const by: PyValue = step === MISSING ? 1n : step!;
        return iterator(
          'count',
          (function* () {
            for (;;) {
              yield v;
              v = add(v, by);
            }
          })(),
        );
      }),
    ],
    [
      'repeat',
      fn('repeat', (args, kwargs) => {
        const [objArg, times] = bindRequired('repeat', ['object', 'times'], 1, args, kwargs);
        const obj = req(objArg);
        const n =
          times === MISSING || times === undefined ? Infinity : Math.max(0, Number(intArg('repeat', times)));
        return iterator(
          'repeat',
          (function* () {
            for (let i = 0; i < n; i++) yield obj;
          })(),
        );
      }),
    ],
    [
      'zip_longest',
      fn('zip_longest', (args, kwargs) => {
        const rest = new Map(kwargs ?? []);
        const fill = rest.get('fillvalue') ?? null;
        rest.delete('fillvalue');
        if (rest.size)
          throw typeError(`zip_longest() got an unexpected keyword argument '${[...rest.keys()][0]}'`);
        const lists = args.map(toList);
        const n = Math.max(0, ...lists.map((l) => l.length));
        return iterator(
          'zip_longest',
          (function* () {
            for (let i = 0; i < n; i++) yield new PyTuple(lists.map((l) => (i < l.length ? l[i]! : fill)));
          })(),
        );
      }),
    ],
    [
      'groupby',
      fn('groupby', (args, kwargs) => {
        const [it, key] = bindRequired('groupby', ['iterable', 'key'], 1, args, kwargs);
        const keyOf = (v: PyValue): PyValue => (key === MISSING || key === null ? v : callValue(key!, [v]));
        const groups: [PyValue, PyValue[]][] = [];
        for (const v of iterable(req(it))) {
          const k = keyOf(v);
          const last = groups.at(-1);
          if (last && pyEquals(last[0], k)) last[1].push(v);
          else groups.push([k, [v]]);
        }
        return iterator(
          'groupby',
          (function* () {
            for (const [k, items] of groups)
              yield new PyTuple([k, iterator('_grouper', items[Symbol.iterator]())]);
          })(),
        );
      }),
    ],
    [
      'accumulate',
      fn('accumulate', (args, kwargs) => {
        const [it, func, initial] = bindRequired(
          'accumulate',
          ['iterable', 'func', 'initial'],
          1,
          args,
          kwargs,
        );
        return iterator(
          'accumulate',
          (function* () {
            let total: PyValue | typeof MISSING =
              initial === MISSING || initial === null ? MISSING : initial!;
            if (total !== MISSING) yield total;
            for (const v of iterable(req(it))) {
              total =
                total === MISSING
                  ? v
                  : func === MISSING || func === null
                    ? add(total, v)
                    : callValue(func!, [total, v]);
              yield total;
            }
          })(),
        );
      }),
    ],
    ...(['takewhile', 'dropwhile', 'filterfalse'] as const).map((name): [string, PyValue] => [
      name,
      fn(name, (args) => {
        argCount(name, args, 2, 2);
        const [pred, it] = args as [PyValue, PyValue];
        const test = (v: PyValue): boolean => (pred === null ? truthy(v) : truthy(callValue(pred, [v])));
        return iterator(
          name,
          (function* () {
            let dropping = true;
            for (const v of iterable(it)) {
              if (name === 'takewhile') {
                if (!test(v)) return;
                yield v;
              } else if (name === 'dropwhile') {
                if (dropping && test(v)) continue;
                dropping = false;
                yield v;
              } else if (!test(v)) yield v;
            }
          })(),
        );
      }),
    ]),
    [
      'starmap',
      fn('starmap', (args) => {
        argCount('starmap', args, 2, 2);
        const [func, it] = args as [PyValue, PyValue];
        return iterator(
          'starmap',
          (function* () {
            for (const v of iterable(it)) yield callValue(func, toList(v));
          })(),
        );
      }),
    ],
  ]);
}

export function functoolsModule(): PyModule {
  return stubModule('functools', [
    [
      'partial',
      fn('partial', (args, kwargs) => {
        if (args.length === 0) throw typeError('partial() takes at least 1 argument (0 given)');
        const [func, ...bound] = args;
        const boundKw = new Map(kwargs ?? []);
        return new PyFunction('partial', (a, k) =>
          callValue(func!, [...bound, ...a], new Map([...boundKw, ...(k ?? [])])),
        );
      }),
    ],
    [
      'reduce',
      fn('reduce', (args) => {
        argCount('reduce', args, 2, 3);
        const [func, it] = args as [PyValue, PyValue];
        let acc: PyValue | typeof MISSING = args.length === 3 ? args[2]! : MISSING;
        for (const v of iterable(it)) acc = acc === MISSING ? v : callValue(func, [acc, v]);
        if (acc === MISSING) throw typeError('reduce() of empty iterable with no initial value');
        return acc;
      }),
    ],
  ]);
}

/** `sys`: the interpreter facts a profile may test (this engine stands for CPython 3.11 on Linux). */
export function sysModule(): PyModule {
  return stubModule('sys', [
    [
      'version_info',
      new PyNamedTuple(
        'sys.version_info',
        ['major', 'minor', 'micro', 'releaselevel', 'serial'],
        [3n, 11n, 0n, 'final', 0n],
      ),
    ],
    ['maxsize', 2n ** 63n - 1n],
    ['byteorder', 'little'],
    ['platform', 'linux'],
    ['hexversion', 0x30b00f0n],
  ]);
}

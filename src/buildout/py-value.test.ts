import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from '../core/errors.ts';
import { execFile } from '../lib/exec.ts';
import { pythonBuiltins, renderTemplate } from '../template/index.ts';
import { PyFunction } from '../template/values.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import {
  PyDict,
  PyFrozenSet,
  PySet,
  PyTuple,
  SERIALISED_PREFIX,
  deserialise,
  fromJs,
  pyEquals,
  pyTypeName,
  pyFloatRepr,
  pyPformat,
  pyRepr,
  pyStrRepr,
  serialise,
  type PyValue,
} from './py-value.ts';

test('repr of strings follows Python (quote choice, escapes, non-printables)', () => {
  assert.equal(pyStrRepr('abc'), "'abc'");
  assert.equal(pyStrRepr("it's"), '"it\'s"');
  assert.equal(pyStrRepr('a\'b"c'), "'a\\'b\"c'");
  assert.equal(pyStrRepr('tab\there\nnl\\'), "'tab\\there\\nnl\\\\'");
  assert.equal(pyStrRepr('\x00\x7f\u00a0é€'), "'\\x00\\x7f\\xa0é€'");
});

test('repr of floats follows Python', () => {
  assert.equal(pyFloatRepr(1.5), '1.5');
  assert.equal(pyFloatRepr(0.0001), '0.0001');
  assert.equal(pyFloatRepr(0.00001), '1e-05');
  assert.equal(pyFloatRepr(1e16), '1e+16');
  assert.equal(pyFloatRepr(123456789.125), '123456789.125');
  assert.equal(pyFloatRepr(-2.5e-7), '-2.5e-07');
});

test('pformat of containers: sorted dict keys and sets, one-tuples, empty set, frozenset', () => {
  const value = fromJs({
    b: [1, 2.5, null, true],
    a: new PyTuple(['x']),
    c: new Set(['z', 'y']),
    d: new Set<string>(),
  });
  assert.equal(pyPformat(value), "{'a': ('x',), 'b': [1, 2.5, None, True], 'c': {'y', 'z'}, 'd': set()}");
  assert.equal(pyPformat(new PyTuple([])), '()');
  assert.equal(
    pyPformat(
      PyDict.from([
        [2n, 'b'],
        [1n, 'a'],
      ]),
    ),
    "{1: 'a', 2: 'b'}",
  );
  assert.equal(pyPformat(new PyFrozenSet([3n, 1n])), 'frozenset({1, 3})');
  // repr keeps the insertion order; pformat (the !py! text) sorts.
  assert.equal(
    pyRepr(
      PyDict.from([
        ['b', 1n],
        ['a', 2n],
      ]),
    ),
    "{'b': 1, 'a': 2}",
  );
  // Keys Python cannot order go by type name, as pprint's _safe_key.
  assert.equal(
    pyPformat(
      PyDict.from([
        ['s', 1n],
        [2n, 2n],
        [null, 3n],
      ]),
    ),
    "{None: 3, 2: 2, 's': 1}",
  );
});

test('§1.11-11 serialise escapes $ and ; so the text survives buildout; deserialise reads it back', () => {
  const value = fromJs({ cmd: 'echo ${HOME}; ls', list: [1, 'two', new PyTuple([3n])], set: new Set(['a']) });
  const text = serialise(value);
  assert.equal(text, "!py!{'cmd': 'echo \\x24{HOME}\\x3b ls', 'list': [1, 'two', (3,)], 'set': {'a'}}");
  assert.ok(!text.includes('$') && !text.includes(';'));
  assert.deepEqual(deserialise(text, 'a:b'), value);
});

test('deserialise supports the literal forms profiles write by hand', () => {
  assert.deepEqual(deserialise("!py!set(['a', 'b'])", 'x:y'), new PySet(['a', 'b']));
  assert.deepEqual(deserialise('!py![1, -2, 0x10, 1_000, 2.5, None]', 'x:y'), [
    1n,
    -2n,
    16n,
    1000n,
    2.5,
    null,
  ]);
  assert.deepEqual(deserialise("!py!'/srv/dir/' + 'promise-check'[8:]", 'x:y'), '/srv/dir/check');
  assert.deepEqual(
    deserialise("!py!{'k': {'nested': (1, 2)}, 'e': {}}", 'x:y'),
    PyDict.from([
      ['k', PyDict.from([['nested', new PyTuple([1n, 2n])]])],
      ['e', new PyDict()],
    ]),
  );
  assert.equal(deserialise('not serialised', 'x:y'), 'not serialised');
  assert.equal(deserialise("!py!'a\\x24b'", 'x:y'), 'a$b');
  assert.equal(deserialise('!py!123456789012345678901234567890', 'x:y'), 123456789012345678901234567890n);
  assert.deepEqual(deserialise("!py!frozenset({'a'})", 'x:y'), new PyFrozenSet(['a']));
});

test('!py! values follow Python: equal set members and dict keys are one, dict order is the written order into Jinja2', () => {
  const set = deserialise('!py!{(1, 2), (1, 2), (1.0, 2)}', 'p:o');
  assert.ok(set instanceof PySet);
  assert.equal(set.size, 1);
  const dict = deserialise("!py!{1: 'a', 1.0: 'b', True: 'c'}", 'p:o');
  assert.equal(pyRepr(dict), "{1: 'c'}");
  // Integer-like string keys keep their place (a plain JavaScript object would put them first).
  const ordered = deserialise("!py!{'b': 1, '2': 2, 'a': 3}", 'p:o');
  const context = new Map<string, PyValue>([['d', ordered]]);
  assert.equal(renderTemplate('{% for k in d %}{{ k }} {% endfor %}', context), 'b 2 a ');
});

test('serialise refuses what is not data, deserialise refuses a !py! function', () => {
  assert.throws(
    () => serialise(new PyFunction('f', () => null)),
    /cannot serialise a builtin_function_or_method/,
  );
  const loop: PyValue[] = [];
  loop.push(loop);
  assert.throws(() => serialise([loop]), /cannot serialise a list object/);
  assert.throws(
    () => deserialise('!py![set]', 'p:o'),
    (error: unknown) => error instanceof SlapError && /^p:o: a !py! value must be data/.test(error.message),
  );
});

test('!py! values with Python code are refused with an error naming the option', () => {
  for (const code of [
    "!py!__import__('os').getcwd()",
    '!py![x for x in range(3)]',
    "!py!open('/etc/passwd').read()",
  ]) {
    assert.throws(
      () => deserialise(code, 'part:option'),
      (error: unknown) =>
        error instanceof SlapError &&
        error.code === 'SLAP_ERR_RECIPE_UNSUPPORTED' &&
        /^part:option: /.test(error.message),
      code,
    );
  }
});

test('floats stay floats in !py! values: repr, arithmetic and serialise match Python (differential)', async () => {
  const literals = [
    '2.0',
    '1e20',
    '-0.0',
    '-1.0',
    '1.5 + 0.5',
    '4 / 2',
    '3 * 1.0',
    '7 // 2.0',
    '2 + 3',
    '10 % 3.0',
    '[1.0, 2, 1e3, 1E-5, 100.0]',
    "{'ratio': 2.0, 'n': 3, 'big': 1e16, 'small': 1e15}",
    '(1.0,)',
    '1.0 == 1',
    '2.0 > 1',
    '-(2.0)',
  ];
  const result = await execFile(
    '/usr/bin/python3',
    [
      '-c',
      'import json, pprint, sys\nprint(json.dumps([pprint.pformat(eval(x), width=10**6) for x in json.load(sys.stdin)]))',
    ],
    { input: JSON.stringify(literals), timeoutMs: 60_000 },
  );
  assert.equal(result.exitCode, 0, result.stderr);
  const expected = JSON.parse(result.stdout) as string[];
  const ours = literals.map((literal) => pyPformat(deserialise(`!py!${literal}`, 'test')));
  assert.deepEqual(ours, expected);
  assert.equal(serialise(deserialise('!py!{"r": 2.0}', 'test')), "!py!{'r': 2.0}");
  assert.equal(typeof deserialise('!py!2.0', 'test'), 'number');
  assert.equal(typeof deserialise('!py!2', 'test'), 'bigint');
});

// --- Property tests: a value of the model keeps its value and its Python type through `!py!` text ---

/** A random float: integral ones (which print `2.0`), huge, tiny, subnormal, negative zero, any finite bits. */
function randomFloat(random: () => number): number {
  const pick = Math.floor(random() * 6);
  if (pick === 0) return Math.floor(random() * 2000) - 1000;
  if (pick === 1) return (random() < 0.5 ? -1 : 1) * 10 ** Math.floor(random() * 40);
  if (pick === 2) return random() < 0.5 ? -0 : 5e-324;
  if (pick === 3) return random() * 1e-300;
  const view = new DataView(new ArrayBuffer(8));
  for (;;) {
    view.setUint32(0, Math.floor(random() * 2 ** 32));
    view.setUint32(4, Math.floor(random() * 2 ** 32));
    const value = view.getFloat64(0);
    if (Number.isFinite(value)) return value;
  }
}

function randomInt(random: () => number): bigint {
  const digits = Math.floor(random() * 60) + 1;
  let text = '';
  for (let i = 0; i < digits; i++) text += Math.floor(random() * 10);
  return (random() < 0.3 ? -1n : 1n) * BigInt(text);
}

/** A hashable value (a dict key or set item). */
function randomKey(random: () => number, depth: number): PyValue {
  const pick = Math.floor(random() * (depth > 0 ? 7 : 5));
  if (pick === 0) return hostileString(random);
  if (pick === 1) return randomInt(random);
  if (pick === 2) return randomFloat(random);
  if (pick === 3) return random() < 0.5 ? null : random() < 0.5;
  if (pick === 4) return String(Math.floor(random() * 5));
  if (pick === 5)
    return new PyTuple(Array.from({ length: Math.floor(random() * 3) }, () => randomKey(random, depth - 1)));
  return new PyFrozenSet(
    Array.from({ length: Math.floor(random() * 3) }, () => randomKey(random, depth - 1)),
  );
}

function randomValue(random: () => number, depth: number): PyValue {
  const count = (): number => Math.floor(random() * 4);
  const pick = Math.floor(random() * (depth > 0 ? 9 : 4));
  if (pick < 4) return randomKey(random, 0);
  if (pick === 4) return Array.from({ length: count() }, () => randomValue(random, depth - 1));
  if (pick === 5) return new PyTuple(Array.from({ length: count() }, () => randomValue(random, depth - 1)));
  if (pick === 6) return new PySet(Array.from({ length: count() }, () => randomKey(random, depth - 1)));
  if (pick === 7) return new PyFrozenSet(Array.from({ length: count() }, () => randomKey(random, depth - 1)));
  return PyDict.from(
    Array.from(
      { length: count() },
      () => [randomKey(random, depth - 1), randomValue(random, depth - 1)] as const,
    ),
  );
}

type Described = unknown[];

/** The value as a tree of [type, value]; dict items and set members in a canonical order. */
function describe(value: PyValue): Described {
  const sorted = (items: Described[]): Described[] =>
    items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  const type = pyTypeName(value);
  if (value === null) return [type];
  if (typeof value === 'bigint') return [type, value.toString()];
  if (typeof value === 'number') return [type, pyFloatRepr(value)];
  if (typeof value === 'string' || typeof value === 'boolean') return [type, value];
  if (Array.isArray(value)) return [type, value.map(describe)];
  if (value instanceof PyTuple) return [type, value.items.map(describe)];
  if (value instanceof PySet) return [type, sorted([...value.values()].map(describe))];
  if (value instanceof PyDict)
    return [type, sorted([...value.entries()].map(([k, v]) => [describe(k), describe(v)]))];
  throw new Error(`unexpected ${type}`);
}

/** Sorts the dict items and set members of a description made by Python (in its iteration order). */
function canonical(described: Described): Described {
  const [type, content] = described;
  const sorted = (items: Described[]): Described[] =>
    items.sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  if (type === 'list' || type === 'tuple') return [type, (content as Described[]).map(canonical)];
  if (type === 'set' || type === 'frozenset') return [type, sorted((content as Described[]).map(canonical))];
  if (type === 'dict') {
    return [
      type,
      sorted((content as [Described, Described][]).map(([k, v]) => [canonical(k), canonical(v)])),
    ];
  }
  return described;
}

const TERMINATORS = /[\r\n\v\f\x1c-\x1e\x85\u2028\u2029\0]/;

test('property: model values (hostile strings, big ints, integral floats, sets, dicts) survive !py! text with their type', () => {
  const random = seededRandom(20261207);
  for (let i = 0; i < 400; i++) {
    const value = randomValue(random, 3);
    const text = serialise(value);
    assert.ok(!TERMINATORS.test(text), `one line, no NUL: ${text}`);
    assert.ok(!/[$;]/.test(text.slice(SERIALISED_PREFIX.length)), text);
    const back = deserialise(text, 'p:o');
    assert.ok(pyEquals(back, value), text);
    assert.deepEqual(describe(back), describe(value), text);
    assert.equal(serialise(back), text, 'the text is stable');
  }
});

test('property: values built by a Jinja2 template go through dumps() to !py! and back with their type', () => {
  const dumps = new PyFunction('dumps', (args) => serialise(args[0] ?? null));
  const text = renderTemplate(
    "{{ dumps((1, 2.0, 7 / 2, 10 ** 30, {'b': set([1, 2]), 'a': [none, true]}, v, frozenset(['x']))) }}",
    new Map<string, PyValue>([...pythonBuiltins(), ['dumps', dumps], ['v', '']]),
  );
  const back = deserialise(text, 'p:o');
  assert.deepEqual(
    describe(back),
    describe(
      new PyTuple([
        1n,
        2,
        3.5,
        10n ** 30n,
        PyDict.from([
          ['b', new PySet([1n, 2n])],
          ['a', [null, true]],
        ]),
        '',
        new PyFrozenSet(['x']),
      ]),
    ),
  );
  const random = seededRandom(7);
  for (let i = 0; i < 200; i++) {
    const value = randomValue(random, 3);
    // A Map context holds values of the model as they are (a plain object would go through fromJs).
    const context = new Map<string, PyValue>([
      ['dumps', dumps],
      ['v', value],
    ]);
    const rendered = renderTemplate('{{ dumps(v) }}', context);
    assert.deepEqual(describe(deserialise(rendered, 'p:o')), describe(value), rendered);
  }
});

test('property (differential): python3 reads our !py! text as values of the same type and value', async () => {
  const random = seededRandom(11);
  const values = Array.from({ length: 300 }, () => randomValue(random, 3));
  const script = [
    'import json, sys',
    "G = {'__builtins__': {}, 'set': set, 'frozenset': frozenset, 'dict': dict, 'list': list, 'tuple': tuple, 'str': str}",
    'def d(v):',
    '    t = type(v).__name__',
    '    if v is None: return [t]',
    "    if t == 'int': return [t, str(v)]",
    "    if t == 'float': return [t, repr(v)]",
    "    if t in ('str', 'bool'): return [t, v]",
    "    if t in ('list', 'tuple', 'set', 'frozenset'): return [t, [d(x) for x in v]]",
    '    return [t, [[d(k), d(x)] for k, x in v.items()]]',
    "print(json.dumps([d(eval(x[len('!py!'):], G)) for x in json.load(sys.stdin)]))",
  ].join('\n');
  const result = await execFile('/usr/bin/python3', ['-c', script], {
    input: JSON.stringify(values.map(serialise)),
    timeoutMs: 60_000,
  });
  assert.equal(result.exitCode, 0, result.stderr);
  const python = (JSON.parse(result.stdout) as Described[]).map(canonical);
  assert.deepEqual(python, values.map(describe));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from '../core/errors.ts';
import { execFile } from '../lib/exec.ts';
import { PyFunction } from '../template/values.ts';
import {
  PyDict,
  PyFrozenSet,
  PySet,
  PyTuple,
  deserialise,
  fromJs,
  pyFloatRepr,
  pyPformat,
  pyRepr,
  pyStrRepr,
  serialise,
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
  assert.equal(pyPformat(PyDict.from([[2n, 'b'], [1n, 'a']])), "{1: 'a', 2: 'b'}");
  assert.equal(pyPformat(new PyFrozenSet([3n, 1n])), 'frozenset({1, 3})');
  // repr keeps the insertion order; pformat (the !py! text) sorts.
  assert.equal(pyRepr(PyDict.from([['b', 1n], ['a', 2n]])), "{'b': 1, 'a': 2}");
  // Keys Python cannot order go by type name, as pprint's _safe_key.
  assert.equal(pyPformat(PyDict.from([['s', 1n], [2n, 2n], [null, 3n]])), "{None: 3, 2: 2, 's': 1}");
});

test('§1.11-11 serialise escapes $ and ; so the text survives buildout; deserialise reads it back', () => {
  const value = fromJs({ cmd: 'echo ${HOME}; ls', list: [1, 'two', new PyTuple([3])], set: new Set(['a']) });
  const text = serialise(value);
  assert.equal(text, "!py!{'cmd': 'echo \\x24{HOME}\\x3b ls', 'list': [1, 'two', (3,)], 'set': {'a'}}");
  assert.ok(!text.includes('$') && !text.includes(';'));
  assert.deepEqual(deserialise(text, 'a:b'), value);
});

test('deserialise supports the literal forms profiles write by hand', () => {
  assert.deepEqual(deserialise("!py!set(['a', 'b'])", 'x:y'), new PySet(['a', 'b']));
  assert.deepEqual(deserialise('!py![1, -2, 0x10, 1_000, 2.5, None]', 'x:y'), [1n, -2n, 16n, 1000n, 2.5, null]);
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

test('serialise refuses what is not data, deserialise refuses a !py! function', () => {
  assert.throws(() => serialise(new PyFunction('f', () => null)), /cannot serialise a builtin_function_or_method/);
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

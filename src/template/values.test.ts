/** The Python value model: numbers, printing, truthiness, comparison, formatting, methods, JSON, conversions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentFormat, strFormat, formatValue } from './format.ts';
import { callValue, getAttr } from './attributes.ts';
import { jsonDumps, jsonLoads } from './json.ts';
import { pythonModule, SUPPORTED_MODULES } from './modules.ts';
import { add, compare, contains, floordiv, mod, truediv } from './ops.ts';
import {
  floatRepr,
  PyBytes,
  PyError,
  PyDict,
  PySet,
  PyTuple,
  PyUndefined,
  pyEquals,
  pyRepr,
  pyStr,
  truthy,
  type PyValue,
} from './values.ts';
import { fromJs, toJs, renderTemplate } from './index.ts';
import { PyNumber } from '../core/python-value.ts';

function call(obj: PyValue, method: string, ...args: PyValue[]): PyValue {
  const fn = getAttr(obj, method);
  assert.notEqual(typeof fn, 'symbol', `no method ${method}`);
  return callValue(fn as PyValue, args);
}

test('ints and floats stay distinct; ints are arbitrary precision', () => {
  assert.equal(pyStr(truediv(4n, 2n)), '2.0');
  assert.equal(pyStr(floordiv(7n, 2n)), '3');
  assert.equal(pyStr(floordiv(-7n, 2n)), '-4');
  assert.equal(pyStr(mod(-7n, 3n, percentFormat)), '2');
  assert.equal(pyStr(add(2n ** 64n, 1n)), '18446744073709551617');
  assert.equal(pyStr(add(1n, 0.5)), '1.5');
  assert.equal(pyStr(add(true, true)), '2');
});

test('floats print like Python repr()', () => {
  const cases: [number, string][] = [
    [1e20, '1e+20'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [0.1, '0.1'],
    [1e-5, '1e-05'],
    [0.0001, '0.0001'],
    [-0, '-0.0'],
    [Infinity, 'inf'],
    [NaN, 'nan'],
    [0.1 + 0.2, '0.30000000000000004'],
    [123456789012345678, '1.2345678901234568e+17'],
  ];
  for (const [x, s] of cases) assert.equal(floatRepr(x), s, String(x));
});

test('str() and repr() of containers and strings', () => {
  assert.equal(pyStr(fromJs([1, 'a', null, true, 1.5])), "[1, 'a', None, True, 1.5]");
  assert.equal(pyStr(new PyTuple([1n])), '(1,)');
  assert.equal(pyStr(new PyTuple([])), '()');
  assert.equal(pyStr(fromJs({ a: { b: [] } })), "{'a': {'b': []}}");
  assert.equal(pyRepr("it's"), '"it\'s"');
  assert.equal(pyRepr('both \' and "'), "'both \\' and \"'");
  assert.equal(pyRepr('tab\t\u0000é'), "'tab\\t\\x00é'");
  assert.equal(pyStr(new PySet()), 'set()');
  const l: PyValue[] = [];
  l.push(l);
  assert.equal(pyStr(l), '[[...]]');
});

test('sets of ints iterate in CPython order', () => {
  assert.equal(pyStr(new PySet([3n, 1n, 2n])), '{1, 2, 3}');
  assert.equal(pyStr(new PySet([10n, 2n, 33n, 8n, 100n, -1n, 7n])), '{33, 2, 100, 7, 8, 10, -1}');
});

test('truthiness', () => {
  for (const v of [0n, 0, '', [], new PyDict(), null, false, new PyTuple([]), new PySet()])
    assert.equal(truthy(v), false, pyRepr(v));
  for (const v of [1n, 0.1, 'a', [0n], fromJs({ a: 0 }), true]) assert.equal(truthy(v), true, pyRepr(v));
  assert.equal(truthy(new PyUndefined(false, 'x')), false);
  assert.throws(() => truthy(new PyUndefined(true, 'x')), /'x' is undefined/);
});

test('equality, ordering and membership follow Python', () => {
  assert.equal(pyEquals(1n, 1.0), true);
  assert.equal(pyEquals(true, 1n), true);
  assert.equal(pyEquals('1', 1n), false);
  assert.equal(pyEquals(fromJs([1, [2]]), fromJs([1, [2]])), true);
  assert.equal(pyEquals(new PyTuple([1n]), [1n]), false);
  assert.ok(compare(fromJs([1, 2]), fromJs([1, 3]), '<') < 0);
  assert.throws(() => compare(1n, 'a', '<'), /'<' not supported between instances of 'int' and 'str'/);
  assert.equal(contains('abc', 'b'), true);
  assert.equal(contains(fromJs({ k: 1 }), 'k'), true);
  assert.equal(contains(fromJs([1.0]), 1n), true);
  assert.throws(() => contains('abc', 1n), /requires string as left operand/);
});

test('dict keys use Python equality (1 == 1.0 == True, tuples by value)', () => {
  const d = new PyDict();
  d.set(1n, 'a');
  d.set(1.0, 'b');
  d.set(true, 'c');
  d.set(new PyTuple([1n, 'x']), 'd');
  assert.equal(pyStr(d), "{1: 'c', (1, 'x'): 'd'}");
  assert.equal(d.get(new PyTuple([1.0, 'x'])), 'd');
  assert.throws(() => d.set([1n], 'x'), /unhashable type: 'list'/);
});

test('% formatting', () => {
  assert.equal(percentFormat('port-%s', 8080n), 'port-8080');
  assert.equal(percentFormat('%s %d %r %05.2f', new PyTuple(['a', 3.9, 'q', 3.14159])), "a 3 'q' 03.14");
  assert.equal(percentFormat('%(name)s=%(v)x', fromJs({ name: 'n', v: 255 })), 'n=ff');
  assert.equal(percentFormat('%.0f %.0f %.1f', new PyTuple([0.5, 1.5, 0.25])), '0 2 0.2');
  assert.equal(percentFormat('%s', fromJs([1, 2])), '[1, 2]');
  assert.throws(() => percentFormat('%s %s', new PyTuple([1n])), /not enough arguments/);
  assert.throws(() => percentFormat('%s', new PyTuple([1n, 2n])), /not all arguments converted/);
});

test('str.format and format()', () => {
  const lookups = { getAttr: (o: PyValue, n: string) => getAttr(o, n) as PyValue, getItem: () => null };
  assert.equal(strFormat('{} {:>5} {name!r}', [1n, 'ab'], new Map([['name', 'x']]), lookups), "1    ab 'x'");
  assert.equal(formatValue(1234567.891, ',.2f'), '1,234,567.89');
  assert.equal(formatValue(255n, '#06x'), '0x00ff');
  assert.equal(formatValue(0.25, '.0%'), '25%');
});

test('str methods', () => {
  assert.equal(pyStr(call('a,b,,c', 'split', ',')), "['a', 'b', '', 'c']");
  assert.equal(pyStr(call('  a  b ', 'split')), "['a', 'b']");
  assert.equal(pyStr(call('a b c', 'rsplit', null, 1n)), "['a b', 'c']");
  assert.equal(call('xxhixx', 'strip', 'x'), 'hi');
  assert.equal(call('hello', 'startswith', new PyTuple(['x', 'he'])), true);
  assert.equal(call('{0}-{1}', 'format', 'a', 'b'), 'a-b');
  assert.equal(call('hello world', 'title'), 'Hello World');
  assert.equal(call('42', 'zfill', 5n), '00042');
  assert.equal(pyStr(call('a=b=c', 'partition', '=')), "('a', '=', 'b=c')");
  assert.equal(call('ab', 'find', 'z'), -1n);
  assert.equal(pyStr(call('é', 'encode')), "b'\\xc3\\xa9'");
});

test('list and dict methods mutate in place', () => {
  const l = fromJs([3, 1]) as PyValue[];
  call(l, 'append', 2n);
  call(l, 'sort');
  assert.equal(pyStr(l), '[1, 2, 3]');
  assert.equal(call(l, 'pop'), 3n);
  const d = fromJs({ a: 1 });
  assert.equal(call(d, 'get', 'z', 'dflt'), 'dflt');
  assert.equal(pyStr(call(d, 'setdefault', 'b', [])), '[]');
  call(d, 'update', fromJs({ c: 2 }));
  assert.equal(pyStr(call(d, 'items')), "dict_items([('a', 1), ('b', []), ('c', 2)])");
  assert.equal(call(d, 'pop', 'a'), 1n);
  assert.throws(
    () => call(d, 'pop', 'nope'),
    (e) => e instanceof PyError && e.pyType === 'KeyError',
  );
});

test('JSON: dumps like Python, loads keeps ints and floats apart', () => {
  assert.equal(
    jsonDumps(fromJs({ b: [1, 2.5, null], a: 'é' }), { sortKeys: true }),
    '{"a": "\\u00e9", "b": [1, 2.5, null]}',
  );
  assert.equal(jsonDumps(fromJs([1]), { indent: 2 }), '[\n  1\n]');
  const v = jsonLoads('{"i": 1, "f": 1.0, "big": 123456789012345678901234567890, "l": [true, null]}');
  assert.equal(pyStr(v), "{'i': 1, 'f': 1.0, 'big': 123456789012345678901234567890, 'l': [True, None]}");
  assert.throws(() => jsonLoads('{"a": }'), /Expecting value/);
});

test('fromJs / toJs conversions', () => {
  assert.equal(fromJs(2), 2n);
  assert.equal(fromJs(2.5), 2.5);
  assert.equal(fromJs(undefined), null);
  assert.ok(fromJs(new Set([1])) instanceof PySet);
  assert.ok(fromJs(Buffer.from('x')) instanceof PyBytes);
  assert.deepEqual(toJs(fromJs({ a: [1, 2.5, 'x', null, true], b: { c: 2n ** 70n } })), {
    a: [1, 2.5, 'x', null, true],
    b: { c: 2n ** 70n },
  });
  assert.deepEqual(toJs(new PyTuple([1n])), [1]);
  // A JSON number kept with its source keeps its Python type.
  assert.equal(
    pyStr(fromJs([new PyNumber('2.0'), new PyNumber('12345678901234567890')])),
    '[2.0, 12345678901234567890]',
  );
});

test('module stand-ins: json, operator, hashlib, base64, six', () => {
  assert.deepEqual([...SUPPORTED_MODULES].sort(), [
    'base64',
    'functools',
    'hashlib',
    'itertools',
    'json',
    'netaddr',
    'operator',
    'os',
    'os.path',
    'posixpath',
    're',
    'six',
    'six.moves',
    'six.moves.urllib',
    'six.moves.urllib.parse',
    'sys',
    'urllib',
    'urllib.parse',
  ]);
  assert.equal(pythonModule('subprocess'), null);
  const ctx = {
    json: pythonModule('json'),
    operator: pythonModule('operator'),
    hashlib: pythonModule('hashlib'),
    base64: pythonModule('base64'),
    six: pythonModule('six'),
  };
  const out = renderTemplate(
    "{{ json.dumps({'b': 1, 'a': [1.0]}, sort_keys=True) }} {{ json.loads('[1, 2.5]') }} " +
      "{{ [{'k': 2}, {'k': 1}]|sort(attribute='k')|map(attribute='k')|list }} {{ (operator.itemgetter('k'))({'k': 'v'}) }} " +
      "{{ hashlib.md5('abc'.encode()).hexdigest() }} {{ base64.b64encode('hi'.encode()) }} " +
      "{{ six.iteritems({'a': 1})|list }} {{ isinstance('x', six.string_types) if isinstance is defined else 'n/a' }}",
    ctx,
    { undefined: 'strict' },
  );
  assert.equal(
    out,
    '{"a": [1.0], "b": 1} [1, 2.5] [1, 2] v 900150983cd24fb0d6963f7d28e17f72 b\'aGk=\' [(\'a\', 1)] n/a',
  );
});

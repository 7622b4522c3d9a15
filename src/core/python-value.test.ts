import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PyNumber,
  parsePythonJson,
  pyFloatRepr,
  pyRepr,
  pyStr,
  stringifyPythonJson,
} from './python-value.ts';

test('floats print as Python repr does', () => {
  const cases: [number, string][] = [
    [1.5, '1.5'],
    [0.1, '0.1'],
    [100, '100.0'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e+16'],
    [1.5e16, '1.5e+16'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [-2.5e-7, '-2.5e-07'],
    [1e300, '1e+300'],
    [123456.789, '123456.789'],
    [-0, '-0.0'],
    [0, '0.0'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [NaN, 'nan'],
    [1700000000.25, '1700000000.25'],
  ];
  for (const [value, expected] of cases) assert.equal(pyFloatRepr(value), expected, String(value));
});

test('str() of JSON values as Python prints them', () => {
  assert.equal(pyStr('plain'), 'plain');
  assert.equal(pyStr(true), 'True');
  assert.equal(pyStr(false), 'False');
  assert.equal(pyStr(null), 'None');
  assert.equal(pyStr(3), '3');
  assert.equal(pyStr(-0), '-0.0');
  assert.equal(pyStr(-42), '-42');
  assert.equal(pyStr(1e21), '1000000000000000000000');
  assert.equal(pyStr(1.5), '1.5');
  assert.equal(pyStr({ a: 1 }), "{'a': 1}");
  assert.equal(pyStr([1, 2]), '[1, 2]');
  assert.equal(pyStr({}), '{}');
  assert.equal(pyStr([]), '[]');
  assert.equal(pyStr({ a: [true, null, 'x'], b: { c: 1.5 } }), "{'a': [True, None, 'x'], 'b': {'c': 1.5}}");
  assert.equal(pyRepr("it's"), '"it\'s"');
  assert.equal(pyRepr('both \' and "'), "'both \\' and \"'");
  assert.equal(pyRepr('tab\tnl\ncr\r\\'), "'tab\\tnl\\ncr\\r\\\\'");
  assert.equal(pyRepr('\u0001\u007f'), "'\\x01\\x7f'");
  assert.equal(pyRepr('Привет мир é'), "'Привет мир é'");
  assert.equal(pyRepr('\u00a0\u200b\u2028'), "'\\xa0\\u200b\\u2028'");
  assert.equal(pyRepr('\u{1F600}'), "'\u{1F600}'");
});

test('JSON numbers keep their Python type when a JS number would lose it', () => {
  const parsed = parsePythonJson(
    '{"a": 1.0, "b": 1, "c": 1e3, "d": 12345678901234567890, "e": 2.5, "s": "1.0"}',
  ) as Record<string, unknown>;
  assert.ok(parsed.a instanceof PyNumber);
  assert.equal(pyStr(parsed.a), '1.0');
  assert.equal(parsed.b, 1);
  assert.equal(pyStr(parsed.c), '1000.0');
  assert.equal(pyStr(parsed.d), '12345678901234567890');
  assert.equal(parsed.e, 2.5);
  assert.equal(parsed.s, '1.0');
  assert.equal(pyStr({ nested: parsed.a }), "{'nested': 1.0}");
  assert.equal(JSON.stringify(parsed.a), '1');
  assert.equal(
    stringifyPythonJson(parsed),
    '{"a":1.0,"b":1,"c":1e3,"d":12345678901234567890,"e":2.5,"s":"1.0"}',
  );
  assert.deepEqual(parsePythonJson('{"x": [1, "2"]}'), { x: [1, '2'] });
});

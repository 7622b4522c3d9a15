import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededChoices } from '../testing/hostile-strings.ts';
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

test('a PyNumber holds the non-finite floats by their Python repr (the XML marshaller keeps <float>inf</float>)', () => {
  for (const [source, value] of [
    ['inf', Infinity],
    ['-inf', -Infinity],
    ['nan', NaN],
  ] as const) {
    const number = new PyNumber(source);
    assert.equal(number.isFloat, true);
    assert.equal(number.value, value);
    assert.equal(pyStr(number), source);
    assert.equal(pyRepr([number]), `[${source}]`);
  }
  // Stored as JSON the way Python's json writes them, and read back.
  const stored = stringifyPythonJson({
    a: new PyNumber('inf'),
    b: [new PyNumber('-inf'), new PyNumber('nan')],
    s: 'NaN Infinity',
  });
  assert.equal(stored, '{"a":Infinity,"b":[-Infinity,NaN],"s":"NaN Infinity"}');
  const read = parsePythonJson(stored) as { a: PyNumber; b: PyNumber[]; s: string };
  assert.deepEqual(read, {
    a: new PyNumber('inf'),
    b: [new PyNumber('-inf'), new PyNumber('nan')],
    s: 'NaN Infinity',
  });
  assert.equal(stringifyPythonJson(read), stored);
  // Only these exact spellings: any other text stays a JSON number source.
  assert.equal(new PyNumber('12').isFloat, false);
  assert.equal(Number.isNaN(new PyNumber('toString').value), true);
});

test('parsePythonJson round-trips random values: numbers keep their source, strings stay strings', () => {
  const random = seededChoices(20261207);
  // Digits, exponents and quotes inside strings must never be read as numbers, escaped or not.
  const units = [
    '1',
    '.',
    'e',
    '-',
    '0',
    '"',
    '\\',
    '\\"',
    '1.0',
    '1e3',
    '\n',
    '\r',
    '\u2028',
    '\u0000',
    'é',
  ];
  const numbers = ['0', '-0', '1', '-1', '1.0', '2.5', '1e3', '-1E-2', '12345678901234567890', '0.1'];
  const text = (): string => Array.from({ length: random(6) }, () => units[random(units.length)]).join('');
  for (let round = 0; round < 500; round++) {
    const members: string[] = [];
    const expected: Record<string, string> = {};
    for (let i = random(6); i >= 0; i--) {
      const key = `${text()}#${i}`;
      if (random(2) === 0) {
        const value = text();
        members.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
        expected[key] = JSON.stringify(value);
      } else {
        const value = numbers[random(numbers.length)] ?? '0';
        members.push(`${JSON.stringify(key)}: ${value}`);
        expected[key] = value;
      }
    }
    const source = `{${members.join(',')}}`;
    const parsed = parsePythonJson(source, JSON.parse(source)) as Record<string, unknown>;
    const written = Object.fromEntries(
      Object.entries(parsed).map(([key, value]) => [key, stringifyPythonJson(value)]),
    );
    // Integral floats (1.0, 1e3), huge integers and -0 keep their source; other numbers come back by value.
    const keepsSource = new Set(['1.0', '1e3', '12345678901234567890', '-0']);
    for (const [key, value] of Object.entries(expected)) {
      const byValue = value.startsWith('"') ? value : JSON.stringify(JSON.parse(value));
      assert.equal(written[key], keepsSource.has(value) ? value : byValue, source);
    }
  }
});

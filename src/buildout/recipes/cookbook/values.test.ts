import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFloat, PyTuple, pyRepr } from '../../py-value.ts';
import { throwsSlapError } from '../../../testing/slap-error-assert.ts';
import { jsonToPy, pyToJson, pythonJsonDumps, unwrapSerialised, wrapSerialised } from './values.ts';

test('JSON ⇄ Python values keep every key as data, __proto__ included', () => {
  const parsed = jsonToPy(JSON.parse('{"__proto__": {"polluted": 1}, "a": [1, 2.5, null]}')) as Record<
    string,
    unknown
  >;
  assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  assert.deepEqual(Object.keys(parsed), ['__proto__', 'a']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const back = pyToJson(parsed as never, 'x') as Record<string, unknown>;
  assert.deepEqual(Object.keys(back), ['__proto__', 'a']);
  assert.deepEqual(pyToJson(new PyTuple(['a', 1]), 'x'), ['a', 1]);
  throwsSlapError(
    () => pyToJson(new Set(['a']), 'here'),
    'SLAP_ERR_PROFILE',
    /here: a set is not JSON serialisable/,
  );
});

test("json-in-xml: Python's json.dumps text, unwrapped back; bad JSON is named", () => {
  assert.equal(
    pythonJsonDumps({ b: [1, 2.5, true, null], é: 'ü\n"' }),
    '{"b": [1, 2.5, true, null], "\\u00e9": "\\u00fc\\n\\""}',
  );
  const wrapped = wrapSerialised({ name: 'x', n: 1 });
  assert.deepEqual(Object.keys(wrapped), ['_']);
  assert.deepEqual(unwrapSerialised(wrapped, 'p'), { name: 'x', n: 1 });
  assert.deepEqual(unwrapSerialised({ name: 'plain' }, 'p'), { name: 'plain' });
  throwsSlapError(
    () => unwrapSerialised({ _: '{bad' }, 'params'),
    'SLAP_ERR_INVALID_INPUT',
    /params: the "_" parameter is not valid JSON/,
  );
});

test('json-in-xml: floats and big integers keep their Python type through unwrap and json.dumps', () => {
  const text = '{"ratio": 2.0, "big": 1e20, "n": 3, "exact": 12345678901234567890, "half": 0.5}';
  const value = unwrapSerialised({ _: text }, 'p') as Record<string, unknown>;
  assert.ok(value.ratio instanceof PyFloat);
  assert.equal(value.exact, 12345678901234567890n);
  assert.equal(
    pyRepr(value as never),
    "{'big': 1e+20, 'exact': 12345678901234567890, 'half': 0.5, 'n': 3, 'ratio': 2.0}",
  );
  // Python: json.dumps(json.loads(text)) gives the same text back.
  assert.equal(
    pythonJsonDumps(pyToJson(value as never, 'p', { pythonNumbers: true })),
    '{"ratio": 2.0, "big": 1e+20, "n": 3, "exact": 12345678901234567890, "half": 0.5}',
  );
});

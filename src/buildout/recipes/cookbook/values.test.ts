import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyDict, PySet, PyTuple, fromJs, pyPformat } from '../../py-value.ts';
import { throwsSlapError } from '../../../testing/slap-error-assert.ts';
import { pyToJson, unwrapSerialised, wrapSerialised } from './values.ts';

test('JSON ⇄ Python values keep every key as data, __proto__ included', () => {
  const parsed = fromJs(JSON.parse('{"__proto__": {"polluted": 1}, "a": [1, 2.5, null]}'));
  assert.ok(parsed instanceof PyDict);
  assert.deepEqual([...parsed.keys()], ['__proto__', 'a']);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const back = pyToJson(parsed, 'x') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
  assert.deepEqual(Object.keys(back), ['__proto__', 'a']);
  assert.deepEqual(pyToJson(new PyTuple(['a', 1n]), 'x'), ['a', 1]);
  throwsSlapError(
    () => pyToJson(new PySet(['a']), 'here'),
    'SLAP_ERR_PROFILE',
    /here: a set is not JSON serialisable/,
  );
});

test("json-in-xml: Python's json.dumps text, unwrapped back; bad JSON is named", () => {
  assert.deepEqual(wrapSerialised(fromJs({ b: [1, 2.5, true, null], é: 'ü\n"' }), 'p'), {
    _: '{"b": [1, 2.5, true, null], "\\u00e9": "\\u00fc\\n\\""}',
  });
  const wrapped = fromJs(wrapSerialised(fromJs({ name: 'x', n: 1 }), 'p'));
  assert.deepEqual(unwrapSerialised(wrapped, 'p'), fromJs({ name: 'x', n: 1 }));
  assert.deepEqual(unwrapSerialised(fromJs({ name: 'plain' }), 'p'), fromJs({ name: 'plain' }));
  throwsSlapError(
    () => unwrapSerialised(fromJs({ _: '{bad' }), 'params'),
    'SLAP_ERR_INVALID_INPUT',
    /params: the "_" parameter is not valid JSON/,
  );
  throwsSlapError(
    () => wrapSerialised(new PySet(['a']), 'here'),
    'SLAP_ERR_PROFILE',
    /here: Object of type set is not JSON serializable/,
  );
});

test('json-in-xml: floats and big integers keep their Python type through unwrap and json.dumps', () => {
  const text = '{"ratio": 2.0, "big": 1e20, "n": 3, "exact": 12345678901234567890, "half": 0.5}';
  const value = unwrapSerialised(fromJs({ _: text }), 'p');
  assert.ok(value instanceof PyDict);
  assert.equal(value.get('ratio'), 2);
  assert.equal(value.get('exact'), 12345678901234567890n);
  assert.equal(
    pyPformat(value),
    "{'big': 1e+20, 'exact': 12345678901234567890, 'half': 0.5, 'n': 3, 'ratio': 2.0}",
  );
  // Python: json.dumps(json.loads(text)) gives the same text back.
  assert.deepEqual(wrapSerialised(value, 'p'), {
    _: '{"ratio": 2.0, "big": 1e+20, "n": 3, "exact": 12345678901234567890, "half": 0.5}',
  });
});

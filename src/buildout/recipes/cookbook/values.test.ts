import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyTuple } from '../../py-value.ts';
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

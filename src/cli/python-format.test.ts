import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pythonPformat } from './python-format.ts';

test('values print as Python literals with sorted keys', () => {
  assert.equal(
    pythonPformat({ b: '2', a: null, c: true, d: 1.5, e: [1, false], f: "it's" }),
    `{'a': None, 'b': '2', 'c': True, 'd': 1.5, 'e': [1, False], 'f': "it's"}`,
  );
  assert.equal(pythonPformat({}), '{}');
});

test('pformat keeps short values on one line and puts one item per line beyond 80 columns', () => {
  assert.equal(pythonPformat({ url: 'http://[::1]:8080/' }), "{'url': 'http://[::1]:8080/'}");
  const long = { 'frontend-url': `https://${'y'.repeat(40)}/`, 'backend-url': `http://${'x'.repeat(40)}/` };
  assert.equal(
    pythonPformat(long),
    `{'backend-url': 'http://${'x'.repeat(40)}/',\n 'frontend-url': 'https://${'y'.repeat(40)}/'}`,
  );
  const nested = { outer: { a: 'x'.repeat(50), b: 'y'.repeat(50) } };
  assert.equal(
    pythonPformat(nested),
    `{'outer': {'a': '${'x'.repeat(50)}',\n           'b': '${'y'.repeat(50)}'}}`,
  );
});

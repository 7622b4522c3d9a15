import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pythonPformat, pythonRepr, pythonStringRepr } from './python-format.ts';

test('strings are quoted as Python repr() does', () => {
  assert.equal(pythonStringRepr('abc'), "'abc'");
  assert.equal(pythonStringRepr("it's"), `"it's"`);
  assert.equal(pythonStringRepr(`it's "x"`), `'it\\'s "x"'`);
  assert.equal(pythonStringRepr('a\\b\nc\td\u0001'), "'a\\\\b\\nc\\td\\x01'");
  assert.equal(pythonStringRepr('été'), "'été'");
});

test('values print as Python literals with sorted keys', () => {
  assert.equal(
    pythonRepr({ b: '2', a: null, c: true, d: 1.5, e: [1, false] }),
    "{'a': None, 'b': '2', 'c': True, 'd': 1.5, 'e': [1, False]}",
  );
  assert.equal(pythonRepr({}), '{}');
});

test('pformat keeps short values on one line and puts one item per line beyond 80 columns', () => {
  assert.equal(pythonPformat({ url: 'http://[::1]:8080/' }), "{'url': 'http://[::1]:8080/'}");
  const long = { 'backend-url': `http://${'x'.repeat(40)}/`, 'frontend-url': `https://${'y'.repeat(40)}/` };
  assert.equal(
    pythonPformat(long),
    `{'backend-url': 'http://${'x'.repeat(40)}/',\n 'frontend-url': 'https://${'y'.repeat(40)}/'}`,
  );
});

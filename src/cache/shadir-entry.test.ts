import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { throwsSlapError } from '../testing/slap-error-assert.ts';
import { parseRange } from './byte-range.ts';
import { checkShadirKey, parseShadirPut } from './shadir-entry.ts';
import { presentedToken } from './upload-auth.ts';

const SHA512 = createHash('sha512').update('x').digest('hex');

test('shadir keys: md5 keys and source-cache keys pass; random hostile strings with a slash, a dot-dot or a control character never do', () => {
  const md5 = createHash('md5').update('https://example.invalid/software.cfg').digest('hex');
  for (const key of [md5, `file-urlmd5:${md5}`, 'slapos-buildout-abc', 'pypi-buildout-a.b_c'])
    assert.equal(checkShadirKey(key), key);
  const random = seededRandom(7);
  for (let i = 0; i < 2000; i++) {
    const key = hostileString(random, 8);
    let accepted = true;
    try {
      checkShadirKey(key);
    } catch {
      accepted = false;
    }
    if (
      key.includes('/') ||
      key.includes('..') ||
      key.startsWith('.') ||
      /[\0-\x20\x7f-\uffff]/.test(key) ||
      key === '' ||
      key.length > 255
    )
      assert.equal(accepted, false, JSON.stringify(key));
  }
});

test('a PUT body keeps the entry and signature strings exactly', () => {
  const entry = JSON.stringify({
    sha512: SHA512,
    software_url: 'https://x/\u2028é',
    os: ['debian', '12', ''],
  });
  const parsed = parseShadirPut(JSON.stringify([entry, 'YWJj\n']));
  assert.deepEqual(parsed, { entry, signature: 'YWJj\n', sha512: SHA512 });
  throwsSlapError(() => parseShadirPut(JSON.stringify([entry, 'a b'])), 'SLAP_ERR_INVALID_INPUT', /base64/);
  throwsSlapError(() => parseShadirPut('[{}, ""]'), 'SLAP_ERR_INVALID_INPUT', /two strings/);
});

test('byte ranges: one range honoured, several or other units ignored, past the end unsatisfiable', () => {
  assert.deepEqual(parseRange('bytes=0-', 10), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=3-5', 10), { start: 3, end: 5 });
  assert.deepEqual(parseRange('bytes=3-50', 10), { start: 3, end: 9 });
  assert.deepEqual(parseRange('bytes=-4', 10), { start: 6, end: 9 });
  assert.deepEqual(parseRange('bytes=-40', 10), { start: 0, end: 9 });
  assert.equal(parseRange(undefined, 10), undefined);
  assert.equal(parseRange('bytes=0-1,3-4', 10), undefined);
  assert.equal(parseRange('items=0-1', 10), undefined);
  assert.equal(parseRange('bytes=5-3', 10), undefined);
  assert.equal(parseRange('bytes=-', 10), undefined);
  assert.equal(parseRange('bytes=10-', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 10), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  assert.equal(parseRange(`bytes=${'9'.repeat(30)}-`, 10), 'unsatisfiable');
});

test('upload tokens are read from Bearer or from the password of Basic credentials, nothing else', () => {
  const token = 'A'.repeat(43);
  assert.equal(presentedToken(`Bearer ${token}`), token);
  assert.equal(presentedToken(`bearer ${token}`), token);
  assert.equal(presentedToken(`Basic ${Buffer.from(`user:${token}`).toString('base64')}`), token);
  assert.equal(presentedToken(`Basic ${Buffer.from(`:${token}`).toString('base64')}`), token);
  assert.equal(presentedToken(`Basic ${Buffer.from(token).toString('base64')}`), undefined);
  assert.equal(presentedToken('Bearer short'), undefined);
  assert.equal(presentedToken(token), undefined);
  assert.equal(presentedToken(undefined), undefined);
  assert.equal(presentedToken(`Bearer ${token} extra`), undefined);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { LegacyForm } from './form.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

test('form fields round-trip exactly, whatever they hold (every line terminator, NUL, controls)', () => {
  const random = seededRandom(3);
  for (let round = 0; round < 500; round++) {
    const name = hostileString(random, 3).replace(LONE_SURROGATE, '\uFFFD');
    const value = hostileString(random, 8).replace(LONE_SURROGATE, '\uFFFD');
    const other = name === 'other' ? 'another' : 'other';
    const encoded = new URLSearchParams([
      [name, value],
      [other, '+&='],
    ]).toString();
    const form = LegacyForm.parse(encoded, 'body');
    assert.equal(form.optional(name), value);
    assert.equal(form.optional(other), '+&=');
  }
});

test('plus is a space, a pair without = is an empty value, empty pairs are skipped', () => {
  const form = LegacyForm.parse('a=1+2&&flag&c=%2B', 'body');
  assert.equal(form.optional('a'), '1 2');
  assert.equal(form.optional('flag'), '');
  assert.equal(form.optional('c'), '+');
  assert.equal(form.optional('missing'), undefined);
});

test('bad escapes, escaped bytes that are not UTF-8, and repeated fields are refused (400)', () => {
  for (const text of ['a=%zz', 'a=%', 'a=%C3', 'a=%ED%A0%80', 'a=%C0%AF', '%FF=1', 'a=1&a=2', 'a=1&a']) {
    assert.throws(
      () => LegacyForm.parse(text, 'body'),
      (error: Error & { code?: string }) => error.code === 'SLAP_ERR_INVALID_INPUT',
      text,
    );
  }
});

test('a missing required field and a value breaking its text rule are 400s naming the field', () => {
  const form = LegacyForm.parse('computer_id=a%00b&message=a%00b&partition_reference=', 'body');
  assert.throws(() => form.required('url'), /missing the field "url"/);
  assert.throws(
    () => form.required('computer_id'),
    /field "computer_id" must NOT contain control characters/,
  );
  assert.throws(() => form.required('partition_reference'), /must NOT be empty/);
  // Free text only refuses NUL.
  assert.throws(() => form.required('message'), /NUL/);
  assert.equal(LegacyForm.parse('message=line%0Anext%0D', 'body').required('message'), 'line\nnext\r');
});

test("a POST's query fields join its body's (Flask's request.values); a name in both is refused", () => {
  const body = LegacyForm.parse('message=m', 'body');
  const form = body.with(LegacyForm.parse('computer_id=c', 'query string'));
  assert.equal(form.required('computer_id'), 'c');
  assert.equal(form.required('message'), 'm');
  assert.throws(() => body.with(LegacyForm.parse('message=n', 'query string')), /given more than once/);
});

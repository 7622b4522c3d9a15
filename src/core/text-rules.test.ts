import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parameterDictProblem, TEXT_RULES, textProblem } from './text-rules.ts';

test('names: bounded, no control characters, no path traversal', () => {
  for (const good of [
    'slappart0',
    'COMP-1234',
    'My Instance (prod) é',
    'a..b',
    'x.y',
    '[::1]',
    'http://sr//',
  ]) {
    assert.equal(textProblem(good, TEXT_RULES.name), undefined, good);
  }
  const bad: [string, RegExp][] = [
    ['x'.repeat(256), /more than 255/],
    ['', /empty/],
    ['tab\there', /control/],
    ['\u0085next line', /control/],
    ['line\u2028separator', /control/],
    ['../etc', /traversal/],
    ['a/../b', /traversal/],
    ['a\\..\\b', /traversal/],
    ['..', /traversal/],
    ['.', /traversal/],
    ['\uffff', /XML/],
  ];
  for (const [value, reason] of bad)
    assert.match(textProblem(value, TEXT_RULES.name) ?? '', reason, JSON.stringify(value));
  assert.equal(textProblem('', TEXT_RULES.optionalName), undefined);
  assert.match(textProblem('x'.repeat(201), TEXT_RULES.title) ?? '', /200/);
});

test('free text takes anything but NUL and unpaired surrogates', () => {
  assert.equal(textProblem('log\n\u001b[31mred\u001b[0m\ttab', TEXT_RULES.freeText), undefined);
  assert.equal(textProblem('x'.repeat(100_000), TEXT_RULES.freeText), undefined);
  assert.equal(textProblem('emoji \u{1F600}', TEXT_RULES.freeText), undefined);
  assert.match(textProblem('nul\u0000', TEXT_RULES.freeText) ?? '', /NUL/);
  assert.match(textProblem('lone \ud800', TEXT_RULES.freeText) ?? '', /surrogate/);
  assert.match(textProblem('lone \udc00 low', TEXT_RULES.freeText) ?? '', /surrogate/);
});

test('parameter dictionaries must be storable as parameter XML', () => {
  assert.equal(parameterDictProblem({ a: 'multi\nline\ttext', n: 1, nested: { '\u0001': 'x' } }), undefined);
  assert.match(parameterDictProblem({ a: 'bell\u0007' }) ?? '', /value/);
  assert.match(parameterDictProblem({ 'k\u0000': 'x' }) ?? '', /key/);
  assert.match(parameterDictProblem({ ['k'.repeat(1025)]: 'x' }) ?? '', /longer/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from '../core/errors.ts';
import { hostileString, LINE_TERMINATORS, seededRandom } from '../testing/hostile-strings.ts';
import { parseIni } from './ini.ts';
import { iniValueProblem, renderIni } from './ini-render.ts';

test('a value is written so that it reads back exactly, or refused without changing the structure', () => {
  const random = seededRandom(8);
  let written = 0;
  for (let i = 0; i < 3000; i++) {
    const value = hostileString(random);
    const problem = iniValueProblem(value);
    let text: string;
    try {
      text = renderIni([
        ['first', [['value', value]]],
        ['second', [['after', 'end']]],
      ]);
    } catch (error) {
      assert.ok(error instanceof SlapError && error.code === 'SLAP_ERR_CONFIG', String(error));
      assert.notEqual(problem, undefined, JSON.stringify(value));
      if (value.length > 40) assert.equal(error.message.includes(value), false, 'the value is not echoed');
      continue;
    }
    written++;
    assert.equal(problem, undefined);
    const parsed = parseIni(text);
    assert.deepEqual(parsed.sections(), ['first', 'second'], JSON.stringify(value));
    assert.equal(parsed.get('first', 'value'), value);
    assert.deepEqual(Object.keys(parsed.items('first')), ['value']);
    assert.equal(parsed.get('second', 'after'), 'end');
  }
  assert.ok(written > 100, 'some values are written');
});

test('every line terminator, control character and blank end is refused', () => {
  for (const bad of [...LINE_TERMINATORS, '\0', '\x7f', '\x9f', ' ', '\u3000'])
    for (const value of [`a${bad}b`, `${bad}a`, `a${bad}`])
      if (value.trim() !== value || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(value))
        assert.throws(() => renderIni([['s', [['k', value]]]]), { code: 'SLAP_ERR_CONFIG' });
  assert.equal(iniValueProblem('\ud800'), 'is not valid Unicode');
  assert.equal(iniValueProblem(''), undefined);
  assert.equal(parseIni(renderIni([['s', [['k', '100%(x)s']]]])).get('s', 'k'), '100%(x)s');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINE_TERMINATORS, seededRandom } from '../testing/hostile-strings.ts';
import { promiseResultLines } from './instance-status-text.ts';
import { indentBlock, oneLine, printableLine, renderTable, textLines } from './text-block.ts';

const TERMINATORS = LINE_TERMINATORS;
const NASTY = [...TERMINATORS, '\0', '\x1b[31m', '\x07', '\x7f', '\x9b', '\t', 'é', '😀', ' ', 'a', 'Z', '-'];

const random = seededRandom;

function randomText(next: () => number): string {
  let text = '';
  const length = Math.floor(next() * 40);
  for (let i = 0; i < length; i++) {
    text +=
      next() < 0.5
        ? (NASTY[Math.floor(next() * NASTY.length)] ?? '')
        : String.fromCharCode(Math.floor(next() * 0x3000));
  }
  return text;
}

/** What no printed line may hold: a line terminator or a control character other than the tab. */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;

test('textLines cuts at every line terminator and makes the other control characters visible', () => {
  for (const terminator of TERMINATORS)
    assert.deepEqual(textLines(`a${terminator}b`), ['a', 'b'], JSON.stringify(terminator));
  assert.deepEqual(textLines('one\n'), ['one']);
  assert.deepEqual(textLines(''), ['']);
  assert.equal(
    printableLine('red \x1b[31m bell \x07 nul \0 tab\t'),
    'red \\u001b[31m bell \\u0007 nul \\u0000 tab\t',
  );
  assert.deepEqual(indentBlock('first\nsecond\r\nthird', '  error: ', '         '), [
    '  error: first',
    '         second',
    '         third',
  ]);
});

test('property: random text never changes the shape of a table', () => {
  const next = random(20261207);
  for (let round = 0; round < 500; round++) {
    const rows = Array.from({ length: 1 + Math.floor(next() * 4) }, () => [
      randomText(next),
      randomText(next),
      randomText(next),
    ]);
    const lines = renderTable(['PARTITION', 'TITLE', 'ERROR'], rows, { indent: '  ' });
    const expected = 1 + rows.reduce((sum, row) => sum + textLines(row[2] ?? '').length, 0);
    assert.equal(lines.length, expected, JSON.stringify(rows));
    const errorColumn = (lines[0] ?? '').indexOf('ERROR');
    for (const line of lines) {
      assert.doesNotMatch(line, UNSAFE, JSON.stringify(line));
      assert.ok(line === '' || line.startsWith('  '), JSON.stringify(line));
    }
    // Each row starts a line whose cells end where the header's columns do; the others are indented.
    let at = 1;
    for (const row of rows) {
      const count = textLines(row[2] ?? '').length;
      for (let i = 1; i < count; i++) {
        const line = lines[at + i] ?? '';
        assert.equal(line.slice(0, errorColumn).trim(), '', JSON.stringify(line));
      }
      at += count;
    }
  }
});

test('a table: header, padded columns, the last cell over several lines', () => {
  assert.deepEqual(
    renderTable(
      ['PARTITION', 'TITLE', 'ERROR'],
      [
        ['slappart0', 'hello', ''],
        ['slappart10', 'a', 'failed\nlast lines'],
      ],
    ),
    [
      'PARTITION   TITLE  ERROR',
      'slappart0   hello',
      'slappart10  a      failed',
      '                   last lines',
    ],
  );
});

test('property: a promise result keeps its name on its line, whatever the name', () => {
  const next = random(314);
  for (let round = 0; round < 300; round++) {
    const name = `p${randomText(next)}`;
    const lines = promiseResultLines(
      {
        instance_guid: 'SOFTINST-1',
        reported_at: '2026-12-07T03:00:00Z',
        result_list: [{ name, status: 'fail', message: 'down', date: '2026-12-07T03:00:00Z' }],
      },
      false,
    );
    assert.equal(lines.length, 2, JSON.stringify(name));
    for (const line of lines) assert.doesNotMatch(line, UNSAFE, JSON.stringify(name));
    assert.equal(oneLine(name).includes('\n'), false);
  }
});

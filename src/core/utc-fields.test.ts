import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utcFieldsTime } from './utc-fields.ts';

test('utcFieldsTime: every real date and time of a leap year reads back to its own fields', () => {
  for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2025, 0, 1); t += 3_607_001) {
    const d = new Date(t);
    const fields = [
      d.getUTCFullYear(),
      d.getUTCMonth() + 1,
      d.getUTCDate(),
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
      d.getUTCMilliseconds(),
    ] as const;
    assert.equal(utcFieldsTime(fields), t);
  }
});

test('utcFieldsTime: a field out of its range is refused, not rolled over', () => {
  const refused = [
    [2026, 13, 1, 0, 0, 0],
    [2026, 0, 1, 0, 0, 0],
    [2026, 2, 29, 0, 0, 0],
    [2026, 4, 31, 0, 0, 0],
    [2026, 1, 0, 0, 0, 0],
    [2026, 1, 1, 24, 0, 0],
    [2026, 1, 1, 0, 60, 0],
    [2026, 1, 1, 0, 0, 60],
    [99, 1, 1, 0, 0, 0], // Date.UTC reads years 0-99 as 1900-1999
    [2026, 1, 1, 0, 0], // a field missing
  ];
  for (const fields of refused) assert.equal(utcFieldsTime(fields), undefined, fields.join(','));
  assert.equal(utcFieldsTime([2024, 2, 29, 23, 59, 59]), Date.UTC(2024, 1, 29, 23, 59, 59));
});

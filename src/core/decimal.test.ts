import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  add,
  compare,
  decimalOfNumber,
  divideHalfUp,
  formatDecimal,
  multiply,
  negate,
  parseDecimal,
  roundHalfUp,
  subtract,
  sum,
  toScaledInteger,
} from './decimal.ts';
import { seededRandom } from '../testing/hostile-strings.ts';

const text = (value: string, places = 0) => formatDecimal(parseDecimal(value), places);

test('decimal text round-trips, trailing zeros dropped, exponents expanded', () => {
  assert.equal(text('1.50'), '1.5');
  assert.equal(text('-0.000'), '0');
  assert.equal(text('2e-4'), '0.0002');
  assert.equal(text('1.5E3'), '1500');
  assert.equal(text('0.1', 2), '0.10');
  assert.equal(formatDecimal(decimalOfNumber(1e-7)), '0.0000001');
  for (const bad of ['', '1.', '.5', 'NaN', 'Infinity', '1e99', '0x10', ' 1', '1,5'])
    assert.throws(() => parseDecimal(bad), /not a decimal|out of range/);
});

test('sums and products are exact where floating point is not', () => {
  assert.equal(formatDecimal(add(parseDecimal('0.1'), parseDecimal('0.2'))), '0.3');
  assert.equal(formatDecimal(multiply(parseDecimal('0.0001'), parseDecimal('123456.789'))), '12.3456789');
  assert.equal(formatDecimal(subtract(parseDecimal('1'), parseDecimal('1.000001'))), '-0.000001');
  assert.equal(formatDecimal(sum(Array.from({ length: 10 }, () => parseDecimal('0.1')))), '1');
  assert.equal(compare(parseDecimal('1.10'), parseDecimal('1.1')), 0);
  assert.equal(compare(parseDecimal('-2'), parseDecimal('1')), -1);
});

test('rounding is half away from zero', () => {
  assert.equal(formatDecimal(roundHalfUp(parseDecimal('2.345'), 2), 2), '2.35');
  assert.equal(formatDecimal(roundHalfUp(parseDecimal('-2.345'), 2), 2), '-2.35');
  assert.equal(formatDecimal(roundHalfUp(parseDecimal('2.3449999'), 2), 2), '2.34');
  assert.equal(formatDecimal(divideHalfUp(parseDecimal('10'), parseDecimal('3'), 6)), '3.333333');
  assert.equal(formatDecimal(divideHalfUp(parseDecimal('-2'), parseDecimal('3'), 2)), '-0.67');
  assert.equal(toScaledInteger(parseDecimal('1.5'), 6), 1_500_000n);
  assert.throws(() => toScaledInteger(parseDecimal('0.0000001'), 6), RangeError);
});

test('property: a + b - b = a, a × 1 = a, negate twice = a, for random decimals', () => {
  const random = seededRandom(15);
  const randomDecimal = () => {
    const digits = String(Math.floor(random() * 1e12));
    const places = Math.floor(random() * 12);
    const sign = random() < 0.3 ? '-' : '';
    return parseDecimal(`${sign}${digits}e-${places}`);
  };
  for (let i = 0; i < 500; i++) {
    const a = randomDecimal();
    const b = randomDecimal();
    assert.equal(compare(subtract(add(a, b), b), a), 0);
    assert.equal(compare(multiply(a, parseDecimal('1')), a), 0);
    assert.equal(compare(negate(negate(a)), a), 0);
    assert.equal(compare(parseDecimal(formatDecimal(a)), a), 0);
  }
});

/**
 * Exact decimal arithmetic for money and billed quantities: a value is an integer coefficient and a
 * count of decimal places (value = coefficient / 10^scale). Sums and products are exact; the only
 * rounding is the explicit, half-up (away from zero) `roundHalfUp` and `divideHalfUp`.
 */
import { SlapError } from './errors.ts';

export interface Decimal {
  readonly coefficient: bigint;
  /** Decimal places, >= 0. */
  readonly scale: number;
}

const DECIMAL_TEXT = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
/** Longest decimal text accepted (digits of coefficient and exponent together). */
const MAX_DECIMAL_TEXT = 64;

export const ZERO: Decimal = { coefficient: 0n, scale: 0 };

function pow10(exponent: number): bigint {
  return 10n ** BigInt(exponent);
}

/** `1.50`, `-3`, `2e-4`; throws SLAP_ERR_INVALID_INPUT on anything else. */
export function parseDecimal(text: string): Decimal {
  const match = text.length <= MAX_DECIMAL_TEXT ? DECIMAL_TEXT.exec(text) : null;
  if (!match)
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `not a decimal number: ${JSON.stringify(text.slice(0, 70))}`,
    );
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  const exponent = Number(exponentText);
  if (Math.abs(exponent) > 40)
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `decimal exponent out of range: ${JSON.stringify(text)}`);
  let coefficient = BigInt(whole + fraction);
  let scale = fraction.length - exponent;
  if (scale < 0) {
    coefficient *= pow10(-scale);
    scale = 0;
  }
  return normalize({ coefficient: sign === '-' ? -coefficient : coefficient, scale });
}

/** The decimal a finite JavaScript number prints as (its shortest round-trip text). */
export function decimalOfNumber(value: number): Decimal {
  if (!Number.isFinite(value)) throw new SlapError('SLAP_ERR_INVALID_INPUT', `not a finite number: ${value}`);
  return parseDecimal(String(value));
}

export function decimalOfInteger(value: bigint | number, scale = 0): Decimal {
  return normalize({ coefficient: BigInt(value), scale });
}

/** Trailing zeros of the fraction removed (one representation per value). */
function normalize(value: Decimal): Decimal {
  let { coefficient, scale } = value;
  if (coefficient === 0n) return ZERO;
  while (scale > 0 && coefficient % 10n === 0n) {
    coefficient /= 10n;
    scale--;
  }
  return { coefficient, scale };
}

function aligned(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.coefficient * pow10(scale - a.scale), b.coefficient * pow10(scale - b.scale), scale];
}

export function add(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = aligned(a, b);
  return normalize({ coefficient: x + y, scale });
}

export function subtract(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = aligned(a, b);
  return normalize({ coefficient: x - y, scale });
}

export function multiply(a: Decimal, b: Decimal): Decimal {
  return normalize({ coefficient: a.coefficient * b.coefficient, scale: a.scale + b.scale });
}

export function negate(a: Decimal): Decimal {
  return normalize({ coefficient: -a.coefficient, scale: a.scale });
}

export function sum(values: Iterable<Decimal>): Decimal {
  let total = ZERO;
  for (const value of values) total = add(total, value);
  return total;
}

export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const [x, y] = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** numerator / denominator (integers) rounded half away from zero. */
function divideIntegersHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError('division by zero');
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const quotient = (2n * n + d) / (2n * d);
  return negative ? -quotient : quotient;
}

/** The value rounded to `places` decimal places, half away from zero (2.345 → 2.35, -2.345 → -2.35). */
export function roundHalfUp(value: Decimal, places: number): Decimal {
  if (value.scale <= places) return value;
  return normalize({
    coefficient: divideIntegersHalfUp(value.coefficient, pow10(value.scale - places)),
    scale: places,
  });
}

/** a / b rounded half away from zero to `places` decimal places. */
export function divideHalfUp(a: Decimal, b: Decimal, places: number): Decimal {
  if (b.coefficient === 0n) throw new RangeError('division by zero');
  // a/b = (ca/10^sa) / (cb/10^sb); scaled by 10^places.
  const numerator = a.coefficient * pow10(places + b.scale);
  const denominator = b.coefficient * pow10(a.scale);
  return normalize({ coefficient: divideIntegersHalfUp(numerator, denominator), scale: places });
}

/** Plain decimal text, at least `minPlaces` places (`formatDecimal(x, 2)` for money). */
export function formatDecimal(value: Decimal, minPlaces = 0): string {
  const scale = Math.max(value.scale, minPlaces);
  const coefficient = value.coefficient * pow10(scale - value.scale);
  const negative = coefficient < 0n;
  const digits = (negative ? -coefficient : coefficient).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return `${negative ? '-' : ''}${whole}${scale > 0 ? `.${fraction}` : ''}`;
}

/** The value as an integer count of 10^-places (exact: throws if it has more places). */
export function toScaledInteger(value: Decimal, places: number): bigint {
  if (value.scale > places) throw new RangeError(`${formatDecimal(value)} has more than ${places} places`);
  return value.coefficient * pow10(places - value.scale);
}

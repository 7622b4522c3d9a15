/**
 * Exact decimal formatting of floats and parsing of numbers, as Python does them.
 * JavaScript's toFixed rounds ties away from zero and stops at 100 digits; Python rounds the exact
 * binary value half-to-even, so digits are computed here with BigInt arithmetic.
 */
import { PyError, valueError } from './values.ts';

/** x = mantissa × 2^exponent exactly (x finite, mantissa ≥ 0). */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exponent: number;
  if (biased === 0) exponent = -1074;
  else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  return { mantissa, exponent };
}

/** round(num / den) half to even, num ≥ 0, den > 0. */
function roundDiv(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) return q + 1n;
  return q;
}

const POW10: bigint[] = [];
function pow10(n: number): bigint {
  if (n < 64) return (POW10[n] ??= 10n ** BigInt(n));
  return 10n ** BigInt(n);
}

/** |x| × 10^scale rounded half-even to an integer. */
function scaledRound(x: number, scale: number): bigint {
  const { mantissa, exponent } = decompose(x);
  let num = mantissa;
  let den = 1n;
  if (exponent >= 0) num <<= BigInt(exponent);
  else den <<= BigInt(-exponent);
  if (scale >= 0) num *= pow10(scale);
  else den *= pow10(-scale);
  return roundDiv(num, den);
}

function signOf(x: number): string {
  return x < 0 || Object.is(x, -0) ? '-' : '';
}

/** Digits of |x| with `precision` digits after the point (no sign), like `'%.Nf'`. */
export function fixedDigits(x: number, precision: number): string {
  const q = scaledRound(x, precision).toString();
  if (precision === 0) return q;
  const padded = q.padStart(precision + 1, '0');
  return `${padded.slice(0, -precision)}.${padded.slice(-precision)}`;
}

/** |x| rounded to `significant` digits: the digit string and the decimal exponent of its first digit. */
export function significantDigits(x: number, significant: number): { digits: string; exp: number } {
  if (x === 0) return { digits: '0'.repeat(significant), exp: 0 };
  let exp = Math.floor(Math.log10(Math.abs(x)));
  for (let attempt = 0; attempt < 3; attempt++) {
    const q = scaledRound(x, significant - 1 - exp);
    const s = q.toString();
    if (s.length === significant) return { digits: s, exp };
    if (s.length > significant) {
      // rounding carried into a new digit (9.99 → 10.0), or the estimate was one too low
      if (q === pow10(significant)) return { digits: s.slice(0, significant), exp: exp + 1 };
      exp += 1;
    } else exp -= 1;
  }
  const q = scaledRound(x, significant - 1 - exp).toString();
  return { digits: q.slice(0, significant).padEnd(significant, '0'), exp };
}

function expSuffix(exp: number, upper: boolean): string {
  return `${upper ? 'E' : 'e'}${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function nonFinite(x: number, upper: boolean): string | null {
  if (Number.isNaN(x)) return upper ? 'NAN' : 'nan';
  if (x === Infinity) return upper ? 'INF' : 'inf';
  if (x === -Infinity) return upper ? '-INF' : '-inf';
  return null;
}

/** `'%.{p}f' % x` including sign. */
export function formatFixed(x: number, precision: number, alternate = false): string {
  const special = nonFinite(x, false);
  if (special) return special;
  const body = fixedDigits(x, precision);
  return signOf(x) + body + (alternate && precision === 0 ? '.' : '');
}

/** `'%.{p}e' % x` including sign. */
export function formatExponent(x: number, precision: number, upper = false, alternate = false): string {
  const special = nonFinite(x, upper);
  if (special) return special;
  const { digits, exp } = significantDigits(x, precision + 1);
  const mant = precision > 0 ? `${digits[0]}.${digits.slice(1)}` : digits + (alternate ? '.' : '');
  return signOf(x) + mant + expSuffix(exp, upper);
}

/**
 * `'%.{p}g' % x` including sign. With `reprStyle` (format() without a type): at least one digit after
 * the point in fixed notation.
 */
export function formatGeneral(
  x: number,
  precision: number,
  options: { upper?: boolean; alternate?: boolean; reprStyle?: boolean } = {},
): string {
  const upper = options.upper ?? false;
  const special = nonFinite(x, upper);
  if (special) return special;
  const p = precision === 0 ? 1 : precision;
  const { digits, exp } = significantDigits(x, p);
  const sign = signOf(x);
  let out: string;
  if (exp >= -4 && exp < (options.reprStyle ? p - 1 : p)) {
    const decimals = Math.max(p - 1 - exp, 0);
    out = fixedDigits(x, decimals);
    if (!options.alternate) {
      if (out.includes('.')) out = out.replace(/0+$/, '').replace(/\.$/, '');
      if (options.reprStyle && !out.includes('.')) out += '.0';
    }
  } else {
    let mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    if (!options.alternate) mant = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    else if (!mant.includes('.')) mant += '.';
    out = mant + expSuffix(exp, upper);
  }
  return sign + out;
}

/** Python `round(x, ndigits)` for a float: returns a float. */
export function roundFloat(x: number, ndigits: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  if (ndigits > 330) return x;
  if (ndigits < -330) return 0 * Math.sign(x);
  const q = scaledRound(x, ndigits);
  const v = ndigits >= 0 ? Number(`${q}e-${ndigits}`) : Number(`${q}e${-ndigits}`);
  return x < 0 ? -v : v;
}

/** Python `round(x)` for a float: half-even to an int. */
export function roundFloatToInt(x: number): bigint {
  if (Number.isNaN(x)) throw valueError('cannot convert float NaN to integer');
  if (!Number.isFinite(x)) throw new PyError('OverflowError', 'cannot convert float infinity to integer');
  const q = scaledRound(x, 0);
  return x < 0 ? -q : q;
}

/** Python `int(x)` for a float: truncation. */
export function floatToInt(x: number): bigint {
  if (Number.isNaN(x)) throw valueError('cannot convert float NaN to integer');
  if (!Number.isFinite(x)) throw new PyError('OverflowError', 'cannot convert float infinity to integer');
  return BigInt(Math.trunc(x));
}

/** Python `float(int)`. */
export function intToFloat(i: bigint): number {
  const f = Number(i);
  if (!Number.isFinite(f)) throw new PyError('OverflowError', 'int too large to convert to float');
  return f;
}

const INT_LITERAL: Record<number, RegExp> = {
  2: /^[01](_?[01])*$/,
  8: /^[0-7](_?[0-7])*$/,
  10: /^\d(_?\d)*$/,
  16: /^[\da-f](_?[\da-f])*$/i,
};

/** Python `int(s, base)`; null when the text is not a valid literal. */
export function parseIntLiteral(text: string, base: number): bigint | null {
  let s = text.trim();
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s.startsWith('-');
    s = s.slice(1);
  }
  let b = base;
  if (b === 0) {
    const prefix = s.slice(0, 2).toLowerCase();
    if (prefix === '0x') b = 16;
    else if (prefix === '0o') b = 8;
    else if (prefix === '0b') b = 2;
    else {
      b = 10;
      if (/^0+[1-9]/.test(s.replace(/_/g, ''))) return null;
    }
    if (b !== 10) s = s.slice(2).replace(/^_/, '');
  } else if ((b === 16 && /^0x/i.test(s)) || (b === 8 && /^0o/i.test(s)) || (b === 2 && /^0b/i.test(s))) {
    s = s.slice(2).replace(/^_/, '');
  }
  if (s === '') return null;
  let value: bigint;
  const re = INT_LITERAL[b];
  if (re) {
    if (!re.test(s)) return null;
    const clean = s.replace(/_/g, '');
    value = b === 10 ? BigInt(clean) : BigInt((b === 16 ? '0x' : b === 8 ? '0o' : '0b') + clean);
  } else {
    if (b < 2 || b > 36) throw valueError('int() base must be >= 2 and <= 36, or 0');
    if (!/^[\da-z](_?[\da-z])*$/i.test(s)) return null;
    value = 0n;
    for (const ch of s.replace(/_/g, '').toLowerCase()) {
      const d = parseInt(ch, 36);
      if (d >= b) return null;
      value = value * BigInt(b) + BigInt(d);
    }
  }
  return negative ? -value : value;
}

/** Python `float(s)`; null when the text is not a valid float literal. */
export function parseFloatLiteral(text: string): number | null {
  const s = text.trim();
  const m =
    /^([+-]?)(?:(inf(?:inity)?|nan)|((?:\d(?:_?\d)*)?(?:\.(?:\d(?:_?\d)*)?)?(?:e[+-]?\d(?:_?\d)*)?))$/i.exec(
      s,
    );
  if (!m) return null;
  const sign = m[1] === '-' ? -1 : 1;
  if (m[2]) return m[2].toLowerCase() === 'nan' ? NaN : sign * Infinity;
  const body = m[3]!;
  if (!/\d/.test(body.split(/e/i)[0]!)) return null;
  return sign * Number(body.replace(/_/g, ''));
}

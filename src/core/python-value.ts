/**
 * Python's view of JSON values, for wire compatibility with slapproxy: `str()` of parameter values
 * (`True`, `None`, `{'a': 1}`, `[1, 2]`, floats as Python prints them) and JSON numbers whose Python
 * type a JavaScript number cannot carry (`1.0` is a float in Python, `12345678901234567890` an exact int).
 */

/** Python's repr of the floats that are not finite (kept as PyNumber source by the XML marshaller). */
const NON_FINITE: ReadonlyMap<string, number> = new Map([
  ['inf', Infinity],
  ['-inf', -Infinity],
  ['nan', NaN],
]);

/**
 * A number kept with its source text, when a JS number would print differently from Python: a JSON
 * number, or a float's repr (`inf`, `-inf` and `nan` included).
 */
export class PyNumber {
  readonly source: string;
  readonly value: number;
  constructor(source: string) {
    this.source = source;
    this.value = NON_FINITE.get(source) ?? Number(source);
  }
  /** JSON.stringify writes the numeric value. */
  toJSON(): number {
    return this.value;
  }
  get isFloat(): boolean {
    return /[.eE]/.test(this.source) || NON_FINITE.has(this.source);
  }
}

/** `repr(float)` as Python 3 prints it: shortest round-trip digits, exponent outside [1e-4, 1e16). */
export function pyFloatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa = '', exponentText = '0'] = value.toExponential().split('e');
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const exponent = Number(exponentText);
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${digits[0] ?? ''}${fraction}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const point = exponent + 1;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function pyNumberRepr(value: number | PyNumber): string {
  if (value instanceof PyNumber) {
    if (!value.isFloat) return BigInt(value.source).toString();
    return pyFloatRepr(value.value);
  }
  if (Number.isInteger(value) && !Object.is(value, -0)) {
    return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
  }
  return pyFloatRepr(value);
}

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** `repr(str)` as Python 3 prints it. */
export function pyStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === quote || char === '\\') out += `\\${char}`;
    else if (char === '\t') out += '\\t';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code < 0x7f || char === ' ' || !NOT_PRINTABLE.test(char)) out += char;
    else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return out + quote;
}

/** `repr(value)` of a JSON value as Python sees it after `json.loads`. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number' || value instanceof PyNumber) return pyNumberRepr(value);
  if (typeof value === 'string') return pyStrRepr(value);
  if (Array.isArray(value)) return `[${value.map((item) => pyRepr(item)).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([key, item]) => `${pyStrRepr(key)}: ${pyRepr(item)}`).join(', ')}}`;
  }
  // bigint, symbol, function: not JSON values; shown as their type name.
  return pyStrRepr(typeof value);
}

/** `str(value)`: strings as they are, anything else as its repr. */
export function pyStr(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value);
}

// --- JSON with Python number types ---

// Strings first (so that digits inside them are skipped), in the unrolled form `"[^"\\]*(\\.[^"\\]*)*"`:
// several times faster on long strings than an alternation per character.
// Python's json writes the floats that are not finite as `Infinity`, `-Infinity` and `NaN`.
const TOKENS = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|-?Infinity|NaN/g;

/** Python's json spelling of the non-finite floats, and their repr (a PyNumber's source). */
const JSON_NON_FINITE: ReadonlyMap<string, string> = new Map([
  ['Infinity', 'inf'],
  ['-Infinity', '-inf'],
  ['NaN', 'nan'],
]);
const NON_FINITE_JSON: ReadonlyMap<string, string> = new Map(
  [...JSON_NON_FINITE].map(([json, repr]) => [repr, json]),
);

/** True if a number token would not print the same in Python as the JS number it parses to. */
function needsSource(token: string): boolean {
  if (JSON_NON_FINITE.has(token)) return true;
  const value = Number(token);
  if (/[.eE]/.test(token)) return Number.isInteger(value);
  return token === '-0' || !Number.isSafeInteger(value);
}

/** Whether a number of the JSON text needs its source kept; scans without building a new text. */
function hasNumberNeedingSource(text: string): boolean {
  TOKENS.lastIndex = 0;
  for (let match = TOKENS.exec(text); match !== null; match = TOKENS.exec(text)) {
    const token = match[0];
    if (token.charCodeAt(0) !== 0x22 && needsSource(token)) return true;
  }
  return false;
}

const NONCE = Math.random().toString(36).slice(2);
/** A marker no accepted input can contain (parameters with NUL are refused at the edge). */
const MARK = `\u0000${NONCE}:`;
const MARK_IN_JSON = `\\u0000${NONCE}:`;

/**
 * Parses JSON text (already known to be valid, or written by stringifyPythonJson) keeping, as
 * PyNumber, the numbers whose Python type or digits a JS number would lose (`1.0`, `1e3`, huge
 * integers, and Python's `Infinity`, `-Infinity`, `NaN`). Other values are plain. `parsed`, the
 * plain JSON.parse result of the same text, is returned as is when nothing needs keeping.
 */
export function parsePythonJson(text: string, parsed?: unknown): unknown {
  // Quick test: no number with a fraction, an exponent, 16+ digits, a minus zero or not finite.
  if (!/\d[.eE]|\d{16}|-0|Infinity|NaN/.test(text) || !hasNumberNeedingSource(text)) {
    return parsed === undefined ? (JSON.parse(text) as unknown) : parsed;
  }
  const rewritten = text.replace(TOKENS, (token) =>
    token.startsWith('"') || !needsSource(token) ? token : `"${MARK_IN_JSON}${token}"`,
  );
  return JSON.parse(rewritten, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(MARK) ? pyNumberFromJson(value.slice(MARK.length)) : value,
  ) as unknown;
}

function pyNumberFromJson(token: string): PyNumber {
  return new PyNumber(JSON_NON_FINITE.get(token) ?? token);
}

/**
 * JSON text that keeps PyNumbers' source (read back with parsePythonJson); the non-finite floats
 * as Python's json writes them.
 */
export function stringifyPythonJson(value: unknown): string {
  if (value instanceof PyNumber) return NON_FINITE_JSON.get(value.source) ?? value.source;
  if (Array.isArray(value)) return `[${value.map((item) => stringifyPythonJson(item)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stringifyPythonJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

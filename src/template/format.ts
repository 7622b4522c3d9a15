/** Python string formatting: `fmt % args`, `format(value, spec)` and `str.format(...)`. */
import { escapeHtml } from './markup.ts';
import { formatExponent, formatFixed, formatGeneral, intToFloat } from './numbers.ts';
import {
  MISSING,
  PyDict,
  PyError,
  PyMarkup,
  PyTuple,
  PyUndefined,
  pyRepr,
  pyStr,
  strLen,
  typeError,
  typeName,
  valueError,
  type Kwargs,
  type Missing,
  type PyValue,
} from './values.ts';

/** Python `ascii(v)`: repr with non-ASCII characters escaped. */
export function asciiRepr(v: PyValue): string {
  let out = '';
  for (const ch of pyRepr(v)) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out += ch;
    else if (cp < 0x100) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out;
}

function codePointToChar(v: bigint): string {
  if (v < 0n || v > 0x10ffffn) throw new PyError('OverflowError', '%c arg not in range(0x110000)');
  return String.fromCodePoint(Number(v));
}

// ---------------------------------------------------------------------------------------------
// printf-style formatting.

interface PercentSpec {
  flags: string;
  width: number | null;
  precision: number | null;
  type: string;
}

/** Python `fmt % args`. */
export function percentFormat(fmtValue: PyValue, args: PyValue): PyValue {
  const fmt = pyStr(fmtValue);
  const isTuple = args instanceof PyTuple;
  const mapping = !isTuple && (args instanceof PyDict || Array.isArray(args)) ? args : null;
  const list: readonly PyValue[] = isTuple ? args.items : [args];
  let next = 0;
  let usedMapping = false;
  const take = (): PyValue => {
    if (next >= list.length) throw typeError('not enough arguments for format string');
    return list[next++]!;
  };
  let out = '';
  let i = 0;
  const n = fmt.length;
  while (i < n) {
    const pct = fmt.indexOf('%', i);
    if (pct < 0) {
      out += fmt.slice(i);
      break;
    }
    out += fmt.slice(i, pct);
    i = pct + 1;
    if (i >= n) throw valueError('incomplete format');
    let value: PyValue | Missing = MISSING;
    if (fmt[i] === '(') {
      let depth = 1;
      let j = i + 1;
      while (j < n && depth > 0) {
        if (fmt[j] === '(') depth++;
        else if (fmt[j] === ')') depth--;
        j++;
      }
      if (depth > 0) throw valueError('incomplete format key');
      const key = fmt.slice(i + 1, j - 1);
      if (!(mapping instanceof PyDict)) throw typeError('format requires a mapping');
      const v = mapping.get(key);
      if (v === undefined) throw new PyError('KeyError', pyRepr(key));
      value = v;
      usedMapping = true;
      i = j;
    }
    let flags = '';
    while (i < n && '-+ #0'.includes(fmt[i]!)) flags += fmt[i++];
    let width: number | null = null;
    if (fmt[i] === '*') {
      width = Number(intArg(take(), '* wants int'));
      if (width < 0) {
        flags += '-';
        width = -width;
      }
      i++;
    } else {
      const m = /^\d+/.exec(fmt.slice(i));
      if (m) {
        width = Number(m[0]);
        i += m[0].length;
      }
    }
    let precision: number | null = null;
    if (fmt[i] === '.') {
      i++;
      if (fmt[i] === '*') {
        precision = Math.max(0, Number(intArg(take(), '* wants int')));
        i++;
      } else {
        const m = /^\d*/.exec(fmt.slice(i))!;
        precision = m[0] ? Number(m[0]) : 0;
        i += m[0].length;
      }
    }
    while (i < n && 'hlL'.includes(fmt[i]!)) i++;
    if (i >= n) throw valueError('incomplete format');
    const type = fmt[i++]!;
    if (type === '%') {
      out += '%';
      continue;
    }
    if (value === MISSING) value = take();
    out += formatPercentValue(value, { flags, width, precision, type }, i - 1, fmtValue instanceof PyMarkup);
  }
  if (next < list.length && !usedMapping && mapping === null) {
    throw typeError('not all arguments converted during string formatting');
  }
  return fmtValue instanceof PyMarkup ? new PyMarkup(out) : out;
}

function intArg(v: PyValue, message: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw typeError(message);
}

function pad(body: string, spec: PercentSpec, numeric: boolean, signLength = 0): string {
  const width = spec.width ?? 0;
  const len = strLen(body);
  if (len >= width) return body;
  if (spec.flags.includes('-')) return body + ' '.repeat(width - len);
  if (numeric && spec.flags.includes('0')) {
    return body.slice(0, signLength) + '0'.repeat(width - len) + body.slice(signLength);
  }
  return ' '.repeat(width - len) + body;
}

function signFor(negative: boolean, flags: string): string {
  if (negative) return '-';
  if (flags.includes('+')) return '+';
  if (flags.includes(' ')) return ' ';
  return '';
}

function formatPercentValue(value: PyValue, spec: PercentSpec, index: number, markup: boolean): string {
  const { type, flags, precision } = spec;
  switch (type) {
    case 's':
    case 'r':
    case 'a': {
      let s = type === 's' ? pyStr(value) : type === 'r' ? pyRepr(value) : asciiRepr(value);
      // Markup % args escapes the arguments (markupsafe's _MarkupEscapeHelper)
      if (markup && !(value instanceof PyMarkup && type === 's')) s = escapeHtml(s);
      if (precision !== null) s = Array.from(s).slice(0, precision).join('');
      return pad(s, spec, false);
    }
    case 'd':
    case 'i':
    case 'u':
    case 'x':
    case 'X':
    case 'o': {
      let int: bigint;
      if (typeof value === 'bigint') int = value;
      else if (typeof value === 'boolean') int = value ? 1n : 0n;
      else if (typeof value === 'number' && 'diu'.includes(type)) {
        if (!Number.isFinite(value)) {
          throw new PyError(
            Number.isNaN(value) ? 'ValueError' : 'OverflowError',
            Number.isNaN(value)
              ? 'cannot convert float NaN to integer'
              : 'cannot convert float infinity to integer',
          );
        }
        int = BigInt(Math.trunc(value));
      } else {
        if (value instanceof PyUndefined) value.fail();
        throw typeError(
          'diu'.includes(type)
            ? `%${type} format: a real number is required, not ${typeName(value)}`
            : `%${type} format: an integer is required, not ${typeName(value)}`,
        );
      }
      const negative = int < 0n;
      const absVal = negative ? -int : int;
      let digits =
        type === 'x'
          ? absVal.toString(16)
          : type === 'X'
            ? absVal.toString(16).toUpperCase()
            : type === 'o'
              ? absVal.toString(8)
              : absVal.toString();
      if (precision !== null && digits.length < precision) digits = digits.padStart(precision, '0');
      let prefix = '';
      if (flags.includes('#')) prefix = type === 'x' ? '0x' : type === 'X' ? '0X' : type === 'o' ? '0o' : '';
      const sign = signFor(negative, flags);
      return pad(sign + prefix + digits, spec, true, sign.length + prefix.length);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      let f: number;
      if (typeof value === 'number') f = value;
      else if (typeof value === 'bigint') f = intToFloat(value);
      else if (typeof value === 'boolean') f = value ? 1 : 0;
      else {
        if (value instanceof PyUndefined) value.fail();
        throw typeError(`must be real number, not ${typeName(value)}`);
      }
      const p = precision ?? 6;
      const alt = flags.includes('#');
      const lower = type.toLowerCase();
      let body =
        lower === 'f'
          ? formatFixed(f, p, alt)
          : lower === 'e'
            ? formatExponent(f, p, type === 'E', alt)
            : formatGeneral(f, p, { upper: type === 'G', alternate: alt });
      if (type === 'F') body = body.toUpperCase();
      const negative = body.startsWith('-');
      const sign = signFor(negative, flags);
      const unsigned = negative ? body.slice(1) : body;
      const finite = Number.isFinite(f);
      return pad(
        sign + unsigned,
        finite ? spec : { ...spec, flags: spec.flags.replace('0', '') },
        finite,
        sign.length,
      );
    }
    case 'c': {
      let ch: string;
      if (typeof value === 'bigint') ch = codePointToChar(value);
      else if (typeof value === 'string' && strLen(value) === 1) ch = value;
      else throw typeError('%c requires int or char');
      return pad(ch, spec, false);
    }
    default: {
      const cp = type.codePointAt(0)!;
      throw valueError(`unsupported format character '${type}' (0x${cp.toString(16)}) at index ${index}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// format(value, spec): the format-spec mini-language.

interface FormatSpec {
  fill: string;
  align: string | null;
  sign: string;
  signGiven: boolean;
  alternate: boolean;
  zero: boolean;
  width: number;
  grouping: string;
  precision: number | null;
  type: string;
}

const SPEC_RE = /^(?:([\s\S])?([<>=^]))?([-+ ])?(z)?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/u;

function parseSpec(spec: string): FormatSpec {
  const m = SPEC_RE.exec(spec);
  if (!m) throw valueError('Invalid format specifier');
  return {
    fill: m[1] ?? (m[6] && !m[2] ? '0' : ' '),
    align: m[2] ?? (m[6] ? '=' : null),
    sign: m[3] ?? '-',
    signGiven: m[3] !== undefined,
    alternate: m[5] !== undefined,
    zero: m[6] !== undefined,
    width: m[7] ? Number(m[7]) : 0,
    grouping: m[8] ?? '',
    precision: m[9] !== undefined ? Number(m[9]) : null,
    type: m[10] ?? '',
  };
}

function align(body: string, spec: FormatSpec, defaultAlign: string, signLength: number): string {
  const len = strLen(body);
  if (len >= spec.width) return body;
  const fill = spec.fill;
  const padding = spec.width - len;
  switch (spec.align ?? defaultAlign) {
    case '<':
      return body + fill.repeat(padding);
    case '^': {
      const left = Math.floor(padding / 2);
      return fill.repeat(left) + body + fill.repeat(padding - left);
    }
    case '=':
      return body.slice(0, signLength) + fill.repeat(padding) + body.slice(signLength);
    default:
      return fill.repeat(padding) + body;
  }
}

/** With `0` padding and a grouping option, Python pads the digits themselves (`+000,123`). */
function zeroPadGrouped(grouped: string, spec: FormatSpec, signLength: number, every: number): string {
  if (!spec.zero || !spec.grouping || spec.fill !== '0' || spec.align !== '=') return grouped;
  const minLength = spec.width - signLength;
  let digits = grouped.split(spec.grouping).join('');
  let out = grouped;
  while (strLen(out) < minLength) {
    digits = '0' + digits;
    out = group(digits, spec.grouping, every);
  }
  return out;
}

function group(digits: string, sep: string, every: number): string {
  if (!sep) return digits;
  let out = '';
  for (let i = digits.length; i > 0; i -= every) {
    const chunk = digits.slice(Math.max(0, i - every), i);
    out = out ? chunk + sep + out : chunk;
  }
  return out;
}

function numberSign(negative: boolean, sign: string): string {
  if (negative) return '-';
  if (sign === '+') return '+';
  if (sign === ' ') return ' ';
  return '';
}

/** Python `format(value, spec)`. */
export function formatValue(value: PyValue, specText: string): string {
  if (value instanceof PyUndefined) value.fail();
  if (specText === '') return pyStr(value);
  const spec = parseSpec(specText);
  if (typeof value === 'string' || value instanceof PyMarkup) {
    if (spec.type && spec.type !== 's') {
      throw valueError(`Unknown format code '${spec.type}' for object of type 'str'`);
    }
    if (spec.signGiven) throw valueError('Sign not allowed in string format specifier');
    if (spec.align === '=') throw valueError("'=' alignment not allowed in string format specifier");
    let s = pyStr(value);
    if (spec.precision !== null) s = Array.from(s).slice(0, spec.precision).join('');
    return align(s, spec, '<', 0);
  }
  if (typeof value === 'bigint' || typeof value === 'boolean') {
    const int = typeof value === 'boolean' ? (value ? 1n : 0n) : value;
    if ('eEfFgG%'.includes(spec.type) && spec.type !== '')
      return formatFloatSpec(intToFloat(int), spec, 'int');
    if (spec.precision !== null) throw valueError('Precision not allowed in integer format specifier');
    const negative = int < 0n;
    const a = negative ? -int : int;
    let digits: string;
    let prefix = '';
    switch (spec.type) {
      case '':
      case 'd':
      case 'n':
        digits = group(a.toString(), spec.grouping, 3);
        break;
      case 'b':
        digits = group(a.toString(2), spec.grouping, 4);
        prefix = spec.alternate ? '0b' : '';
        break;
      case 'o':
        digits = group(a.toString(8), spec.grouping, 4);
        prefix = spec.alternate ? '0o' : '';
        break;
      case 'x':
        digits = group(a.toString(16), spec.grouping, 4);
        prefix = spec.alternate ? '0x' : '';
        break;
      case 'X':
        digits = group(a.toString(16).toUpperCase(), spec.grouping, 4);
        prefix = spec.alternate ? '0X' : '';
        break;
      case 'c':
        return align(codePointToChar(int), spec, '<', 0);
      default:
        throw valueError(`Unknown format code '${spec.type}' for object of type 'int'`);
    }
    const sign = numberSign(negative, spec.sign);
    digits = zeroPadGrouped(
      digits,
      spec,
      sign.length + prefix.length,
      spec.type === '' || spec.type === 'd' || spec.type === 'n' ? 3 : 4,
    );
    return align(sign + prefix + digits, spec, '>', sign.length + prefix.length);
  }
  if (typeof value === 'number') return formatFloatSpec(value, spec, 'float');
  throw typeError(`unsupported format string passed to ${typeName(value)}.__format__`);
}

function formatFloatSpec(x: number, spec: FormatSpec, source: string): string {
  let type = spec.type;
  const p = spec.precision;
  let body: string;
  let suffix = '';
  let v = x;
  if (type === '%') {
    v = x * 100;
    suffix = '%';
    type = 'f';
  }
  switch (type) {
    case 'f':
    case 'F':
      body = formatFixed(v, p ?? 6, spec.alternate);
      if (type === 'F') body = body.toUpperCase();
      break;
    case 'e':
    case 'E':
      body = formatExponent(v, p ?? 6, type === 'E', spec.alternate);
      break;
    case 'g':
    case 'G':
    case 'n':
      body = formatGeneral(v, p ?? 6, { upper: type === 'G', alternate: spec.alternate });
      break;
    case '':
      body = p === null ? pyStr(v) : formatGeneral(v, p, { alternate: spec.alternate, reprStyle: true });
      break;
    default:
      throw valueError(`Unknown format code '${type}' for object of type '${source}'`);
  }
  const negative = body.startsWith('-');
  const unsigned = negative ? body.slice(1) : body;
  const [digits, rest] = splitNumber(unsigned);
  let intPart = digits;
  const sign = numberSign(negative, spec.sign);
  if (spec.grouping && /^\d+$/.test(intPart)) {
    intPart = group(intPart, spec.grouping, 3);
    intPart = zeroPadGrouped(intPart, { ...spec, width: spec.width - strLen(rest + suffix) }, sign.length, 3);
  }
  return align(sign + intPart + rest + suffix, spec, '>', sign.length);
}

function splitNumber(s: string): [string, string] {
  const m = /^(\d*)([\s\S]*)$/.exec(s)!;
  return [m[1]!, m[2]!];
}

// ---------------------------------------------------------------------------------------------
// str.format(*args, **kwargs)

export type AttrLookup = (obj: PyValue, name: string) => PyValue;
export type ItemLookup = (obj: PyValue, key: PyValue) => PyValue;

/** Python `fmt.format(*args, **kwargs)`. */
export function strFormat(
  fmt: string,
  args: readonly PyValue[],
  kwargs: Kwargs | null,
  lookups: { getAttr: AttrLookup; getItem: ItemLookup },
): string {
  let auto = 0;
  let mode: 'auto' | 'manual' | null = null;
  const resolve = (field: string): PyValue => {
    const m = /^([^.[]*)([\s\S]*)$/.exec(field)!;
    const first = m[1]!;
    let value: PyValue;
    if (first === '' || /^\d+$/.test(first)) {
      let index: number;
      if (first === '') {
        if (mode === 'manual') {
          throw valueError('cannot switch from manual field specification to automatic field numbering');
        }
        mode = 'auto';
        index = auto++;
      } else {
        if (mode === 'auto') {
          throw valueError('cannot switch from automatic field numbering to manual field specification');
        }
        mode = 'manual';
        index = Number(first);
      }
      if (index >= args.length) {
        throw new PyError('IndexError', `Replacement index ${index} out of range for positional args tuple`);
      }
      value = args[index]!;
    } else {
      const v = kwargs?.get(first);
      if (v === undefined) throw new PyError('KeyError', pyRepr(first));
      value = v;
    }
    let rest = m[2]!;
    while (rest) {
      const attr = /^\.([^.[]+)/.exec(rest);
      if (attr) {
        value = lookups.getAttr(value, attr[1]!);
        rest = rest.slice(attr[0].length);
        continue;
      }
      const item = /^\[([^\]]+)\]/.exec(rest);
      if (!item) throw valueError("Only '.' or '[' may follow ']' in format field specifier");
      const key = /^\d+$/.test(item[1]!) ? BigInt(item[1]!) : item[1]!;
      value = lookups.getItem(value, key);
      rest = rest.slice(item[0].length);
    }
    return value;
  };
  const render = (text: string, depth: number): string => {
    let out = '';
    let i = 0;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '{') {
        if (text[i + 1] === '{') {
          out += '{';
          i += 2;
          continue;
        }
        let j = i + 1;
        let nest = 1;
        while (j < text.length) {
          if (text[j] === '{') nest++;
          else if (text[j] === '}' && --nest === 0) break;
          j++;
        }
        if (j >= text.length) throw valueError("expected '}' before end of string");
        const inner = text.slice(i + 1, j);
        i = j + 1;
        const m = /^([^!:]*)(?:!([^:]*))?(?::([\s\S]*))?$/.exec(inner)!;
        let value = resolve(m[1]!);
        const conversion = m[2];
        if (conversion !== undefined) {
          if (conversion === 'r') value = pyRepr(value);
          else if (conversion === 's') value = pyStr(value);
          else if (conversion === 'a') value = asciiRepr(value);
          else throw valueError(`Unknown conversion specifier ${conversion}`);
        }
        let spec = m[3] ?? '';
        if (spec.includes('{')) {
          if (depth > 1) throw valueError('Max string recursion exceeded');
          spec = render(spec, depth + 1);
        }
        out += formatValue(value, spec);
      } else if (c === '}') {
        if (text[i + 1] !== '}') throw valueError("Single '}' encountered in format string");
        out += '}';
        i += 2;
      } else {
        const next = text.slice(i).search(/[{}]/);
        const end = next < 0 ? text.length : i + next;
        out += text.slice(i, end);
        i = end;
      }
    }
    return out;
  };
  return render(fmt, 0);
}

/**
 * Template lexer, following Jinja2 3.1's tokenizer rules: `{{ }}`, `{% %}`, `{# #}` delimiters,
 * `-`/`+` whitespace control, `trim_blocks`/`lstrip_blocks`, `{% raw %}`, newline normalisation and the
 * dropped trailing newline. A hand-written scanner (linear time, no backtracking regexes over the
 * whole source).
 */
import { PyError } from './values.ts';

export type TokenType =
  | 'data'
  | 'variable_begin'
  | 'variable_end'
  | 'block_begin'
  | 'block_end'
  | 'name'
  | 'string'
  | 'integer'
  | 'float'
  | 'eof'
  | OperatorType;

type OperatorType =
  | 'add'
  | 'sub'
  | 'div'
  | 'floordiv'
  | 'mul'
  | 'pow'
  | 'mod'
  | 'tilde'
  | 'lbracket'
  | 'rbracket'
  | 'lparen'
  | 'rparen'
  | 'lbrace'
  | 'rbrace'
  | 'eq'
  | 'ne'
  | 'gt'
  | 'gteq'
  | 'lt'
  | 'lteq'
  | 'assign'
  | 'dot'
  | 'colon'
  | 'pipe'
  | 'comma'
  | 'semicolon';

export interface Token {
  type: TokenType;
  /** Names, strings, data, operators: text; integer: bigint; float: number. */
  value: string | bigint | number;
  lineno: number;
}

const OPERATORS: [string, OperatorType][] = [
  ['//', 'floordiv'],
  ['**', 'pow'],
  ['==', 'eq'],
  ['!=', 'ne'],
  ['>=', 'gteq'],
  ['<=', 'lteq'],
  ['+', 'add'],
  ['-', 'sub'],
  ['/', 'div'],
  ['*', 'mul'],
  ['%', 'mod'],
  ['~', 'tilde'],
  ['[', 'lbracket'],
  [']', 'rbracket'],
  ['(', 'lparen'],
  [')', 'rparen'],
  ['{', 'lbrace'],
  ['}', 'rbrace'],
  ['>', 'gt'],
  ['<', 'lt'],
  ['=', 'assign'],
  ['.', 'dot'],
  [':', 'colon'],
  ['|', 'pipe'],
  [',', 'comma'],
  [';', 'semicolon'],
];

const OPERATOR_TEXT: Record<string, string> = Object.fromEntries(
  OPERATORS.map(([text, type]) => [type, text]),
);

const TOKEN_DESCRIPTIONS: Record<string, string> = {
  block_begin: 'begin of statement block',
  block_end: 'end of statement block',
  variable_begin: 'begin of print statement',
  variable_end: 'end of print statement',
  data: 'template data / text',
  eof: 'end of template',
};

export function describeTokenType(type: string): string {
  return OPERATOR_TEXT[type] ?? TOKEN_DESCRIPTIONS[type] ?? type;
}

export function describeToken(token: Token): string {
  return token.type === 'name' ? String(token.value) : describeTokenType(token.type);
}

/** `name:endfor` → `endfor`, `block_end` → `end of statement block`. */
export function describeTokenExpr(expr: string): string {
  const colon = expr.indexOf(':');
  if (colon >= 0) return expr.slice(0, colon) === 'name' ? expr.slice(colon + 1) : expr.slice(colon + 1);
  return describeTokenType(expr);
}

export interface LexerOptions {
  trimBlocks?: boolean;
  lstripBlocks?: boolean;
  keepTrailingNewline?: boolean;
}

export function syntaxError(message: string, lineno: number): PyError {
  const e = new PyError('TemplateSyntaxError', message);
  e.lineno = lineno;
  return e;
}

const WHITESPACE = /\s+/y;
const FLOAT = /(?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+-]?(\d+_)*\d+|\.(\d+_)*\d+)/iy;
const INTEGER = /(0b(_?[0-1])+|0o(_?[0-7])+|0x(_?[\da-f])+|[1-9](_?\d)*|0(_?0)*)/iy;
const NAME = /[\p{L}\p{Nl}_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*/uy;
const STRING = /('([^'\\]*(?:\\.[^'\\]*)*)'|"([^"\\]*(?:\\.[^"\\]*)*)")/sy;
const RAW_BEGIN = /\{%([-+]?)\s*raw\s*(?:-%\}\s*|%\})/y;
const RAW_END_TRIM = /\{%([-+]?)\s*endraw\s*(?:\+%\}|-%\}\s*|%\}\n?)/g;
const RAW_END = /\{%([-+]?)\s*endraw\s*(?:\+%\}|-%\}\s*|%\})/g;
const BLOCK_END_TRIM = /\+%\}|-%\}\s*|%\}\n?/y;
const BLOCK_END = /\+%\}|-%\}\s*|%\}/y;
const VARIABLE_END = /-\}\}\s*|\}\}/y;
const TRAILING_WS = /\s+$/;
const LSTRIP_OK = /^[ \t]*$/;

function countNewlines(s: string, from = 0, to = s.length): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i >= 0 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** Splits a template source into tokens. */
export function tokenize(input: string, options: LexerOptions = {}): Token[] {
  let source = input.replace(/\r\n|\r/g, '\n');
  if (!options.keepTrailingNewline && source.endsWith('\n')) source = source.slice(0, -1);
  const trim = options.trimBlocks ?? false;
  const lstrip = options.lstripBlocks ?? false;
  const tokens: Token[] = [];
  const n = source.length;
  let pos = 0;
  let lineno = 1;
  let lineStarting = true;

  /** Emits the data before a tag, applying `-` stripping or lstrip_blocks. */
  const emitData = (text: string, sign: string, isVariable: boolean, startLine: number): void => {
    let data = text;
    if (sign === '-') data = data.replace(TRAILING_WS, '');
    else if (sign !== '+' && lstrip && !isVariable) {
      const lPos = data.lastIndexOf('\n') + 1;
      if ((lPos > 0 || lineStarting) && LSTRIP_OK.test(data.slice(lPos))) data = data.slice(0, lPos);
    }
    if (data) tokens.push({ type: 'data', value: data, lineno: startLine });
  };

  while (pos < n) {
    // find the next tag start
    let tag = -1;
    for (let i = source.indexOf('{', pos); i >= 0 && i < n - 1; i = source.indexOf('{', i + 1)) {
      const c = source[i + 1];
      if (c === '{' || c === '%' || c === '#') {
        tag = i;
        break;
      }
    }
    if (tag < 0) {
      tokens.push({ type: 'data', value: source.slice(pos), lineno });
      break;
    }
    const kind = source[tag + 1]!;
    const sign = source[tag + 2] === '-' || source[tag + 2] === '+' ? source[tag + 2]! : '';
    const text = source.slice(pos, tag);
    const textLine = lineno;

    if (kind === '%') {
      RAW_BEGIN.lastIndex = tag;
      const raw = RAW_BEGIN.exec(source);
      if (raw) {
        emitData(text, sign, false, textLine);
        lineno += countNewlines(text) + countNewlines(raw[0]);
        const endRe = trim ? RAW_END_TRIM : RAW_END;
        endRe.lastIndex = tag + raw[0].length;
        const end = endRe.exec(source);
        if (!end) throw syntaxError('Missing end of raw directive', lineno);
        const body = source.slice(tag + raw[0].length, end.index);
        const bodyLine = lineno;
        lineStarting = raw[0].endsWith('\n');
        emitData(body, end[1]!, false, bodyLine);
        lineno += countNewlines(body) + countNewlines(end[0]);
        pos = end.index + end[0].length;
        lineStarting = end[0].endsWith('\n');
        continue;
      }
    }
    emitData(text, sign, kind === '{', textLine);
    lineno += countNewlines(text);
    pos = tag + 2 + sign.length;

    if (kind === '#') {
      let close = source.indexOf('#}', pos);
      if (close < 0) throw syntaxError('Missing end of comment tag', lineno);
      // `-#}` / `+#}` when the modifier is inside the comment body
      let endLen = 2;
      let stripAfter = false;
      let keep = false;
      if (close > pos && source[close - 1] === '-') {
        stripAfter = true;
        close -= 1;
        endLen = 3;
      } else if (close > pos && source[close - 1] === '+') {
        keep = true;
        close -= 1;
        endLen = 3;
      }
      let end = close + endLen;
      if (stripAfter) while (end < n && /\s/.test(source[end]!)) end++;
      else if (!keep && trim && source[end] === '\n') end++;
      lineno += countNewlines(source, pos, end);
      lineStarting = source[end - 1] === '\n';
      pos = end;
      continue;
    }

    const isBlock = kind === '%';
    tokens.push({ type: isBlock ? 'block_begin' : 'variable_begin', value: '', lineno });
    const balance: string[] = [];
    let closed = false;
    while (pos < n) {
      if (balance.length === 0) {
        const endRe = isBlock ? (trim ? BLOCK_END_TRIM : BLOCK_END) : VARIABLE_END;
        endRe.lastIndex = pos;
        const m = endRe.exec(source);
        if (m) {
          tokens.push({ type: isBlock ? 'block_end' : 'variable_end', value: '', lineno });
          lineno += countNewlines(m[0]);
          pos += m[0].length;
          lineStarting = m[0].endsWith('\n');
          closed = true;
          break;
        }
      }
      WHITESPACE.lastIndex = pos;
      let m = WHITESPACE.exec(source);
      if (m) {
        lineno += countNewlines(m[0]);
        pos += m[0].length;
        continue;
      }
      FLOAT.lastIndex = pos;
      m = FLOAT.exec(source);
      if (m) {
        tokens.push({ type: 'float', value: Number(m[0].replace(/_/g, '')), lineno });
        pos += m[0].length;
        continue;
      }
      INTEGER.lastIndex = pos;
      m = INTEGER.exec(source);
      if (m) {
        tokens.push({ type: 'integer', value: parseIntToken(m[0]), lineno });
        pos += m[0].length;
        continue;
      }
      NAME.lastIndex = pos;
      m = NAME.exec(source);
      if (m) {
        tokens.push({ type: 'name', value: m[0], lineno });
        pos += m[0].length;
        continue;
      }
      STRING.lastIndex = pos;
      m = STRING.exec(source);
      if (m) {
        tokens.push({ type: 'string', value: unescapeString(m[0].slice(1, -1), lineno), lineno });
        lineno += countNewlines(m[0]);
        pos += m[0].length;
        continue;
      }
      const op = OPERATORS.find(([t]) => source.startsWith(t, pos));
      if (!op) {
        throw syntaxError(`unexpected char ${charRepr(source[pos]!)} at ${pos}`, lineno);
      }
      const [opText, opType] = op;
      if (opText === '{' || opText === '(' || opText === '[')
        balance.push(opText === '{' ? '}' : opText === '(' ? ')' : ']');
      else if (opText === '}' || opText === ')' || opText === ']') {
        if (balance.length === 0) throw syntaxError(`unexpected '${opText}'`, lineno);
        const expected = balance.pop()!;
        if (expected !== opText) throw syntaxError(`unexpected '${opText}', expected '${expected}'`, lineno);
      }
      tokens.push({ type: opType, value: opText, lineno });
      pos += opText.length;
    }
    if (!closed) break;
  }
  tokens.push({ type: 'eof', value: '', lineno });
  return tokens;
}

function charRepr(c: string): string {
  return c === "'" ? `"'"` : `'${c}'`;
}

function parseIntToken(text: string): bigint {
  // BigInt reads the 0b / 0o / 0x prefixes itself.
  return BigInt(text.replace(/_/g, '').toLowerCase());
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\x0b',
  '\n': '',
};

/** Python `unicode-escape` decoding of a string literal body, as Jinja applies it. */
export function unescapeString(body: string, lineno: number): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[i + 1];
    if (e === undefined) throw syntaxError('\\ at end of string', lineno);
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      i++;
    } else if (e >= '0' && e <= '7') {
      const m = /^[0-7]{1,3}/.exec(body.slice(i + 1))!;
      out += String.fromCodePoint(parseInt(m[0], 8));
      i += m[0].length;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) {
        throw syntaxError(`truncated \\${e}${'X'.repeat(len)} escape`, lineno);
      }
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) throw syntaxError('illegal Unicode character', lineno);
      out += String.fromCodePoint(cp);
      i += 1 + len;
    } else if (e === 'N') {
      throw syntaxError('\\N{...} escapes are not supported', lineno);
    } else {
      out += c;
    }
  }
  return out;
}

/** Cursor over the token list with Jinja's TokenStream helpers. */
export class TokenStream {
  private index = 0;
  constructor(private readonly tokens: Token[]) {}

  get current(): Token {
    return this.tokens[this.index]!;
  }
  /** Type of the current token (a method, so TypeScript does not keep stale narrowings). */
  type(): TokenType {
    return this.current.type;
  }
  look(): Token {
    return this.tokens[Math.min(this.index + 1, this.tokens.length - 1)]!;
  }
  next(): Token {
    const t = this.current;
    if (t.type !== 'eof') this.index++;
    return t;
  }
  skip(n = 1): void {
    for (let i = 0; i < n; i++) this.next();
  }
  /** `expr` is a token type or `type:value` (e.g. `name:endfor`). */
  test(expr: string, token: Token = this.current): boolean {
    const colon = expr.indexOf(':');
    if (colon < 0) return token.type === expr;
    return token.type === expr.slice(0, colon) && token.value === expr.slice(colon + 1);
  }
  testAny(exprs: readonly string[], token: Token = this.current): boolean {
    return exprs.some((e) => this.test(e, token));
  }
  skipIf(expr: string): boolean {
    if (this.test(expr)) {
      this.next();
      return true;
    }
    return false;
  }
  expect(expr: string): Token {
    const t = this.current;
    if (!this.test(expr)) {
      const what = describeTokenExpr(expr);
      if (t.type === 'eof') throw syntaxError(`unexpected end of template, expected '${what}'.`, t.lineno);
      throw syntaxError(`expected token '${what}', got '${describeToken(t)}'`, t.lineno);
    }
    return this.next();
  }
}

/**
 * A strict JSON reader (RFC 8259) that keeps each number as its source text, for documents whose
 * numbers are money or prices: `JSON.parse` turns `1e-7` or `0.30000000000000001` into a float and
 * the digits written are lost. Duplicate keys are refused (which one wins is reader-dependent), and
 * nesting is bounded. Errors are plain messages with the offending offset; callers wrap them.
 */

export type ExactJson =
  | { kind: 'object'; entries: Map<string, ExactJson> }
  | { kind: 'array'; items: ExactJson[] }
  | { kind: 'string'; value: string }
  | { kind: 'number'; text: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' };

export class ExactJsonError extends Error {}

const MAX_DEPTH = 32;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/** Parses `text` as one JSON value; throws ExactJsonError on anything RFC 8259 does not allow. */
export function parseExactJson(text: string): ExactJson {
  let at = 0;
  const fail = (what: string): never => {
    throw new ExactJsonError(`${what} at offset ${at}`);
  };
  const skipWhitespace = (): void => {
    WHITESPACE.lastIndex = at;
    WHITESPACE.exec(text);
    at = WHITESPACE.lastIndex;
  };
  const expect = (char: string): void => {
    if (text[at] !== char) fail(`expected ${JSON.stringify(char)}`);
    at++;
  };

  const readString = (): string => {
    expect('"');
    let value = '';
    for (;;) {
      const char = text[at];
      if (char === undefined) fail('unterminated string');
      else if (char === '"') {
        at++;
        return value;
      } else if (char === '\\') {
        const escape = text[at + 1] ?? '';
        if (escape === 'u') {
          const hex = text.slice(at + 2, at + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
          value += String.fromCharCode(parseInt(hex, 16));
          at += 6;
        } else {
          const decoded = ESCAPES[escape];
          if (decoded === undefined) fail('bad escape');
          value += decoded;
          at += 2;
        }
      } else if (char < ' ') fail('control character in a string');
      else {
        value += char;
        at++;
      }
    }
  };

  const readValue = (depth: number): ExactJson => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    skipWhitespace();
    const char = text[at];
    if (char === '{') {
      at++;
      const entries = new Map<string, ExactJson>();
      skipWhitespace();
      if (text[at] === '}') {
        at++;
        return { kind: 'object', entries };
      }
      for (;;) {
        skipWhitespace();
        const keyAt = at;
        const key = readString();
        if (entries.has(key)) {
          at = keyAt;
          fail(`duplicate key ${JSON.stringify(key.slice(0, 80))}`);
        }
        skipWhitespace();
        expect(':');
        entries.set(key, readValue(depth + 1));
        skipWhitespace();
        if (text[at] === ',') at++;
        else {
          expect('}');
          return { kind: 'object', entries };
        }
      }
    }
    if (char === '[') {
      at++;
      const items: ExactJson[] = [];
      skipWhitespace();
      if (text[at] === ']') {
        at++;
        return { kind: 'array', items };
      }
      for (;;) {
        items.push(readValue(depth + 1));
        skipWhitespace();
        if (text[at] === ',') at++;
        else {
          expect(']');
          return { kind: 'array', items };
        }
      }
    }
    if (char === '"') return { kind: 'string', value: readString() };
    for (const [word, value] of [
      ['true', { kind: 'boolean', value: true }],
      ['false', { kind: 'boolean', value: false }],
      ['null', { kind: 'null' }],
    ] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = at;
    const number = NUMBER.exec(text);
    if (!number) return fail('expected a JSON value');
    at = NUMBER.lastIndex;
    return { kind: 'number', text: number[0] };
  };

  const value = readValue(0);
  skipWhitespace();
  if (at !== text.length) fail('unexpected text after the JSON value');
  return value;
}

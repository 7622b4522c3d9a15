/** Python's `json.dumps` / `json.loads` on the value model (int vs float kept, key order kept). */
import { compare } from './ops.ts';
import {
  PyDict,
  PyError,
  PyMarkup,
  PyTuple,
  PyUndefined,
  floatRepr,
  typeError,
  typeName,
  valueError,
  type PyValue,
} from './values.ts';

export interface JsonDumpOptions {
  sortKeys?: boolean;
  /** Number of spaces, or the indent string; null → single line. */
  indent?: number | string | null;
  /** [item separator, key separator]; default `[', ', ': ']` (`[',', ': ']` with indent). */
  separators?: [string, string];
  ensureAscii?: boolean;
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

function hex4(n: number): string {
  return '\\u' + n.toString(16).padStart(4, '0');
}

export function jsonString(s: string, ensureAscii: boolean): string {
  const re = ensureAscii ? /[\\"\x00-\x1f\x7f-\uffff]/g : /[\\"\x00-\x1f]/g;
  return (
    '"' +
    s.replace(re, (c) => {
      const e = ESCAPES[c];
      if (e) return e;
      return hex4(c.charCodeAt(0));
    }) +
    '"'
  );
}

function jsonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return floatRepr(x);
}

function keyString(k: PyValue): string | null {
  if (typeof k === 'string') return k;
  if (k instanceof PyMarkup) return k.value;
  if (typeof k === 'bigint') return k.toString();
  if (typeof k === 'number') return jsonFloat(k);
  if (typeof k === 'boolean') return k ? 'true' : 'false';
  if (k === null) return 'null';
  return null;
}

/** Python `json.dumps(value, sort_keys=…, indent=…, separators=…, ensure_ascii=…)`. */
export function jsonDumps(value: PyValue, options: JsonDumpOptions = {}): string {
  const ensureAscii = options.ensureAscii ?? true;
  const indent =
    options.indent === null || options.indent === undefined
      ? null
      : typeof options.indent === 'number'
        ? ' '.repeat(options.indent)
        : options.indent;
  const [itemSep, keySep] = options.separators ?? (indent !== null ? [',', ': '] : [', ', ': ']);
  const stack = new Set<object>();
  const enter = (o: object): void => {
    if (stack.has(o)) throw valueError('Circular reference detected');
    stack.add(o);
  };
  const encode = (v: PyValue, level: number): string => {
    switch (typeof v) {
      case 'string':
        return jsonString(v, ensureAscii);
      case 'bigint':
        return v.toString();
      case 'number':
        return jsonFloat(v);
      case 'boolean':
        return v ? 'true' : 'false';
      default:
        break;
    }
    if (v === null) return 'null';
    if (v instanceof PyMarkup) return jsonString(v.value, ensureAscii);
    const newline = indent === null ? '' : '\n' + indent.repeat(level + 1);
    const close = indent === null ? '' : '\n' + indent.repeat(level);
    if (Array.isArray(v) || v instanceof PyTuple) {
      const items = Array.isArray(v) ? v : v.items;
      if (items.length === 0) return '[]';
      enter(v);
      const parts = items.map((x) => encode(x, level + 1));
      stack.delete(v);
      return '[' + newline + parts.join(itemSep + newline) + close + ']';
    }
    if (v instanceof PyDict) {
      if (v.size === 0) return '{}';
      enter(v);
      let entries = [...v.entries()];
      if (options.sortKeys) entries = entries.sort((a, b) => compare(a[0], b[0], '<'));
      const parts = entries.map(([k, x]) => {
        const ks = keyString(k);
        if (ks === null) throw typeError(`keys must be str, int, float, bool or None, not ${typeName(k)}`);
        return jsonString(ks, ensureAscii) + keySep + encode(x, level + 1);
      });
      stack.delete(v);
      return '{' + newline + parts.join(itemSep + newline) + close + '}';
    }
    if (v instanceof PyUndefined) v.fail();
    throw typeError(`Object of type ${typeName(v)} is not JSON serializable`);
  };
  return encode(value, 0);
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/y;

/** Python `json.loads(text)`: ints stay ints, objects become dicts in document order. */
export function jsonLoads(text: string): PyValue {
  let i = 0;
  const n = text.length;
  const fail = (msg: string): never => {
    const before = text.slice(0, i);
    const line = before.split('\n').length;
    const col = i - before.lastIndexOf('\n');
    throw new PyError('JSONDecodeError', `${msg}: line ${line} column ${col} (char ${i})`);
  };
  const ws = (): void => {
    while (i < n && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const parseString = (): string => {
    i++;
    let out = '';
    for (;;) {
      const start = i;
      while (i < n && text[i] !== '"' && text[i] !== '\\' && text.charCodeAt(i) >= 0x20) i++;
      out += text.slice(start, i);
      if (i >= n) fail('Unterminated string starting at');
      const c = text[i]!;
      if (c === '"') {
        i++;
        return out;
      }
      if (c !== '\\') fail('Invalid control character at');
      const e = text[i + 1];
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (e !== undefined && simple[e] !== undefined) {
        out += simple[e];
        i += 2;
      } else if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('Invalid \\uXXXX escape');
        out += String.fromCharCode(parseInt(hex, 16));
        i += 6;
      } else fail('Invalid \\escape');
    }
  };
  const parseValue = (): PyValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const d = new PyDict();
      ws();
      if (text[i] === '}') {
        i++;
        return d;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('Expecting property name enclosed in double quotes');
        const key = parseString();
        ws();
        if (text[i] !== ':') fail("Expecting ':' delimiter");
        i++;
        const value = parseValue();
        d.set(key, value);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return d;
        }
        fail("Expecting ',' delimiter");
      }
    }
    if (c === '[') {
      i++;
      const list: PyValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return list;
      }
      for (;;) {
        list.push(parseValue());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return list;
        }
        fail("Expecting ',' delimiter");
      }
    }
    if (c === '"') return parseString();
    for (const [word, value] of [
      ['null', null],
      ['true', true],
      ['false', false],
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['-Infinity', -Infinity],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail('Expecting value');
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) return BigInt(m[0]);
    return Number(m[0]);
  };
  const value = parseValue();
  ws();
  if (i < n) fail('Extra data');
  return value;
}

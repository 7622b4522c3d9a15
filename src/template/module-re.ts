/**
 * Stand-in for Python's `re`: patterns in Python syntax are translated to JavaScript regular
 * expressions (`(?P<n>…)`, `(?P=n)`, `\A`, `\Z`, Python's `$` and `.`, inline flags at the start,
 * verbose mode, `{,n}`); replacement templates (`\1`, `\g<name>`) are expanded as Python does.
 * Match positions are in code points, as Python's. Constructs JavaScript lacks (scoped flags
 * `(?i:…)`, conditionals, atomic groups, possessive quantifiers) raise `re.error` naming them.
 */
import { argCount, intArg } from './args.ts';
import { bindRequired, fn, req, strOf, stubModule } from './module-helpers.ts';
import { callValue } from './attributes.ts';
import type { PyFunction, PyModule } from './values.ts';
import {
  MISSING,
  PyDict,
  PyError,
  PyObject,
  PyTuple,
  isCallable,
  pyStr,
  strLen,
  strRepr,
  typeError,
  type Kwargs,
  type Missing,
  type PyValue,
} from './values.ts';

const FLAGS = { I: 2n, L: 4n, M: 8n, S: 16n, U: 32n, X: 64n, A: 256n } as const;
const FLAG_LETTERS: Record<string, bigint> = { i: 2n, L: 4n, m: 8n, s: 16n, u: 32n, x: 64n, a: 256n };

function reError(message: string): PyError {
  return new PyError('error', message);
}

/** Strips whitespace and `#` comments outside classes (verbose mode). */
function stripVerbose(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      out += c + (p[i + 1] ?? '');
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') out += p[++i];
    } else if (c === '#') {
      while (i < p.length && p[i] !== '\n') i++;
    } else if (!/\s/.test(c)) out += c;
  }
  return out;
}

interface Compiled {
  source: string;
  flags: bigint;
  regex: RegExp;
  groups: number;
  names: Map<string, number>;
}

/** Translates a Python pattern into a JavaScript RegExp source and flags. */
export function translate(pattern: string, flagsIn: bigint): Compiled {
  let p = pattern;
  let flags = flagsIn;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(p);
  if (inline) {
    for (const ch of inline[1]!) flags |= FLAG_LETTERS[ch]!;
    p = p.slice(inline[0].length);
  }
  if (flags & FLAGS.X) p = stripVerbose(p);
  const multiline = (flags & FLAGS.M) !== 0n;
  const dotall = (flags & FLAGS.S) !== 0n;
  let out = '';
  let groups = 0;
  const names = new Map<string, number>();
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined) throw reError(`bad escape (end of pattern) at position ${i}`);
      i++;
      if (n === 'A') out += '^';
      else if (n === 'Z') out += '$';
      else out += '\\' + n;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      let cls = '[';
      if (p[j] === '^') cls += p[j++];
      if (p[j] === ']') {
        cls += '\\]';
        j++;
      }
      for (; j < p.length && p[j] !== ']'; j++) {
        if (p[j] === '\\') cls += p[j++]! + (p[j] ?? '');
        else if (p[j] === '[') cls += '\\[';
        else cls += p[j];
      }
      if (j >= p.length) throw reError(`unterminated character set at position ${i}`);
      out += cls + ']';
      i = j;
      continue;
    }
    if (c === '(') {
      if (p[i + 1] !== '?') {
        groups++;
        out += '(';
        continue;
      }
      const rest = p.slice(i + 2);
      const named = /^P<([A-Za-z_]\w*)>/.exec(rest);
      if (named) {
        groups++;
        names.set(named[1]!, groups);
        out += `(?<${named[1]}>`;
        i += 1 + named[0].length;
        continue;
      }
      const backref = /^P=([A-Za-z_]\w*)\)/.exec(rest);
      if (backref) {
        if (!names.has(backref[1]!)) throw reError(`unknown group name '${backref[1]}' at position ${i + 4}`);
        out += `\\k<${backref[1]}>`;
        i += 1 + backref[0].length;
        continue;
      }
      const comment = /^#[^)]*\)/.exec(rest);
      if (comment) {
        i += 1 + comment[0].length;
        continue;
      }
      if (/^(?::|=|!|<=|<!)/.test(rest)) {
        out += '(?';
        i += 1;
        continue;
      }
      if (/^<[A-Za-z_]/.test(rest)) throw reError(`unknown extension ?<${rest[1]} at position ${i + 1}`);
      const what = rest.startsWith('(')
        ? 'conditional groups (?(…)…)'
        : rest.startsWith('>')
          ? 'atomic groups (?>…)'
          : /^[aiLmsux-]+:/.test(rest)
            ? 'scoped inline flags (?flags:…)'
            : /^[aiLmsux]+\)/.test(rest)
              ? 'inline flags not at the start of the pattern'
              : `the extension (?${rest.slice(0, 1)}`;
      throw reError(`${what} are not supported by this engine's re stand-in`);
    }
    if (c === '.') out += dotall ? '[\\s\\S]' : '[^\\n]';
    else if (c === '^') out += multiline ? '(?:^|(?<=\\n))' : '^';
    else if (c === '$') out += multiline ? '(?=\\n|$)' : '(?=\\n?$)';
    else if (c === '{' && /^\{,\d+\}/.test(p.slice(i))) out += '{0';
    else if ((c === '+' || c === '*' || c === '?' || c === '}') && p[i + 1] === '+') {
      throw reError("possessive quantifiers (…+) are not supported by this engine's re stand-in");
    } else out += c;
  }
  let jsFlags = 'g';
  if (flags & FLAGS.I) jsFlags += 'i';
  let regex: RegExp;
  try {
    regex = new RegExp(out, jsFlags);
  } catch (e) {
    throw reError(`invalid pattern ${strRepr(pattern)}: ${(e as Error).message}`);
  }
  return { source: pattern, flags, regex, groups, names };
}

/** Code-point offset of a UTF-16 index. */
function cp(s: string, index: number): number {
  return strLen(s.slice(0, index));
}

class PyMatch extends PyObject {
  constructor(
    readonly pattern: PyPattern,
    readonly string: string,
    readonly m: RegExpExecArray,
  ) {
    super();
  }
  get typeName(): string {
    return 'Match';
  }
  override get typeModule(): string {
    return 're';
  }
  groupIndex(g: PyValue): number {
    if (typeof g === 'string') {
      const i = this.pattern.compiled.names.get(g);
      if (i === undefined) throw new PyError('IndexError', 'no such group');
      return i;
    }
    const i = typeof g === 'bigint' || typeof g === 'boolean' ? Number(intArg('group', g)) : -1;
    if (i < 0 || i > this.pattern.compiled.groups) throw new PyError('IndexError', 'no such group');
    return i;
  }
  group(g: PyValue): PyValue {
    const v = this.m[this.groupIndex(g)];
    return v === undefined ? null : v;
  }
  span(g: PyValue): [bigint, bigint] {
    const i = this.groupIndex(g);
    if (this.m[i] === undefined) return [-1n, -1n];
    const indices = spanOf(this.m, i, this.string);
    return [BigInt(indices[0]), BigInt(indices[1])];
  }
  pyGetItem(key: PyValue): PyValue | Missing {
    return this.group(key);
  }
  override getAttr(name: string): PyValue | Missing {
    switch (name) {
      case 'group':
        return fn('group', (args) =>
          args.length === 0
            ? this.group(0n)
            : args.length === 1
              ? this.group(args[0]!)
              : new PyTuple(args.map((a) => this.group(a))),
        );
      case 'groups':
        return fn('groups', (args, kwargs) => {
          const [dflt] = bindRequired('groups', ['default'], 0, args, kwargs);
          const out: PyValue[] = [];
          for (let i = 1; i <= this.pattern.compiled.groups; i++) {
            const v = this.m[i];
            out.push(v === undefined ? (dflt === MISSING ? null : dflt!) : v);
          }
          return new PyTuple(out);
        });
      case 'groupdict':
        return fn('groupdict', (args, kwargs) => {
          const [dflt] = bindRequired('groupdict', ['default'], 0, args, kwargs);
          const d = new PyDict();
          for (const [n, i] of this.pattern.compiled.names) {
            const v = this.m[i];
            d.set(n, v === undefined ? (dflt === MISSING ? null : dflt!) : v);
          }
          return d;
        });
      case 'start':
      case 'end':
        return fn(name, (args) => {
          argCount(name, args, 0, 1);
          return this.span(args[0] ?? 0n)[name === 'start' ? 0 : 1];
        });
      case 'span':
        return fn('span', (args) => {
          argCount('span', args, 0, 1);
          return new PyTuple(this.span(args[0] ?? 0n));
        });
      case 'string':
        return this.string;
      case 're':
        return this.pattern;
      case 'pos':
        return 0n;
      case 'endpos':
        return BigInt(strLen(this.string));
      case 'lastindex': {
        let last: number | null = null;
        for (let i = 1; i <= this.pattern.compiled.groups; i++) if (this.m[i] !== undefined) last = i;
        return last === null ? null : BigInt(last);
      }
      case 'expand':
        return fn('expand', (args) => {
          argCount('expand', args, 1, 1);
          return expandTemplate(pyStr(args[0]!), this);
        });
      default:
        return MISSING;
    }
  }
  override repr(): string {
    const [s, e] = this.span(0n);
    return `<re.Match object; span=(${s}, ${e}), match=${strRepr(this.m[0])}>`;
  }
}

/** [start, end] of group `i` in code points (groups located by re-running with the `d` flag). */
function spanOf(m: RegExpExecArray, i: number, s: string): [number, number] {
  const withIndices = m as RegExpExecArray & { indices?: [number, number][] };
  const idx = withIndices.indices?.[i];
  if (idx) return [cp(s, idx[0]), cp(s, idx[1])];
  const start = cp(s, m.index);
  return i === 0 ? [start, start + strLen(m[0])] : [start, start];
}

/** Python's replacement template: `\1`, `\g<1>`, `\g<name>`, `\n` and friends. */
function expandTemplate(template: string, match: PyMatch): string {
  const simple: Record<string, string> = {
    n: '\n',
    t: '\t',
    r: '\r',
    f: '\f',
    v: '\v',
    a: '\x07',
    b: '\b',
    '\\': '\\',
  };
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = template[i + 1];
    if (n === undefined) throw reError(`bad escape (end of pattern) at position ${i}`);
    const g = /^g<([^>]*)>/.exec(template.slice(i + 1));
    if (g) {
      const ref = /^\d+$/.test(g[1]!) ? BigInt(g[1]!) : g[1]!;
      if (typeof ref === 'string' && !match.pattern.compiled.names.has(ref)) {
        throw new PyError('IndexError', `unknown group name '${ref}'`);
      }
      if (typeof ref === 'bigint' && ref > BigInt(match.pattern.compiled.groups)) {
        throw reError(`invalid group reference ${ref} at position ${i + 3}`);
      }
      const v = match.group(ref);
      out += v === null ? '' : pyStr(v);
      i += g[0].length;
      continue;
    }
    const digits = /^\d{1,2}/.exec(template.slice(i + 1));
    if (digits && digits[0] !== '0') {
      const ref = Number(digits[0]);
      if (ref > match.pattern.compiled.groups)
        throw reError(`invalid group reference ${ref} at position ${i + 1}`);
      const v = match.group(BigInt(ref));
      out += v === null ? '' : pyStr(v);
      i += digits[0].length;
      continue;
    }
    if (simple[n] !== undefined) {
      out += simple[n];
      i++;
      continue;
    }
    if (/[A-Za-z]/.test(n)) throw reError(`bad escape \\${n} at position ${i}`);
    out += '\\' + n;
    i++;
  }
  return out;
}

function* matches(pattern: PyPattern, s: string): Generator<RegExpExecArray> {
  const re = new RegExp(pattern.compiled.regex.source, pattern.compiled.regex.flags + 'd');
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    yield m;
    if (m[0] === '') re.lastIndex += s.codePointAt(re.lastIndex)! > 0xffff ? 2 : 1;
    if (re.lastIndex > s.length) return;
  }
}

class PyPattern extends PyObject {
  constructor(readonly compiled: Compiled) {
    super();
  }
  get typeName(): string {
    return 'Pattern';
  }
  override get typeModule(): string {
    return 're';
  }
  exec(s: string, mode: 'match' | 'search' | 'fullmatch'): PyValue {
    const flags = this.compiled.regex.flags.replace('g', '') + (mode === 'search' ? 'd' : 'yd');
    const source = mode === 'fullmatch' ? `(?:${this.compiled.regex.source})$` : this.compiled.regex.source;
    const m = new RegExp(source, flags).exec(s);
    return m ? new PyMatch(this, s, m) : null;
  }
  sub(repl: PyValue, s: string, count: number): [string, number] {
    let out = '';
    let last = 0;
    let n = 0;
    for (const m of matches(this, s)) {
      if (count > 0 && n >= count) break;
      const match = new PyMatch(this, s, m);
      const replacement = isCallable(repl)
        ? pyStr(callValue(repl, [match]))
        : expandTemplate(pyStr(repl), match);
      out += s.slice(last, m.index) + replacement;
      last = m.index + m[0].length;
      n++;
    }
    return [out + s.slice(last), n];
  }
  split(s: string, maxsplit: number): PyValue[] {
    const out: PyValue[] = [];
    let last = 0;
    let n = 0;
    for (const m of matches(this, s)) {
      if (maxsplit > 0 && n >= maxsplit) break;
      out.push(s.slice(last, m.index));
      for (let i = 1; i <= this.compiled.groups; i++) out.push(m[i] ?? null);
      last = m.index + m[0].length;
      n++;
    }
    out.push(s.slice(last));
    return out;
  }
  findall(s: string): PyValue[] {
    const g = this.compiled.groups;
    return [...matches(this, s)].map((m) =>
      g === 0 ? m[0] : g === 1 ? (m[1] ?? '') : new PyTuple(m.slice(1, g + 1).map((x) => x ?? '')),
    );
  }
  override getAttr(name: string): PyValue | Missing {
    const method = patternMethods[name];
    if (method) return fn(name, (args, kwargs) => method(this, args, kwargs));
    if (name === 'pattern') return this.compiled.source;
    if (name === 'flags') return this.compiled.flags | FLAGS.U;
    if (name === 'groups') return BigInt(this.compiled.groups);
    if (name === 'groupindex') {
      const d = new PyDict();
      for (const [k, v] of this.compiled.names) d.set(k, BigInt(v));
      return d;
    }
    return MISSING;
  }
  override repr(): string {
    return `re.compile(${strRepr(this.compiled.source)})`;
  }
  pyEq(other: PyValue): boolean {
    return (
      other instanceof PyPattern &&
      other.compiled.source === this.compiled.source &&
      other.compiled.flags === this.compiled.flags
    );
  }
}

type Method = (self: PyPattern, args: PyValue[], kwargs: Kwargs | null) => PyValue;

function text(v: PyValue | Missing | undefined): string {
  return strOf(req(v), (t) => `expected string or bytes-like object, got '${t}'`);
}

function num(v: PyValue | Missing | undefined): number {
  return v === MISSING || v === undefined ? 0 : Number(intArg('re', v));
}

const patternMethods: Record<string, Method> = {
  match: (self, a, k) => self.exec(text(bindRequired('match', ['string'], 1, a, k)[0]), 'match'),
  search: (self, a, k) => self.exec(text(bindRequired('search', ['string'], 1, a, k)[0]), 'search'),
  fullmatch: (self, a, k) => self.exec(text(bindRequired('fullmatch', ['string'], 1, a, k)[0]), 'fullmatch'),
  findall: (self, a, k) => self.findall(text(bindRequired('findall', ['string'], 1, a, k)[0])),
  finditer: (self, a, k) => {
    const s = text(bindRequired('finditer', ['string'], 1, a, k)[0]);
    return [...matches(self, s)].map((m) => new PyMatch(self, s, m));
  },
  split: (self, a, k) => {
    const [s, max] = bindRequired('split', ['string', 'maxsplit'], 1, a, k);
    return self.split(text(s), num(max));
  },
  sub: (self, a, k) => {
    const [repl, s, count] = bindRequired('sub', ['repl', 'string', 'count'], 2, a, k);
    return self.sub(replArg(req(repl)), text(s), num(count))[0];
  },
  subn: (self, a, k) => {
    const [repl, s, count] = bindRequired('subn', ['repl', 'string', 'count'], 2, a, k);
    const [out, n] = self.sub(replArg(req(repl)), text(s), num(count));
    return new PyTuple([out, BigInt(n)]);
  },
};

function replArg(v: PyValue): PyValue {
  if (isCallable(v)) return v;
  return strOf(v, (t) => `expected str instance, ${t} found`);
}

const cache = new Map<string, PyPattern>();

function compile(pattern: PyValue, flags: PyValue | Missing): PyPattern {
  if (pattern instanceof PyPattern) {
    if (flags !== MISSING && num(flags) !== 0)
      throw new PyError('ValueError', 'cannot process flags argument with a compiled pattern');
    return pattern;
  }
  const source = strOf(pattern, () => 'first argument must be string or compiled pattern');
  const f = flags === MISSING ? 0n : intArg('compile', flags);
  const key = `${f}:${source}`;
  let compiled = cache.get(key);
  if (!compiled) {
    compiled = new PyPattern(translate(source, f));
    if (cache.size > 256) cache.clear();
    cache.set(key, compiled);
  }
  return compiled;
}

/** `re.NAME(pattern, …rest, flags=0)`: compiles, then calls the pattern's method. */
function moduleFunction(name: string, params: string[], required = params.length): PyFunction {
  return fn(name, (args, kwargs) => {
    const bound = bindRequired(name, ['pattern', ...params, 'flags'], required + 1, args, kwargs);
    const pattern = compile(req(bound[0]), bound[params.length + 1] ?? MISSING);
    const rest = bound.slice(1, params.length + 1).filter((v): v is PyValue => v !== MISSING);
    return patternMethods[name]!(pattern, rest, null);
  });
}

const SPECIAL = new Set('()[]{}?*+-|^$\\.&~# \t\n\r\v\f');

export function reModule(): PyModule {
  const entries: [string, PyValue][] = [
    [
      'compile',
      fn('compile', (args, kwargs) => {
        const [pattern, flags] = bindRequired('compile', ['pattern', 'flags'], 1, args, kwargs);
        return compile(req(pattern), flags ?? MISSING);
      }),
    ],
    ['match', moduleFunction('match', ['string'])],
    ['search', moduleFunction('search', ['string'])],
    ['fullmatch', moduleFunction('fullmatch', ['string'])],
    ['findall', moduleFunction('findall', ['string'])],
    ['finditer', moduleFunction('finditer', ['string'])],
    ['split', moduleFunction('split', ['string', 'maxsplit'], 1)],
    ['sub', moduleFunction('sub', ['repl', 'string', 'count'], 2)],
    ['subn', moduleFunction('subn', ['repl', 'string', 'count'], 2)],
    [
      'escape',
      fn('escape', (args) => {
        argCount('escape', args, 1, 1);
        const s = strOf(args[0]!, (t) => `'${t}' object is not iterable`);
        return [...s].map((c) => (SPECIAL.has(c) ? '\\' + c : c)).join('');
      }),
    ],
    [
      'error',
      fn('error', () => {
        throw typeError('re.error cannot be raised from a template');
      }),
    ],
  ];
  for (const [letter, value] of Object.entries(FLAGS)) entries.push([letter, value]);
  const long: Record<string, bigint> = {
    IGNORECASE: 2n,
    LOCALE: 4n,
    MULTILINE: 8n,
    DOTALL: 16n,
    UNICODE: 32n,
    VERBOSE: 64n,
    ASCII: 256n,
  };
  for (const [n, value] of Object.entries(long)) entries.push([n, value]);
  return stubModule('re', entries);
}

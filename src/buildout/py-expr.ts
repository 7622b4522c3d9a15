/**
 * A small, safe evaluator for the Python expressions buildout profiles contain: conditional section
 * headers (`[s:python3 and platform.machine() == "x86_64"]`) and `!py!` serialised values
 * (`!py!{'a': [1, 2]}`, `!py!'${a:b}/' + 'x'[8:]`). It parses into a tree and interprets it over the
 * value model of `py-value.ts` with an explicit set of global names: nothing is ever passed to a
 * real interpreter, and anything outside the subset is an error naming the construct.
 *
 * Subset: literals (str with escapes and implicit concatenation, int, float, None, True, False),
 * tuples, lists, dicts, sets, `and`/`or`/`not`, chained comparisons (`== != < <= > >= in, not in,
 * is, is not`), `+ - * / // %` on numbers, `+` and `*` on sequences, indexing and slicing,
 * `x if c else y`, attribute access and calls on the objects the caller provides.
 */
import {
  PyFloat,
  PyTuple,
  dictEntries,
  isPlainDict,
  numberOf,
  pyEquals,
  pyFloat,
  pyRepr,
  pyTruthy,
  type PyValue,
} from './py-value.ts';

export class PyExprError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PyExprError';
  }
}

/** A function callable from expressions (builtins, `platform.machine`, string methods). */
export class PyCallable {
  constructor(
    readonly name: string,
    readonly fn: (args: PyObject[], kwargs: Map<string, PyObject>) => PyObject,
  ) {}
}

/** A module-like object whose attributes expressions may read (`sys`, `platform`, `os.path`). */
export class PyNamespace {
  constructor(
    readonly name: string,
    readonly attrs: Readonly<Record<string, PyObject>>,
  ) {}
}

/** A tuple whose items also have names (`sys.version_info.major`). */
export class PyNamedTuple extends PyTuple {
  constructor(
    items: readonly PyValue[],
    readonly attrs: Readonly<Record<string, PyValue>>,
  ) {
    super(items);
  }
}

export type PyObject = PyValue | PyCallable | PyNamespace;

type Node =
  | { k: 'const'; v: PyValue }
  | { k: 'name'; id: string }
  | { k: 'tuple' | 'list' | 'set'; items: Node[] }
  | { k: 'dict'; entries: [Node, Node][] }
  | { k: 'unary'; op: '-' | '+' | 'not'; x: Node }
  | { k: 'bool'; op: 'and' | 'or'; items: Node[] }
  | { k: 'compare'; first: Node; rest: [string, Node][] }
  | { k: 'bin'; op: string; l: Node; r: Node }
  | { k: 'attr'; x: Node; name: string }
  | { k: 'call'; f: Node; args: Node[]; kwargs: [string, Node][] }
  | { k: 'index'; x: Node; index: Node }
  | { k: 'slice'; x: Node; lo: Node | undefined; hi: Node | undefined; step: Node | undefined }
  | { k: 'ifexp'; test: Node; body: Node; orelse: Node }
  | { k: 'listcomp'; elt: Node; clauses: ComprehensionClause[] };

/** `for TARGETS in ITER if C…` of a list comprehension. */
interface ComprehensionClause {
  targets: string[];
  iter: Node;
  ifs: Node[];
}

type Token =
  | { t: 'name'; v: string; pos: number }
  | { t: 'num'; v: number | bigint | PyFloat; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'op'; v: string; pos: number }
  | { t: 'end'; pos: number };

const OPERATORS = [
  '**',
  '//',
  '==',
  '!=',
  '<=',
  '>=',
  '<>',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '.',
];
const UNSUPPORTED_KEYWORDS = new Set([
  'lambda',
  'for',
  'yield',
  'await',
  'import',
  'from',
  'def',
  'class',
  'del',
  'global',
]);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '\\' && text[i + 1] === '\n') {
      i += 2;
      continue;
    }
    const strMatch = /^([rRuUbBfF]{0,2})('''|"""|'|")/.exec(text.slice(i, i + 5));
    if (strMatch && (strMatch[1] === '' || /^[A-Za-z]/.test(c))) {
      const prefix = (strMatch[1] ?? '').toLowerCase();
      if (prefix.includes('b') || prefix.includes('f')) {
        throw new PyExprError(`${prefix.includes('b') ? 'bytes' : 'f-string'} literals are not supported`);
      }
      const quote = strMatch[2] ?? "'";
      const start = i;
      i += strMatch[0].length;
      let body = '';
      for (;;) {
        if (i >= text.length) throw new PyExprError(`unterminated string starting at column ${start + 1}`);
        if (text.startsWith(quote, i)) {
          i += quote.length;
          break;
        }
        const ch = text[i] ?? '';
        if (ch === '\n' && quote.length === 1) throw new PyExprError('end of line inside a string');
        if (ch === '\\' && i + 1 < text.length) {
          body += ch + (text[i + 1] ?? '');
          i += 2;
          continue;
        }
        body += ch;
        i++;
      }
      tokens.push({ t: 'str', v: prefix.includes('r') ? body : unescape(body), pos: start });
      continue;
    }
    const num =
      /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)([jJ]?)/.exec(
        text.slice(i),
      );
    if (num && /[0-9.]/.test(c) && num[0] !== '.') {
      if (num[1]) throw new PyExprError('complex numbers are not supported');
      tokens.push({ t: 'num', v: parseNumber(num[0].replaceAll('_', '')), pos: i });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (name) {
      tokens.push({ t: 'name', v: name[0], pos: i });
      i += name[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) throw new PyExprError(`unexpected character ${JSON.stringify(c)} at column ${i + 1}`);
    tokens.push({ t: 'op', v: op, pos: i });
    i += op.length;
  }
  tokens.push({ t: 'end', pos: text.length });
  return tokens;
}

function parseNumber(text: string): number | bigint | PyFloat {
  if (/^0[xXoObB]/.test(text)) return toInt(BigInt(text));
  if (/^\d+$/.test(text)) {
    if (/^0+\d/.test(text))
      throw new PyExprError(`leading zeros in a decimal integer are not allowed: ${text}`);
    return toInt(BigInt(text));
  }
  return pyFloat(Number(text));
}

function toInt(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(value)
    : value;
}

function unescape(body: string): string {
  return body.replace(
    /\\(\n|\\|'|"|a|b|f|n|r|t|v|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|N\{[^}]*\}|.)/g,
    (whole, seq: string) => {
      switch (seq[0]) {
        case '\n':
          return '';
        case '\\':
        case "'":
        case '"':
          return seq;
        case 'a':
          return '\x07';
        case 'b':
          return '\b';
        case 'f':
          return '\f';
        case 'n':
          return '\n';
        case 'r':
          return '\r';
        case 't':
          return '\t';
        case 'v':
          return '\v';
        case 'x':
        case 'u':
        case 'U':
          if (seq.length === 1) return whole;
          return String.fromCodePoint(parseInt(seq.slice(1), 16));
        case 'N':
          if (seq.length === 1) return whole;
          throw new PyExprError(`named unicode escapes are not supported: ${whole}`);
        default:
          if (/^[0-7]+$/.test(seq)) return String.fromCodePoint(parseInt(seq, 8));
          return whole; // Python keeps unknown escapes verbatim
      }
    },
  );
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i] ?? { t: 'end', pos: 0 };
  }
  private next(): Token {
    const token = this.peek();
    this.i++;
    return token;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private isKeyword(v: string): boolean {
    const t = this.peek();
    return t.t === 'name' && t.v === v;
  }
  private expectOp(v: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v)
      throw new PyExprError(`expected '${v}' at column ${t.pos + 1}, found ${describe(t)}`);
  }

  parseTop(): Node {
    const first = this.expr();
    let node = first;
    if (this.isOp(',')) {
      const items = [first];
      while (this.isOp(',')) {
        this.next();
        if (this.peek().t === 'end') break;
        items.push(this.expr());
      }
      node = { k: 'tuple', items };
    }
    const t = this.peek();
    if (t.t !== 'end') throw new PyExprError(`unexpected ${describe(t)} at column ${t.pos + 1}`);
    return node;
  }

  expr(): Node {
    const body = this.orTest();
    if (this.isKeyword('if')) {
      this.next();
      const test = this.orTest();
      if (!this.isKeyword('else')) throw new PyExprError(`expected 'else' at column ${this.peek().pos + 1}`);
      this.next();
      const orelse = this.expr();
      return { k: 'ifexp', test, body, orelse };
    }
    return body;
  }

  private orTest(): Node {
    const items = [this.andTest()];
    while (this.isKeyword('or')) {
      this.next();
      items.push(this.andTest());
    }
    return items.length === 1 ? (items[0] as Node) : { k: 'bool', op: 'or', items };
  }

  private andTest(): Node {
    const items = [this.notTest()];
    while (this.isKeyword('and')) {
      this.next();
      items.push(this.notTest());
    }
    return items.length === 1 ? (items[0] as Node) : { k: 'bool', op: 'and', items };
  }

  private notTest(): Node {
    if (this.isKeyword('not')) {
      this.next();
      return { k: 'unary', op: 'not', x: this.notTest() };
    }
    return this.comparison();
  }

  private comparison(): Node {
    const first = this.arith();
    const rest: [string, Node][] = [];
    for (;;) {
      const t = this.peek();
      let op: string | undefined;
      if (t.t === 'op' && ['==', '!=', '<', '<=', '>', '>=', '<>'].includes(t.v)) {
        op = t.v === '<>' ? '!=' : t.v;
        this.next();
      } else if (t.t === 'name' && t.v === 'in') {
        op = 'in';
        this.next();
      } else if (
        t.t === 'name' &&
        t.v === 'not' &&
        this.tokens[this.i + 1]?.t === 'name' &&
        (this.tokens[this.i + 1] as { v: string }).v === 'in'
      ) {
        op = 'not in';
        this.i += 2;
      } else if (t.t === 'name' && t.v === 'is') {
        this.next();
        if (this.isKeyword('not')) {
          this.next();
          op = 'is not';
        } else op = 'is';
      }
      if (!op) break;
      rest.push([op, this.arith()]);
    }
    return rest.length === 0 ? first : { k: 'compare', first, rest };
  }

  private arith(): Node {
    let node = this.term();
    while (this.isOp('+') || this.isOp('-')) {
      const op = (this.next() as { v: string }).v;
      node = { k: 'bin', op, l: node, r: this.term() };
    }
    return node;
  }

  private term(): Node {
    let node = this.factor();
    while (this.isOp('*') || this.isOp('/') || this.isOp('//') || this.isOp('%')) {
      const op = (this.next() as { v: string }).v;
      node = { k: 'bin', op, l: node, r: this.factor() };
    }
    return node;
  }

  private factor(): Node {
    if (this.isOp('-') || this.isOp('+')) {
      const op = (this.next() as { v: string }).v as '-' | '+';
      return { k: 'unary', op, x: this.factor() };
    }
    const base = this.power();
    if (this.isOp('**')) {
      this.next();
      return { k: 'bin', op: '**', l: base, r: this.factor() };
    }
    return base;
  }

  private power(): Node {
    let node = this.atom();
    for (;;) {
      if (this.isOp('.')) {
        this.next();
        const t = this.next();
        if (t.t !== 'name') throw new PyExprError(`expected an attribute name at column ${t.pos + 1}`);
        node = { k: 'attr', x: node, name: t.v };
      } else if (this.isOp('(')) {
        this.next();
        const args: Node[] = [];
        const kwargs: [string, Node][] = [];
        while (!this.isOp(')')) {
          const t = this.peek();
          const after = this.tokens[this.i + 1];
          if (t.t === 'name' && after?.t === 'op' && after.v === '=') {
            throw new PyExprError('keyword arguments are not supported');
          }
          if (this.isOp('*') || this.isOp('**')) throw new PyExprError('argument unpacking is not supported');
          args.push(this.expr());
          if (!this.isOp(',')) break;
          this.next();
        }
        this.expectOp(')');
        node = { k: 'call', f: node, args, kwargs };
      } else if (this.isOp('[')) {
        this.next();
        node = this.subscript(node);
        this.expectOp(']');
      } else return node;
    }
  }

  private subscript(x: Node): Node {
    const part = (): Node | undefined => (this.isOp(':') || this.isOp(']') ? undefined : this.expr());
    const lo = part();
    if (!this.isOp(':')) {
      if (!lo) throw new PyExprError(`empty subscript at column ${this.peek().pos + 1}`);
      return { k: 'index', x, index: lo };
    }
    this.next();
    const hi = part();
    let step: Node | undefined;
    if (this.isOp(':')) {
      this.next();
      step = part();
    }
    return { k: 'slice', x, lo, hi, step };
  }

  private atom(): Node {
    const t = this.next();
    switch (t.t) {
      case 'num':
        return { k: 'const', v: t.v };
      case 'str': {
        let v = t.v;
        while (this.peek().t === 'str') v += (this.next() as { v: string }).v;
        return { k: 'const', v };
      }
      case 'name':
        if (t.v === 'None') return { k: 'const', v: null };
        if (t.v === 'True') return { k: 'const', v: true };
        if (t.v === 'False') return { k: 'const', v: false };
        if (UNSUPPORTED_KEYWORDS.has(t.v)) throw new PyExprError(`'${t.v}' is not supported`);
        return { k: 'name', id: t.v };
      case 'op':
        if (t.v === '(') return this.display(')', 'tuple');
        if (t.v === '[') return this.display(']', 'list');
        if (t.v === '{') return this.braces();
        break;
      case 'end':
        throw new PyExprError('unexpected end of expression');
    }
    throw new PyExprError(`unexpected ${describe(t)} at column ${t.pos + 1}`);
  }

  private display(close: string, kind: 'tuple' | 'list'): Node {
    const items: Node[] = [];
    let trailingComma = false;
    while (!this.isOp(close)) {
      items.push(this.expr());
      if (this.isKeyword('for')) {
        if (kind !== 'list' || items.length !== 1)
          throw new PyExprError('only list comprehensions are supported');
        return this.comprehension(items[0] as Node, close);
      }
      trailingComma = false;
      if (!this.isOp(',')) break;
      this.next();
      trailingComma = true;
    }
    this.expectOp(close);
    if (kind === 'tuple' && items.length === 1 && !trailingComma) return items[0] as Node;
    return { k: kind, items };
  }

  /** `[ELT for A, B in ITER if C …]`, after ELT (Python's grammar: ITER and C are or_tests). */
  private comprehension(elt: Node, close: string): Node {
    const clauses: ComprehensionClause[] = [];
    while (this.isKeyword('for')) {
      this.next();
      const targets = [this.targetName()];
      while (this.isOp(',')) {
        this.next();
        targets.push(this.targetName());
      }
      if (!this.isKeyword('in')) throw new PyExprError(`expected 'in' at column ${this.peek().pos + 1}`);
      this.next();
      const iter = this.orTest();
      const ifs: Node[] = [];
      while (this.isKeyword('if')) {
        this.next();
        ifs.push(this.orTest());
      }
      clauses.push({ targets, iter, ifs });
    }
    this.expectOp(close);
    return { k: 'listcomp', elt, clauses };
  }

  private targetName(): string {
    const t = this.next();
    if (
      t.t !== 'name' ||
      UNSUPPORTED_KEYWORDS.has(t.v) ||
      ['None', 'True', 'False', 'in', 'if', 'else', 'and', 'or', 'not', 'is'].includes(t.v)
    )
      throw new PyExprError(`expected a name at column ${t.pos + 1}, found ${describe(t)}`);
    return t.v;
  }

  private braces(): Node {
    if (this.isOp('}')) {
      this.next();
      return { k: 'dict', entries: [] };
    }
    const first = this.expr();
    if (this.isKeyword('for')) throw new PyExprError('comprehensions are not supported');
    if (this.isOp(':')) {
      this.next();
      const entries: [Node, Node][] = [[first, this.expr()]];
      while (this.isOp(',')) {
        this.next();
        if (this.isOp('}')) break;
        const key = this.expr();
        this.expectOp(':');
        entries.push([key, this.expr()]);
      }
      this.expectOp('}');
      return { k: 'dict', entries };
    }
    const items = [first];
    while (this.isOp(',')) {
      this.next();
      if (this.isOp('}')) break;
      items.push(this.expr());
    }
    this.expectOp('}');
    return { k: 'set', items };
  }
}

function describe(t: Token): string {
  if (t.t === 'end') return 'end of expression';
  if (t.t === 'str') return 'string';
  if (t.t === 'num') return `'${pyRepr(t.v)}'`;
  return `'${t.v}'`;
}

/** Parses an expression (a tree that `evaluate` interprets). */
export function parseExpression(text: string): PyExpression {
  return new PyExpression(new Parser(tokenize(text)).parseTop());
}

export class PyExpression {
  constructor(readonly node: Node) {}
}

export type Globals = Readonly<Record<string, PyObject>>;

/** Evaluates a parsed expression with the given global names. */
export function evaluate(expression: PyExpression, globals: Globals): PyObject {
  return new Interpreter(globals).eval(expression.node);
}

function typeName(v: PyObject): string {
  if (v === null) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (v instanceof PyFloat) return 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof Set) return 'set';
  if (v instanceof PyCallable) return 'function';
  if (v instanceof PyNamespace) return 'module';
  return 'dict';
}

function asValue(v: PyObject, what: string): PyValue {
  if (v instanceof PyCallable || v instanceof PyNamespace)
    throw new PyExprError(`${what} cannot be a ${typeName(v)}`);
  return v;
}

function isNumeric(v: PyObject): v is number | bigint | boolean | PyFloat {
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' || v instanceof PyFloat;
}

function isFloat(v: PyObject): boolean {
  return v instanceof PyFloat || (typeof v === 'number' && !Number.isInteger(v));
}

function sequenceItems(v: PyObject): PyValue[] | undefined {
  if (Array.isArray(v)) return v;
  if (v instanceof PyTuple) return [...v.items];
  return undefined;
}

/** Python ordering comparison (numbers, strings, sequences lexicographically). */
function compareOrder(a: PyObject, b: PyObject, op: string): number {
  if (isNumeric(a) && isNumeric(b)) {
    const x = Number(numberOf(a));
    const y = Number(numberOf(b));
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  const sa = sequenceItems(a);
  const sb = sequenceItems(b);
  if (sa && sb && Array.isArray(a) === Array.isArray(b)) {
    for (let i = 0; i < Math.min(sa.length, sb.length); i++) {
      const x = sa[i] ?? null;
      const y = sb[i] ?? null;
      if (!pyEquals(x, y)) return compareOrder(x, y, op);
    }
    return sa.length - sb.length;
  }
  throw new PyExprError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

function contains(container: PyObject, item: PyObject): boolean {
  const value = asValue(item, 'operand of in');
  if (typeof container === 'string') {
    if (typeof value !== 'string')
      throw new PyExprError(`'in <string>' requires string as left operand, not ${typeName(value)}`);
    return container.includes(value);
  }
  const seq = sequenceItems(container);
  if (seq) return seq.some((x) => pyEquals(x, value));
  if (container instanceof Set) return [...container].some((x) => pyEquals(x, value));
  if (
    container !== null &&
    typeof container === 'object' &&
    !(container instanceof PyCallable) &&
    !(container instanceof PyNamespace)
  ) {
    return dictEntries(container as Map<PyValue, PyValue>).some(([k]) => pyEquals(k, value));
  }
  throw new PyExprError(`argument of type '${typeName(container)}' is not iterable`);
}

function normIndex(index: PyObject, length: number): number {
  if (
    !isNumeric(index) ||
    index instanceof PyFloat ||
    (typeof index === 'number' && !Number.isInteger(index))
  ) {
    throw new PyExprError(`indices must be integers, not ${typeName(index)}`);
  }
  const i = Number(index);
  return i < 0 ? i + length : i;
}

function sliceIndices(length: number, lo: PyObject, hi: PyObject, step: PyObject): number[] {
  const s = step === null ? 1 : Number(step);
  if (s === 0) throw new PyExprError('slice step cannot be zero');
  const clamp = (v: PyObject, dflt: number, min: number, max: number): number => {
    if (v === null) return dflt;
    let i = Number(v);
    if (i < 0) i += length;
    return Math.min(Math.max(i, min), max);
  };
  const indices: number[] = [];
  if (s > 0) {
    const start = clamp(lo, 0, 0, length);
    const stop = clamp(hi, length, 0, length);
    for (let i = start; i < stop; i += s) indices.push(i);
  } else {
    const start = clamp(lo, length - 1, -1, length - 1);
    const stop = clamp(hi, -1, -1, length - 1);
    for (let i = start; i > stop; i += s) indices.push(i);
  }
  return indices;
}

/** Items a comprehension iterates over more than this are refused (profiles are untrusted). */
export const MAX_COMPREHENSION_STEPS = 100_000;

/** What `for x in v` iterates over: characters, items, set members, dict keys. */
function iterationItems(v: PyObject): PyValue[] {
  if (typeof v === 'string') return [...v];
  const seq = sequenceItems(v);
  if (seq) return seq;
  if (v instanceof Set) return [...v];
  if (v !== null && typeof v === 'object' && !(v instanceof PyCallable) && !(v instanceof PyNamespace))
    return dictEntries(v as Map<PyValue, PyValue>).map(([k]) => k);
  throw new PyExprError(`'${typeName(v)}' object is not iterable`);
}

function bindTargets(targets: string[], item: PyValue): Record<string, PyObject> {
  if (targets.length === 1) return { [targets[0] as string]: item };
  const items = typeof item === 'string' ? [...item] : sequenceItems(item);
  if (!items) throw new PyExprError(`cannot unpack non-iterable ${typeName(item)} object`);
  if (items.length !== targets.length)
    throw new PyExprError(`cannot unpack ${items.length} values into ${targets.length} names`);
  return Object.fromEntries(targets.map((name, i) => [name, items[i] ?? null]));
}

class Interpreter {
  private steps = { count: 0 };
  constructor(private readonly globals: Globals) {}

  /** Evaluates a list comprehension's clauses from `index` with `scope`'s names bound. */
  private comprehend(
    node: Extract<Node, { k: 'listcomp' }>,
    index: number,
    scope: Globals,
    out: PyValue[],
  ): void {
    const inner = new Interpreter(scope);
    inner.steps = this.steps;
    const clause = node.clauses[index];
    if (!clause) {
      out.push(asValue(inner.eval(node.elt), 'a list item'));
      return;
    }
    for (const item of iterationItems(inner.eval(clause.iter))) {
      if (++this.steps.count > MAX_COMPREHENSION_STEPS)
        throw new PyExprError(`a comprehension iterates more than ${MAX_COMPREHENSION_STEPS} times`);
      const bound: Globals = { ...scope, ...bindTargets(clause.targets, item) };
      const test = new Interpreter(bound);
      test.steps = this.steps;
      if (clause.ifs.every((condition) => truthy(test.eval(condition))))
        this.comprehend(node, index + 1, bound, out);
    }
  }

  eval(node: Node): PyObject {
    switch (node.k) {
      case 'const':
        return node.v;
      case 'name': {
        if (!Object.prototype.hasOwnProperty.call(this.globals, node.id)) {
          throw new PyExprError(`name '${node.id}' is not supported here`);
        }
        return this.globals[node.id] ?? null;
      }
      case 'tuple':
        return new PyTuple(node.items.map((n) => asValue(this.eval(n), 'a tuple item')));
      case 'list':
        return node.items.map((n) => asValue(this.eval(n), 'a list item'));
      case 'listcomp': {
        const out: PyValue[] = [];
        this.comprehend(node, 0, this.globals, out);
        return out;
      }
      case 'set':
        return new Set(node.items.map((n) => asValue(this.eval(n), 'a set item')));
      case 'dict':
        return makeDict(
          node.entries.map(([k, v]) => [
            asValue(this.eval(k), 'a dict key'),
            asValue(this.eval(v), 'a dict value'),
          ]),
        );
      case 'unary': {
        const x = this.eval(node.x);
        if (node.op === 'not') return !truthy(x);
        if (!isNumeric(x)) throw new PyExprError(`bad operand type for unary ${node.op}: '${typeName(x)}'`);
        if (typeof x === 'bigint') return node.op === '-' ? -x : x;
        if (x instanceof PyFloat) return new PyFloat(node.op === '-' ? -x.value : x.value);
        return node.op === '-' ? -Number(x) : Number(x);
      }
      case 'bool': {
        let value: PyObject = null;
        for (const item of node.items) {
          value = this.eval(item);
          if (node.op === 'and' ? !truthy(value) : truthy(value)) return value;
        }
        return value;
      }
      case 'compare': {
        let left = this.eval(node.first);
        for (const [op, rightNode] of node.rest) {
          const right = this.eval(rightNode);
          if (!compare(op, left, right)) return false;
          left = right;
        }
        return true;
      }
      case 'bin':
        return binary(node.op, this.eval(node.l), this.eval(node.r));
      case 'ifexp':
        return truthy(this.eval(node.test)) ? this.eval(node.body) : this.eval(node.orelse);
      case 'attr':
        return attribute(this.eval(node.x), node.name);
      case 'call': {
        const f = this.eval(node.f);
        if (!(f instanceof PyCallable)) throw new PyExprError(`'${typeName(f)}' object is not callable`);
        return f.fn(
          node.args.map((a) => this.eval(a)),
          new Map(node.kwargs.map(([k, v]) => [k, this.eval(v)])),
        );
      }
      case 'index': {
        const x = this.eval(node.x);
        const index = this.eval(node.index);
        return getItem(x, index);
      }
      case 'slice': {
        const x = this.eval(node.x);
        const part = (n: Node | undefined): PyObject => (n ? this.eval(n) : null);
        const lo = part(node.lo);
        const hi = part(node.hi);
        const step = part(node.step);
        for (const v of [lo, hi, step]) {
          if (v !== null && !isNumeric(v)) throw new PyExprError('slice indices must be integers or None');
        }
        if (typeof x === 'string') {
          const chars = [...x];
          return sliceIndices(chars.length, lo, hi, step)
            .map((i) => chars[i])
            .join('');
        }
        const seq = sequenceItems(x);
        if (!seq) throw new PyExprError(`'${typeName(x)}' object is not subscriptable`);
        const items = sliceIndices(seq.length, lo, hi, step).map((i) => seq[i] ?? null);
        return Array.isArray(x) ? items : new PyTuple(items);
      }
    }
  }
}

function truthy(v: PyObject): boolean {
  if (v instanceof PyCallable || v instanceof PyNamespace) return true;
  return pyTruthy(v);
}

function makeDict(entries: [PyValue, PyValue][]): PyValue {
  if (entries.every(([k]) => typeof k === 'string')) {
    const dict: Record<string, PyValue> = {};
    for (const [k, v] of entries) dict[k as string] = v;
    return dict;
  }
  const map = new Map<PyValue, PyValue>();
  for (const [k, v] of entries) {
    const existing = [...map.keys()].find((key) => pyEquals(key, k));
    map.set(existing === undefined ? k : existing, v);
  }
  return map;
}

function compare(op: string, a: PyObject, b: PyObject): boolean {
  switch (op) {
    case '==':
      return equals(a, b);
    case '!=':
      return !equals(a, b);
    case 'is':
      return a === b || (a === null && b === null);
    case 'is not':
      return !(a === b || (a === null && b === null));
    case 'in':
      return contains(b, a);
    case 'not in':
      return !contains(b, a);
    default: {
      const c = compareOrder(a, b, op);
      return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
    }
  }
}

function equals(a: PyObject, b: PyObject): boolean {
  if (
    a instanceof PyCallable ||
    a instanceof PyNamespace ||
    b instanceof PyCallable ||
    b instanceof PyNamespace
  )
    return a === b;
  return pyEquals(a, b);
}

function binary(op: string, a: PyObject, b: PyObject): PyObject {
  if (isNumeric(a) && isNumeric(b)) {
    const float = isFloat(a) || isFloat(b) || op === '/';
    const result = arithmetic(op, numberOf(a), numberOf(b));
    return float && typeof result === 'number' ? pyFloat(result) : result;
  }
  return sequenceBinary(op, a, b);
}

function arithmetic(op: string, a: number | bigint | boolean, b: number | bigint | boolean): PyObject {
  {
    if (typeof a === 'bigint' || typeof b === 'bigint') {
      const x = BigInt(a);
      const y = BigInt(b);
      switch (op) {
        case '+':
          return x + y;
        case '-':
          return x - y;
        case '*':
          return x * y;
      }
    }
    const x = Number(a);
    const y = Number(b);
    switch (op) {
      case '+':
        return x + y;
      case '-':
        return x - y;
      case '*':
        return x * y;
      case '**':
        return x ** y;
      case '/':
        if (y === 0) throw new PyExprError('division by zero');
        return x / y;
      case '//':
        if (y === 0) throw new PyExprError('integer division or modulo by zero');
        return Math.floor(x / y);
      case '%':
        if (y === 0) throw new PyExprError('integer division or modulo by zero');
        return x - y * Math.floor(x / y);
    }
  }
  throw new PyExprError(`unsupported operator ${op}`);
}

function sequenceBinary(op: string, a: PyObject, b: PyObject): PyObject {
  if (op === '+') {
    if (typeof a === 'string' && typeof b === 'string') return a + b;
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    if (a instanceof PyTuple && b instanceof PyTuple) return new PyTuple([...a.items, ...b.items]);
  }
  if (op === '*') {
    const [seq, n] = isNumeric(b) ? [a, b] : [b, a];
    if (isNumeric(n) && !(n instanceof PyFloat) && Number.isInteger(Number(n))) {
      const count = Math.max(0, Number(n));
      if (typeof seq === 'string') return seq.repeat(count);
      if (Array.isArray(seq)) return Array.from({ length: count }, () => seq).flat();
      if (seq instanceof PyTuple) return new PyTuple(Array.from({ length: count }, () => seq.items).flat());
    }
  }
  if (op === '%' && typeof a === 'string') throw new PyExprError('string formatting with % is not supported');
  throw new PyExprError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

function getItem(x: PyObject, index: PyObject): PyObject {
  if (typeof x === 'string') {
    const chars = [...x];
    const i = normIndex(index, chars.length);
    if (i < 0 || i >= chars.length) throw new PyExprError('string index out of range');
    return chars[i] ?? '';
  }
  const seq = sequenceItems(x);
  if (seq) {
    const i = normIndex(index, seq.length);
    if (i < 0 || i >= seq.length) throw new PyExprError(`${typeName(x)} index out of range`);
    return seq[i] ?? null;
  }
  if (x instanceof Map || isPlainDict(x)) {
    const key = asValue(index, 'a dict key');
    const found = dictEntries(x).find(([k]) => pyEquals(k, key));
    if (!found) throw new PyExprError(`KeyError: ${pyRepr(key)}`);
    return found[1];
  }
  throw new PyExprError(`'${typeName(x)}' object is not subscriptable`);
}

function attribute(x: PyObject, name: string): PyObject {
  if (x instanceof PyNamespace) {
    if (!Object.prototype.hasOwnProperty.call(x.attrs, name))
      throw new PyExprError(`${x.name}.${name} is not supported here`);
    return x.attrs[name] ?? null;
  }
  if (typeof x === 'string') {
    const method = STRING_METHODS[name];
    if (!method) throw new PyExprError(`str.${name}() is not supported here`);
    return new PyCallable(`str.${name}`, (args) => method(x, args));
  }
  if (x instanceof PyNamedTuple && Object.prototype.hasOwnProperty.call(x.attrs, name))
    return x.attrs[name] ?? null;
  throw new PyExprError(`'${typeName(x)}' attribute '${name}' is not supported here`);
}

function strArg(args: PyObject[], i: number, method: string): string {
  const v = args[i];
  if (typeof v !== 'string') throw new PyExprError(`str.${method}() argument ${i + 1} must be str`);
  return v;
}

const STRING_METHODS: Record<string, (s: string, args: PyObject[]) => PyObject> = {
  startswith: (s, a) => s.startsWith(strArg(a, 0, 'startswith')),
  endswith: (s, a) => s.endsWith(strArg(a, 0, 'endswith')),
  lower: (s) => s.toLowerCase(),
  upper: (s) => s.toUpperCase(),
  strip: (s) => s.trim(),
  lstrip: (s) => s.trimStart(),
  rstrip: (s) => s.trimEnd(),
  split: (s, a) => (a.length === 0 ? s.split(/\s+/).filter((x) => x !== '') : s.split(strArg(a, 0, 'split'))),
  replace: (s, a) => s.replaceAll(strArg(a, 0, 'replace'), strArg(a, 1, 'replace')),
};

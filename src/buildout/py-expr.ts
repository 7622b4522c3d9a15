/**
 * A small, safe evaluator for the Python expressions buildout profiles contain: conditional section
 * headers (`[s:python3 and platform.machine() == "x86_64"]`) and `!py!` serialised values
 * (`!py!{'a': [1, 2]}`, `!py!'${a:b}/' + 'x'[8:]`). It parses into a tree and interprets it over the
 * project's one Python value model (src/template/values.ts, its operators in ops.ts and methods in
 * attributes.ts) with an explicit set of global names: nothing is ever passed to a real
 * interpreter, and anything outside the subset is an error naming the construct.
 *
 * Subset: literals (str with escapes and implicit concatenation, int, float, None, True, False),
 * tuples, lists, dicts, sets, `and`/`or`/`not`, chained comparisons (`== != < <= > >= in, not in,
 * is, is not`), `+ - * / // %` on numbers, `+` and `*` on sequences, indexing and slicing,
 * `x if c else y`, attribute access and calls on the objects the caller provides.
 */
import { callValue, getAttr, getItemOrFail } from '../template/attributes.ts';
import { percentFormat } from '../template/format.ts';
import { unescapeString } from '../template/lexer.ts';
import {
  add,
  compare,
  contains,
  floordiv,
  mod,
  mul,
  neg,
  pos,
  pow,
  PySlice,
  sub,
  truediv,
} from '../template/ops.ts';
import {
  MISSING,
  PyDict,
  PyError,
  PyModule,
  PySet,
  PyTuple,
  iterable,
  pyEquals,
  pyRepr,
  truthy,
  typeName,
  type PyValue,
} from '../template/values.ts';

export class PyExprError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PyExprError';
  }
}

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
  | { k: 'call'; f: Node; args: Node[] }
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
  | { t: 'num'; v: bigint | number; pos: number }
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

/** An int literal is a bigint, a float literal a number (the value model's int and float). */
function parseNumber(text: string): bigint | number {
  if (/^0[xXoObB]/.test(text)) return BigInt(text);
  if (/^\d+$/.test(text)) {
    if (/^0+\d/.test(text))
      throw new PyExprError(`leading zeros in a decimal integer are not allowed: ${text}`);
    return BigInt(text);
  }
  return Number(text);
}

/** A string literal's body with its escapes decoded (the template lexer's decoding: Python's). */
function unescape(body: string): string {
  try {
    return unescapeString(body, 0);
  } catch (error) {
    if (error instanceof PyError) throw new PyExprError(error.message);
    throw error;
  }
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
        node = { k: 'call', f: node, args };
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

/** The names an expression may use: values of the model, modules (PyModule), functions (PyFunction). */
export type Globals = Readonly<Record<string, PyValue>>;

/**
 * Evaluates a parsed expression with the given global names. The value model's Python exceptions
 * (TypeError, ZeroDivisionError…) become a PyExprError naming them.
 */
export function evaluate(expression: PyExpression, globals: Globals): PyValue {
  try {
    return new Interpreter(globals).eval(expression.node);
  } catch (error) {
    if (error instanceof PyError) throw new PyExprError(`${error.pyType}: ${error.message}`);
    throw error;
  }
}

const BINARY: Readonly<Record<string, (a: PyValue, b: PyValue) => PyValue>> = {
  '+': add,
  '-': sub,
  '*': mul,
  '/': truediv,
  '//': floordiv,
  '%': (a, b) => mod(a, b, percentFormat),
  '**': pow,
};

function compareOp(op: string, a: PyValue, b: PyValue): boolean {
  switch (op) {
    case '==':
      return pyEquals(a, b);
    case '!=':
      return !pyEquals(a, b);
    case 'is':
      return a === b;
    case 'is not':
      return a !== b;
    case 'in':
      return contains(b, a);
    case 'not in':
      return !contains(b, a);
    default: {
      const c = compare(a, b, op);
      return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
    }
  }
}

function attribute(x: PyValue, name: string): PyValue {
  const value = getAttr(x, name);
  if (value !== MISSING) return value;
  if (x instanceof PyModule) throw new PyExprError(`${x.name}.${name} is not supported here`);
  throw new PyExprError(`'${typeName(x)}' attribute '${name}' is not supported here`);
}

/** Items a comprehension iterates over more than this are refused (profiles are untrusted). */
export const MAX_COMPREHENSION_STEPS = 100_000;

function bindTargets(targets: string[], item: PyValue): Record<string, PyValue> {
  if (targets.length === 1) return { [targets[0] as string]: item };
  const items = [...iterable(item)];
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
      out.push(inner.eval(node.elt));
      return;
    }
    for (const item of iterable(inner.eval(clause.iter))) {
      if (++this.steps.count > MAX_COMPREHENSION_STEPS)
        throw new PyExprError(`a comprehension iterates more than ${MAX_COMPREHENSION_STEPS} times`);
      const bound: Globals = { ...scope, ...bindTargets(clause.targets, item) };
      const test = new Interpreter(bound);
      test.steps = this.steps;
      if (clause.ifs.every((condition) => truthy(test.eval(condition))))
        this.comprehend(node, index + 1, bound, out);
    }
  }

  eval(node: Node): PyValue {
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
        return new PyTuple(node.items.map((n) => this.eval(n)));
      case 'list':
        return node.items.map((n) => this.eval(n));
      case 'listcomp': {
        const out: PyValue[] = [];
        this.comprehend(node, 0, this.globals, out);
        return out;
      }
      case 'set':
        return new PySet(node.items.map((n) => this.eval(n)));
      case 'dict':
        return PyDict.from(node.entries.map(([k, v]) => [this.eval(k), this.eval(v)] as const));
      case 'unary': {
        const x = this.eval(node.x);
        if (node.op === 'not') return !truthy(x);
        return node.op === '-' ? neg(x) : pos(x);
      }
      case 'bool': {
        let value: PyValue = null;
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
          if (!compareOp(op, left, right)) return false;
          left = right;
        }
        return true;
      }
      case 'bin': {
        const operator = BINARY[node.op];
        if (!operator) throw new PyExprError(`unsupported operator ${node.op}`);
        return operator(this.eval(node.l), this.eval(node.r));
      }
      case 'ifexp':
        return truthy(this.eval(node.test)) ? this.eval(node.body) : this.eval(node.orelse);
      case 'attr':
        return attribute(this.eval(node.x), node.name);
      case 'call':
        return callValue(
          this.eval(node.f),
          node.args.map((a) => this.eval(a)),
          null,
        );
      case 'index':
        return getItemOrFail(this.eval(node.x), this.eval(node.index));
      case 'slice': {
        const part = (n: Node | undefined): PyValue => (n ? this.eval(n) : null);
        const x = this.eval(node.x);
        return getItemOrFail(x, new PySlice(part(node.lo), part(node.hi), part(node.step)));
      }
    }
  }
}

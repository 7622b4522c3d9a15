/** Recursive-descent parser producing the template AST, following Jinja2 3.1's grammar and messages. */
import type {
  BinOperator,
  CallArgs,
  CompareOperator,
  Expr,
  FilterExpr,
  IfStmt,
  MacroSignature,
  Stmt,
  Target,
  TemplateAst,
} from './ast.ts';
import { TokenStream, describeToken, describeTokenExpr, syntaxError, type Token } from './lexer.ts';
import { PyError } from './values.ts';

export interface ParserOptions {
  /** `jinja2.ext.do` enabled. */
  doExtension?: boolean;
  /** `jinja2.ext.loopcontrols` enabled. */
  loopControls?: boolean;
}

const STATEMENT_KEYWORDS = new Set([
  'for',
  'if',
  'block',
  'extends',
  'print',
  'macro',
  'include',
  'from',
  'import',
  'set',
  'with',
  'autoescape',
]);
const COMPARE_OPERATORS = new Set(['eq', 'ne', 'lt', 'lteq', 'gt', 'gteq']);
const MATH2: Record<string, BinOperator> = { mul: 'mul', div: 'div', floordiv: 'floordiv', mod: 'mod' };

export function assertionError(message: string, lineno: number): PyError {
  const e = new PyError('TemplateAssertionError', message);
  e.lineno = lineno;
  return e;
}

export class Parser {
  private readonly stream: TokenStream;
  private readonly tagStack: string[] = [];
  private readonly endTokenStack: string[][] = [];

  constructor(
    tokens: Token[],
    private readonly options: ParserOptions = {},
  ) {
    this.stream = new TokenStream(tokens);
  }

  parse(): TemplateAst {
    return { body: this.subparse(null) };
  }

  private fail(message: string, lineno = this.stream.current.lineno): never {
    throw syntaxError(message, lineno);
  }

  private failUnknownTag(name: string | null, lineno: number): never {
    const expected = new Set<string>();
    for (const exprs of this.endTokenStack) for (const e of exprs) expected.add(describeTokenExpr(e));
    const innermost = this.endTokenStack[this.endTokenStack.length - 1];
    const looking = innermost ? innermost.map((e) => `'${describeTokenExpr(e)}'`).join(' or ') : null;
    const message = [name === null ? 'Unexpected end of template.' : `Encountered unknown tag '${name}'.`];
    if (looking) {
      if (name !== null && expected.has(name)) {
        message.push(
          `You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for ${looking}.`,
        );
      } else {
        message.push(`Jinja was looking for the following tags: ${looking}.`);
      }
    }
    if (this.tagStack.length)
      message.push(
        `The innermost block that needs to be closed is '${this.tagStack[this.tagStack.length - 1]}'.`,
      );
    this.fail(message.join(' '), lineno);
  }

  private subparse(endTokens: string[] | null): Stmt[] {
    const body: Stmt[] = [];
    let data: (string | Expr)[] = [];
    let dataLine = this.stream.current.lineno;
    const flush = (): void => {
      if (data.length) body.push({ kind: 'Output', nodes: data, lineno: dataLine });
      data = [];
    };
    if (endTokens) this.endTokenStack.push(endTokens);
    try {
      for (;;) {
        const token = this.stream.current;
        if (token.type === 'eof') break;
        if (token.type === 'data') {
          if (!data.length) dataLine = token.lineno;
          data.push(String(token.value));
          this.stream.next();
        } else if (token.type === 'variable_begin') {
          this.stream.next();
          if (!data.length) dataLine = token.lineno;
          data.push(this.parseTuple({ withCondexpr: true }));
          this.stream.expect('variable_end');
        } else if (token.type === 'block_begin') {
          flush();
          this.stream.next();
          if (endTokens && this.stream.testAny(endTokens)) return body;
          const stmt = this.parseStatement();
          if (Array.isArray(stmt)) body.push(...stmt);
          else body.push(stmt);
          this.stream.expect('block_end');
        } else {
          this.fail('internal parser error: unexpected token');
        }
      }
      flush();
      return body;
    } finally {
      if (endTokens) this.endTokenStack.pop();
    }
  }

  private parseStatement(): Stmt | Stmt[] {
    const token = this.stream.current;
    if (token.type !== 'name') this.fail('tag name expected', token.lineno);
    const name = String(token.value);
    this.tagStack.push(name);
    let popTag = true;
    try {
      if (STATEMENT_KEYWORDS.has(name)) {
        switch (name) {
          case 'for':
            return this.parseFor();
          case 'if':
            return this.parseIf();
          case 'block':
            return this.parseBlock();
          case 'extends':
            return this.parseExtends();
          case 'print':
            return this.parsePrint();
          case 'macro':
            return this.parseMacro();
          case 'include':
            return this.parseInclude();
          case 'from':
            return this.parseFrom();
          case 'import':
            return this.parseImport();
          case 'set':
            return this.parseSet();
          case 'with':
            return this.parseWith();
          default:
            return this.parseAutoescape();
        }
      }
      if (name === 'call') return this.parseCallBlock();
      if (name === 'filter') return this.parseFilterBlock();
      if (name === 'do' && this.options.doExtension) {
        const lineno = this.stream.next().lineno;
        return { kind: 'ExprStmt', node: this.parseTuple(), lineno };
      }
      if ((name === 'break' || name === 'continue') && this.options.loopControls) {
        const lineno = this.stream.next().lineno;
        return { kind: name === 'break' ? 'Break' : 'Continue', lineno };
      }
      this.tagStack.pop();
      popTag = false;
      return this.failUnknownTag(name, token.lineno);
    } finally {
      if (popTag) this.tagStack.pop();
    }
  }

  private parseStatements(endTokens: string[], dropNeedle = false): Stmt[] {
    this.stream.skipIf('colon');
    this.stream.expect('block_end');
    const result = this.subparse(endTokens);
    if (this.stream.type() === 'eof') {
      this.endTokenStack.push(endTokens);
      this.failUnknownTag(null, this.stream.current.lineno);
    }
    if (dropNeedle) this.stream.next();
    return result;
  }

  private parseSet(): Stmt {
    const lineno = this.stream.next().lineno;
    const target = this.parseAssignTarget({ withNamespace: true });
    if (this.stream.skipIf('assign')) return { kind: 'Assign', target, node: this.parseTuple(), lineno };
    const filter = this.parseFilter(null) as FilterExpr | null;
    const body = this.parseStatements(['name:endset'], true);
    return { kind: 'AssignBlock', target, body, filter, lineno };
  }

  private parseFor(): Stmt {
    const lineno = this.stream.expect('name:for').lineno;
    const target = this.parseAssignTarget({ extraEndRules: ['name:in'] });
    this.stream.expect('name:in');
    const iter = this.parseTuple({ withCondexpr: false, extraEndRules: ['name:recursive'] });
    let test: Expr | null = null;
    if (this.stream.skipIf('name:if')) test = this.parseExpression();
    const recursive = this.stream.skipIf('name:recursive');
    const body = this.parseStatements(['name:endfor', 'name:else']);
    let else_: Stmt[] = [];
    if (this.stream.next().value !== 'endfor') else_ = this.parseStatements(['name:endfor'], true);
    return { kind: 'For', target, iter, body, else_, test, recursive, lineno };
  }

  private parseIf(): Stmt {
    const lineno = this.stream.expect('name:if').lineno;
    const result: IfStmt = {
      kind: 'If',
      test: null as unknown as Expr,
      body: [],
      elif: [],
      else_: [],
      lineno,
    };
    let node = result;
    for (;;) {
      node.test = this.parseTuple({ withCondexpr: false });
      node.body = this.parseStatements(['name:elif', 'name:else', 'name:endif']);
      const token = this.stream.next();
      if (this.stream.test('name:elif', token)) {
        node = {
          kind: 'If',
          test: null as unknown as Expr,
          body: [],
          elif: [],
          else_: [],
          lineno: this.stream.current.lineno,
        };
        result.elif.push(node);
        continue;
      }
      if (this.stream.test('name:else', token)) result.else_ = this.parseStatements(['name:endif'], true);
      break;
    }
    return result;
  }

  private parseWith(): Stmt {
    const lineno = this.stream.next().lineno;
    const targets: Target[] = [];
    const values: Expr[] = [];
    while (this.stream.type() !== 'block_end') {
      if (targets.length) this.stream.expect('comma');
      targets.push(this.parseAssignTarget());
      this.stream.expect('assign');
      values.push(this.parseExpression());
    }
    const body = this.parseStatements(['name:endwith'], true);
    return { kind: 'With', targets, values, body, lineno };
  }

  private parseAutoescape(): Stmt {
    const lineno = this.stream.next().lineno;
    const value = this.parseExpression();
    const body = this.parseStatements(['name:endautoescape'], true);
    return { kind: 'Autoescape', value, body, lineno };
  }

  private parseBlock(): Stmt {
    const lineno = this.stream.next().lineno;
    const name = String(this.stream.expect('name').value);
    const scoped = this.stream.skipIf('name:scoped');
    const required = this.stream.skipIf('name:required');
    if (this.stream.type() === 'sub') {
      this.fail(
        'Block names in Jinja have to be valid Python identifiers and may not contain hyphens, use an underscore instead.',
      );
    }
    const body = this.parseStatements(['name:endblock'], true);
    if (
      required &&
      body.some(
        (s) => !(s.kind === 'Output' && s.nodes.every((n) => typeof n === 'string' && n.trim() === '')),
      )
    ) {
      this.fail('Required blocks can only contain comments or whitespace', lineno);
    }
    this.stream.skipIf(`name:${name}`);
    return { kind: 'Block', name, body, scoped, required, lineno };
  }

  private parseExtends(): Stmt {
    const lineno = this.stream.next().lineno;
    return { kind: 'Extends', template: this.parseExpression(), lineno };
  }

  private parseImportContext(dflt: boolean): boolean {
    if (
      this.stream.testAny(['name:with', 'name:without']) &&
      this.stream.test('name:context', this.stream.look())
    ) {
      const withContext = this.stream.next().value === 'with';
      this.stream.skip();
      return withContext;
    }
    return dflt;
  }

  private parseInclude(): Stmt {
    const lineno = this.stream.next().lineno;
    const template = this.parseExpression();
    let ignoreMissing = false;
    if (this.stream.test('name:ignore') && this.stream.test('name:missing', this.stream.look())) {
      ignoreMissing = true;
      this.stream.skip(2);
    }
    return { kind: 'Include', template, ignoreMissing, withContext: this.parseImportContext(true), lineno };
  }

  private parseImport(): Stmt {
    const lineno = this.stream.next().lineno;
    const template = this.parseExpression();
    this.stream.expect('name:as');
    const target = this.parseNameTarget();
    return { kind: 'Import', template, target, withContext: this.parseImportContext(false), lineno };
  }

  private parseFrom(): Stmt {
    const lineno = this.stream.next().lineno;
    const template = this.parseExpression();
    this.stream.expect('name:import');
    const names: [string, string][] = [];
    let withContext: boolean | null = null;
    const parseContext = (): boolean => {
      const v = this.stream.current.value;
      if ((v === 'with' || v === 'without') && this.stream.test('name:context', this.stream.look())) {
        withContext = this.stream.next().value === 'with';
        this.stream.skip();
        return true;
      }
      return false;
    };
    for (;;) {
      if (names.length) this.stream.expect('comma');
      if (this.stream.type() === 'name') {
        if (parseContext()) break;
        const targetLine = this.stream.current.lineno;
        const target = this.parseNameTarget();
        if (target.startsWith('_')) {
          throw assertionError('names starting with an underline can not be imported', targetLine);
        }
        if (this.stream.skipIf('name:as')) names.push([target, this.parseNameTarget()]);
        else names.push([target, target]);
        if (parseContext() || this.stream.type() !== 'comma') break;
      } else {
        this.stream.expect('name');
      }
    }
    return { kind: 'FromImport', template, names, withContext: withContext ?? false, lineno };
  }

  private parseSignature(): MacroSignature {
    const args: string[] = [];
    const defaults: Expr[] = [];
    this.stream.expect('lparen');
    while (this.stream.type() !== 'rparen') {
      if (args.length) this.stream.expect('comma');
      const arg = this.parseNameTarget();
      if (this.stream.skipIf('assign')) defaults.push(this.parseExpression());
      else if (defaults.length) this.fail('non-default argument follows default argument');
      args.push(arg);
    }
    this.stream.expect('rparen');
    return { args, defaults };
  }

  private parseCallBlock(): Stmt {
    const lineno = this.stream.next().lineno;
    const sig = this.stream.type() === 'lparen' ? this.parseSignature() : { args: [], defaults: [] };
    const call = this.parseExpression();
    if (call.kind !== 'Call') this.fail('expected call', lineno);
    const body = this.parseStatements(['name:endcall'], true);
    return { kind: 'CallBlock', call, ...sig, body, lineno };
  }

  private parseFilterBlock(): Stmt {
    const lineno = this.stream.next().lineno;
    const filter = this.parseFilter(null, true) as FilterExpr;
    const body = this.parseStatements(['name:endfilter'], true);
    return { kind: 'FilterBlock', filter, body, lineno };
  }

  private parseMacro(): Stmt {
    const lineno = this.stream.next().lineno;
    const name = this.parseNameTarget();
    const sig = this.parseSignature();
    const body = this.parseStatements(['name:endmacro'], true);
    return { kind: 'Macro', name, ...sig, body, lineno };
  }

  private parsePrint(): Stmt {
    const lineno = this.stream.next().lineno;
    const nodes: Expr[] = [];
    while (this.stream.type() !== 'block_end') {
      if (nodes.length) this.stream.expect('comma');
      nodes.push(this.parseExpression());
    }
    return { kind: 'Output', nodes, lineno };
  }

  private parseNameTarget(): string {
    return String(this.stream.expect('name').value);
  }

  private parseAssignTarget(opts: { extraEndRules?: string[]; withNamespace?: boolean } = {}): Target {
    if (opts.withNamespace && this.stream.look().type === 'dot') {
      const token = this.stream.expect('name');
      this.stream.next();
      const attr = this.stream.expect('name');
      return { kind: 'NSRef', name: String(token.value), attr: String(attr.value), lineno: token.lineno };
    }
    return this.toTarget(this.parseTuple({ simplified: true, extraEndRules: opts.extraEndRules ?? null }));
  }

  private toTarget(node: Expr): Target {
    if (node.kind === 'Name') {
      if (['true', 'false', 'none', 'True', 'False', 'None'].includes(node.name)) {
        this.fail(`can't assign to 'const'`, node.lineno);
      }
      return node;
    }
    if (node.kind === 'Tuple')
      return { kind: 'Tuple', items: node.items.map((n) => this.toTarget(n)), lineno: node.lineno };
    return this.fail(`can't assign to '${node.kind.toLowerCase()}'`, node.lineno);
  }

  // -------------------------------------------------------------------------------------------
  // Expressions.

  parseExpression(withCondexpr = true): Expr {
    return withCondexpr ? this.parseCondexpr() : this.parseOr();
  }

  private parseCondexpr(): Expr {
    const lineno = this.stream.current.lineno;
    let expr1 = this.parseOr();
    while (this.stream.skipIf('name:if')) {
      const test = this.parseOr();
      const expr2 = this.stream.skipIf('name:else') ? this.parseCondexpr() : null;
      expr1 = { kind: 'CondExpr', test, expr1, expr2, lineno };
    }
    return expr1;
  }

  private parseOr(): Expr {
    const lineno = this.stream.current.lineno;
    let left = this.parseAnd();
    while (this.stream.skipIf('name:or')) left = { kind: 'Or', left, right: this.parseAnd(), lineno };
    return left;
  }

  private parseAnd(): Expr {
    const lineno = this.stream.current.lineno;
    let left = this.parseNot();
    while (this.stream.skipIf('name:and')) left = { kind: 'And', left, right: this.parseNot(), lineno };
    return left;
  }

  private parseNot(): Expr {
    if (this.stream.test('name:not')) {
      const lineno = this.stream.next().lineno;
      return { kind: 'Not', node: this.parseNot(), lineno };
    }
    return this.parseCompare();
  }

  private parseCompare(): Expr {
    const lineno = this.stream.current.lineno;
    const expr = this.parseMath1();
    const ops: [CompareOperator, Expr][] = [];
    for (;;) {
      const type = this.stream.type();
      if (COMPARE_OPERATORS.has(type)) {
        this.stream.next();
        ops.push([type as CompareOperator, this.parseMath1()]);
      } else if (this.stream.skipIf('name:in')) {
        ops.push(['in', this.parseMath1()]);
      } else if (this.stream.test('name:not') && this.stream.test('name:in', this.stream.look())) {
        this.stream.skip(2);
        ops.push(['notin', this.parseMath1()]);
      } else break;
    }
    return ops.length ? { kind: 'Compare', expr, ops, lineno } : expr;
  }

  private parseMath1(): Expr {
    const lineno = this.stream.current.lineno;
    let left = this.parseConcat();
    while (this.stream.type() === 'add' || this.stream.type() === 'sub') {
      const op = this.stream.next().type as BinOperator;
      left = { kind: 'BinOp', op, left, right: this.parseConcat(), lineno };
    }
    return left;
  }

  private parseConcat(): Expr {
    const lineno = this.stream.current.lineno;
    const nodes = [this.parseMath2()];
    while (this.stream.type() === 'tilde') {
      this.stream.next();
      nodes.push(this.parseMath2());
    }
    return nodes.length === 1 ? nodes[0]! : { kind: 'Concat', nodes, lineno };
  }

  private parseMath2(): Expr {
    const lineno = this.stream.current.lineno;
    let left = this.parsePow();
    for (;;) {
      const op = MATH2[this.stream.type()];
      if (!op) break;
      this.stream.next();
      left = { kind: 'BinOp', op, left, right: this.parsePow(), lineno };
    }
    return left;
  }

  private parsePow(): Expr {
    const lineno = this.stream.current.lineno;
    let left = this.parseUnary();
    while (this.stream.type() === 'pow') {
      this.stream.next();
      left = { kind: 'BinOp', op: 'pow', left, right: this.parseUnary(), lineno };
    }
    return left;
  }

  private parseUnary(withFilter = true): Expr {
    const type = this.stream.type();
    const lineno = this.stream.current.lineno;
    let node: Expr;
    if (type === 'sub') {
      this.stream.next();
      node = { kind: 'Neg', node: this.parseUnary(false), lineno };
    } else if (type === 'add') {
      this.stream.next();
      node = { kind: 'Pos', node: this.parseUnary(false), lineno };
    } else node = this.parsePrimary();
    node = this.parsePostfix(node);
    if (withFilter) node = this.parseFilterExpr(node);
    return node;
  }

  private parsePrimary(): Expr {
    const token = this.stream.current;
    const lineno = token.lineno;
    if (token.type === 'name') {
      this.stream.next();
      const v = token.value;
      if (v === 'true' || v === 'True') return { kind: 'Const', value: true, lineno };
      if (v === 'false' || v === 'False') return { kind: 'Const', value: false, lineno };
      if (v === 'none' || v === 'None') return { kind: 'Const', value: null, lineno };
      return { kind: 'Name', name: String(v), lineno };
    }
    if (token.type === 'string') {
      this.stream.next();
      let value = String(token.value);
      while (this.stream.type() === 'string') value += String(this.stream.next().value);
      return { kind: 'Const', value, lineno };
    }
    if (token.type === 'integer' || token.type === 'float') {
      this.stream.next();
      return { kind: 'Const', value: token.value as bigint | number, lineno };
    }
    if (token.type === 'lparen') {
      this.stream.next();
      const node = this.parseTuple({ explicitParentheses: true });
      this.stream.expect('rparen');
      return node;
    }
    if (token.type === 'lbracket') return this.parseList();
    if (token.type === 'lbrace') return this.parseDict();
    return this.fail(`unexpected '${describeToken(token)}'`, lineno);
  }

  parseTuple(
    opts: {
      simplified?: boolean;
      withCondexpr?: boolean;
      extraEndRules?: string[] | null;
      explicitParentheses?: boolean;
    } = {},
  ): Expr {
    const lineno = this.stream.current.lineno;
    const parse = opts.simplified
      ? (): Expr => this.parsePrimary()
      : (): Expr => this.parseExpression(opts.withCondexpr ?? true);
    const items: Expr[] = [];
    let isTuple = false;
    for (;;) {
      if (items.length) this.stream.expect('comma');
      if (this.isTupleEnd(opts.extraEndRules ?? null)) break;
      items.push(parse());
      if (this.stream.type() === 'comma') isTuple = true;
      else break;
    }
    if (!isTuple) {
      if (items.length) return items[0]!;
      if (!opts.explicitParentheses)
        this.fail(`Expected an expression, got '${describeToken(this.stream.current)}'`);
    }
    return { kind: 'Tuple', items, lineno };
  }

  private isTupleEnd(extraEndRules: string[] | null): boolean {
    const type = this.stream.type();
    if (type === 'variable_end' || type === 'block_end' || type === 'rparen') return true;
    return extraEndRules ? this.stream.testAny(extraEndRules) : false;
  }

  private parseList(): Expr {
    const lineno = this.stream.expect('lbracket').lineno;
    const items: Expr[] = [];
    while (this.stream.type() !== 'rbracket') {
      if (items.length) this.stream.expect('comma');
      if (this.stream.type() === 'rbracket') break;
      items.push(this.parseExpression());
    }
    this.stream.expect('rbracket');
    return { kind: 'List', items, lineno };
  }

  private parseDict(): Expr {
    const lineno = this.stream.expect('lbrace').lineno;
    const pairs: [Expr, Expr][] = [];
    while (this.stream.type() !== 'rbrace') {
      if (pairs.length) this.stream.expect('comma');
      if (this.stream.type() === 'rbrace') break;
      const key = this.parseExpression();
      this.stream.expect('colon');
      pairs.push([key, this.parseExpression()]);
    }
    this.stream.expect('rbrace');
    return { kind: 'Dict', pairs, lineno };
  }

  private parsePostfix(start: Expr): Expr {
    let node = start;
    for (;;) {
      const type = this.stream.type();
      if (type === 'dot' || type === 'lbracket') node = this.parseSubscript(node);
      else if (type === 'lparen') node = this.parseCall(node);
      else break;
    }
    return node;
  }

  private parseFilterExpr(start: Expr): Expr {
    let node = start;
    for (;;) {
      const type = this.stream.type();
      if (type === 'pipe') node = this.parseFilter(node)!;
      else if (type === 'name' && this.stream.current.value === 'is') node = this.parseTest(node);
      else if (type === 'lparen') node = this.parseCall(node);
      else break;
    }
    return node;
  }

  private parseSubscript(node: Expr): Expr {
    const token = this.stream.next();
    if (token.type === 'dot') {
      const attr = this.stream.current;
      this.stream.next();
      if (attr.type === 'name')
        return { kind: 'Getattr', node, attr: String(attr.value), lineno: token.lineno };
      if (attr.type !== 'integer') this.fail('expected name or number', attr.lineno);
      return {
        kind: 'Getitem',
        node,
        arg: { kind: 'Const', value: attr.value as bigint, lineno: attr.lineno },
        lineno: token.lineno,
      };
    }
    const args: Expr[] = [];
    while (this.stream.type() !== 'rbracket') {
      if (args.length) this.stream.expect('comma');
      args.push(this.parseSubscribed());
    }
    this.stream.expect('rbracket');
    const arg = args.length === 1 ? args[0]! : ({ kind: 'Tuple', items: args, lineno: token.lineno } as Expr);
    return { kind: 'Getitem', node, arg, lineno: token.lineno };
  }

  private parseSubscribed(): Expr {
    const lineno = this.stream.current.lineno;
    const parts: (Expr | null)[] = [];
    if (this.stream.type() === 'colon') {
      this.stream.next();
      parts.push(null);
    } else {
      const node = this.parseExpression();
      if (this.stream.type() !== 'colon') return node;
      this.stream.next();
      parts.push(node);
    }
    if (this.stream.type() === 'colon') parts.push(null);
    else if (this.stream.type() !== 'rbracket' && this.stream.type() !== 'comma')
      parts.push(this.parseExpression());
    else parts.push(null);
    if (this.stream.type() === 'colon') {
      this.stream.next();
      if (this.stream.type() !== 'rbracket' && this.stream.type() !== 'comma')
        parts.push(this.parseExpression());
      else parts.push(null);
    } else parts.push(null);
    return { kind: 'Slice', start: parts[0]!, stop: parts[1]!, step: parts[2]!, lineno };
  }

  private parseCallArgs(): CallArgs {
    const token = this.stream.expect('lparen');
    const args: Expr[] = [];
    const kwargs: [string, Expr][] = [];
    let dynArgs: Expr | null = null;
    let dynKwargs: Expr | null = null;
    let requireComma = false;
    const ensure = (ok: boolean): void => {
      if (!ok) this.fail('invalid syntax for function call expression', token.lineno);
    };
    while (this.stream.type() !== 'rparen') {
      if (requireComma) {
        this.stream.expect('comma');
        if (this.stream.type() === 'rparen') break;
      }
      if (this.stream.type() === 'mul') {
        ensure(dynArgs === null && dynKwargs === null);
        this.stream.next();
        dynArgs = this.parseExpression();
      } else if (this.stream.type() === 'pow') {
        ensure(dynKwargs === null);
        this.stream.next();
        dynKwargs = this.parseExpression();
      } else if (this.stream.type() === 'name' && this.stream.look().type === 'assign') {
        ensure(dynKwargs === null);
        const key = String(this.stream.current.value);
        this.stream.skip(2);
        kwargs.push([key, this.parseExpression()]);
      } else {
        ensure(dynArgs === null && dynKwargs === null && kwargs.length === 0);
        args.push(this.parseExpression());
      }
      requireComma = true;
    }
    this.stream.expect('rparen');
    return { args, kwargs, dynArgs, dynKwargs };
  }

  private parseCall(node: Expr): Expr {
    const lineno = this.stream.current.lineno;
    return { kind: 'Call', node, ...this.parseCallArgs(), lineno };
  }

  private parseFilter(start: Expr | null, startInline = false): Expr | null {
    let node = start;
    let inline = startInline;
    while (this.stream.type() === 'pipe' || inline) {
      if (!inline) this.stream.next();
      const token = this.stream.expect('name');
      let name = String(token.value);
      while (this.stream.type() === 'dot') {
        this.stream.next();
        name += '.' + String(this.stream.expect('name').value);
      }
      const call: CallArgs =
        this.stream.type() === 'lparen'
          ? this.parseCallArgs()
          : { args: [], kwargs: [], dynArgs: null, dynKwargs: null };
      node = { kind: 'Filter', node, name, ...call, lineno: token.lineno };
      inline = false;
    }
    return node;
  }

  private parseTest(node: Expr): Expr {
    const token = this.stream.next();
    let negated = false;
    if (this.stream.test('name:not')) {
      this.stream.next();
      negated = true;
    }
    let name = String(this.stream.expect('name').value);
    while (this.stream.type() === 'dot') {
      this.stream.next();
      name += '.' + String(this.stream.expect('name').value);
    }
    let call: CallArgs = { args: [], kwargs: [], dynArgs: null, dynKwargs: null };
    const cur = this.stream.current;
    if (cur.type === 'lparen') call = this.parseCallArgs();
    else if (
      ['name', 'string', 'integer', 'float', 'lparen', 'lbracket', 'lbrace'].includes(cur.type) &&
      !this.stream.testAny(['name:else', 'name:or', 'name:and'])
    ) {
      if (this.stream.test('name:is')) this.fail('You cannot chain multiple tests with is');
      const arg = this.parsePostfix(this.parsePrimary());
      call = { ...call, args: [arg] };
    }
    const test: Expr = { kind: 'Test', node, name, ...call, lineno: token.lineno };
    return negated ? { kind: 'Not', node: test, lineno: token.lineno } : test;
  }
}

export function parseTemplate(tokens: Token[], options: ParserOptions = {}): TemplateAst {
  return new Parser(tokens, options).parse();
}

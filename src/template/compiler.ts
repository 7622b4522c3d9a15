/**
 * Turns the template AST into a tree of JavaScript closures (no eval, no `new Function`): each
 * expression becomes `(scope) => value` and each statement `(scope, out) => control`. Filters and
 * tests are resolved once, at compile time, as Jinja does.
 */
import type { CallArgs, Expr, FilterExpr, Stmt, Target } from './ast.ts';
import { tick } from './budget.ts';
import { callMethod, callValue, getAttr, tryGetItem } from './attributes.ts';
import { percentFormat } from './format.ts';
import { syntaxError } from './lexer.ts';
import { escapeHtml } from './markup.ts';
import { PySlice, add, compare, contains, floordiv, mod, mul, neg, pos, pow, sub, truediv } from './ops.ts';
import { assertionError } from './parser.ts';
import {
  BREAK,
  CONTINUE,
  LoopContext,
  Macro,
  NORMAL,
  Scope,
  TemplateModule,
  enterCall,
  unpackTarget,
  type BlockFn,
  type Body,
  type CompiledExpr,
  type CompiledTemplate,
  type EvalContext,
  type FilterFn,
  type MacroDefinition,
  type RenderState,
  type Runtime,
  type TestFn,
} from './runtime.ts';
import {
  MISSING,
  PyDict,
  PyError,
  PyFunction,
  PyMarkup,
  PyNamespace,
  PyObject,
  PyTuple,
  PyUndefined,
  iterable,
  pyEquals,
  pyIter,
  pyStr,
  truthy,
  typeError,
  type Kwargs,
  type Missing,
  type PyValue,
} from './values.ts';

/** What compiled code needs from its environment at render time. */
export interface TemplateHost {
  readonly strict: boolean;
  filter(name: string): FilterFn | undefined;
  test(name: string): TestFn | undefined;
  evalContext(autoescape: boolean): EvalContext;
  /** Loads (and compiles, cached) a template by name; throws TemplateNotFound. */
  getTemplate(name: PyValue): CompiledTemplate;
  /** First existing template of a name or a list of names (include). */
  selectTemplate(names: PyValue): CompiledTemplate;
  /** A fresh scope holding the environment's globals. */
  globalsScope(rt: Runtime): Scope;
}

interface Ctx {
  readonly host: TemplateHost;
  readonly name: string;
  readonly strict: boolean;
  readonly autoescape: boolean;
  /** Inside an `if` or conditional expression: unknown filters/tests fail only when reached. */
  readonly soft: boolean;
  readonly inLoop: boolean;
  /** The template extends another: top-level output is dropped once the parent is known. */
  readonly outputCheck: boolean;
  readonly blocks: Map<string, BlockFn>;
}

/** Fills in the template name and line of an error thrown while rendering, once (innermost wins). */
export function annotate(e: unknown, name: string, lineno: number): unknown {
  if (e instanceof PyError) {
    if (e.lineno === undefined) {
      e.lineno = lineno;
      e.templateName = name;
    } else if (e.templateName === undefined) e.templateName = name;
    return e;
  }
  if (e instanceof RangeError) {
    const stack = /call stack/i.test(e.message);
    const pe = new PyError(
      stack ? 'RecursionError' : 'MemoryError',
      stack ? 'maximum recursion depth exceeded' : e.message,
    );
    pe.lineno = lineno;
    pe.templateName = name;
    return pe;
  }
  return e;
}

function guard(c: Ctx, lineno: number, body: Body): Body {
  const name = c.name;
  return (s, out) => {
    try {
      return body(s, out);
    } catch (e) {
      throw annotate(e, name, lineno);
    }
  };
}

function guardExpr(c: Ctx, lineno: number, fn: CompiledExpr): CompiledExpr {
  const name = c.name;
  return (s) => {
    try {
      return fn(s);
    } catch (e) {
      throw annotate(e, name, lineno);
    }
  };
}

function runtimeError(message: string): PyError {
  return new PyError('TemplateRuntimeError', message);
}

function position(c: Ctx, lineno: number): string {
  return c.name === '<template>' ? `line ${lineno}` : `line ${lineno} in '${c.name}'`;
}

// ---------------------------------------------------------------------------------------------
// Attribute access as Jinja's environment does it.

export function jinjaGetattr(obj: PyValue, attr: string, strict: boolean): PyValue {
  const v = getAttr(obj, attr);
  if (v !== MISSING) return v;
  const item = tryGetItem(obj, attr);
  if (item !== MISSING) return item;
  return new PyUndefined(strict, attr, obj);
}

export function jinjaGetitem(obj: PyValue, key: PyValue, strict: boolean): PyValue {
  const v = tryGetItem(obj, key);
  if (v !== MISSING) return v;
  if (typeof key === 'string') {
    const a = getAttr(obj, key);
    if (a !== MISSING) return a;
  }
  return new PyUndefined(strict, key, obj);
}

// ---------------------------------------------------------------------------------------------
// Static analysis helpers.

/** Whether an AST subtree loads `name` (not looking into `{% block %}`s, as Jinja). */
function referencesName(
  nodes: readonly (Stmt | Expr | Target | string | null)[],
  name: string,
  intoBlocks = false,
): boolean {
  const visit = (n: unknown): boolean => {
    if (n === null || typeof n !== 'object') return false;
    if (Array.isArray(n)) return n.some(visit);
    const node = n as { kind?: string; name?: string };
    if (node.kind === 'Block' && !intoBlocks) return false;
    if (node.kind === 'Name' && node.name === name) return true;
    for (const [key, v] of Object.entries(node)) {
      if (key === 'lineno' || key === 'kind') continue;
      if (typeof v === 'object' && visit(v)) return true;
    }
    return false;
  };
  return nodes.some(visit);
}

function containsExtends(nodes: readonly Stmt[]): boolean {
  const visit = (n: unknown): boolean => {
    if (n === null || typeof n !== 'object') return false;
    if (Array.isArray(n)) return n.some(visit);
    const node = n as { kind?: string };
    if (node.kind === 'Extends') return true;
    if (node.kind === 'Macro' || node.kind === 'CallBlock' || node.kind === 'Block') return false;
    return Object.values(node).some((v) => typeof v === 'object' && visit(v));
  };
  return nodes.some(visit);
}

// ---------------------------------------------------------------------------------------------
// Expressions.

type ArgsEval = (s: Scope) => { args: PyValue[]; kwargs: Kwargs | null };

function compileArgs(node: CallArgs, c: Ctx): ArgsEval {
  const args = node.args.map((a) => compileExpr(a, c));
  const kwargs = node.kwargs.map(([k, v]) => [k, compileExpr(v, c)] as const);
  const dynArgs = node.dynArgs ? compileExpr(node.dynArgs, c) : null;
  const dynKwargs = node.dynKwargs ? compileExpr(node.dynKwargs, c) : null;
  if (!dynArgs && !dynKwargs && kwargs.length === 0) {
    if (args.length === 0) return () => ({ args: [], kwargs: null });
    return (s) => ({ args: args.map((a) => a(s)), kwargs: null });
  }
  return (s) => {
    const values = args.map((a) => a(s));
    if (dynArgs) for (const v of iterable(dynArgs(s))) values.push(v);
    let kw: Kwargs | null = null;
    if (kwargs.length) kw = new Map(kwargs.map(([k, v]) => [k, v(s)]));
    if (dynKwargs) {
      const d = dynKwargs(s);
      if (!(d instanceof PyDict))
        throw typeError(`argument after ** must be a mapping, not ${d === null ? 'NoneType' : typeof d}`);
      kw ??= new Map();
      for (const [k, v] of d.entries()) {
        if (typeof k !== 'string') throw typeError('keywords must be strings');
        kw.set(k, v);
      }
    }
    return { args: values, kwargs: kw };
  };
}

function compileFilterCall(
  node: FilterExpr,
  c: Ctx,
  value: (s: Scope, hole: PyValue) => PyValue,
): (s: Scope, hole: PyValue) => PyValue {
  const fn = c.host.filter(node.name);
  const name = node.name;
  if (!fn) {
    if (!c.soft) throw assertionError(`No filter named '${name}'.`, node.lineno);
    return () => {
      throw runtimeError(`No filter named '${name}' found.`);
    };
  }
  const args = compileArgs(node, c);
  const ctx = c.host.evalContext(c.autoescape);
  const tplName = c.name;
  const lineno = node.lineno;
  return (s, hole) => {
    const v = value(s, hole);
    const a = args(s);
    try {
      return fn(ctx, v, a.args, a.kwargs);
    } catch (e) {
      throw annotate(e, tplName, lineno);
    }
  };
}

/** A filter chain applied to a given value (`{% filter %}` blocks, `{% set x | f %}`). */
function compileFilterChain(node: FilterExpr, c: Ctx): (s: Scope, value: PyValue) => PyValue {
  const inner: (s: Scope, hole: PyValue) => PyValue =
    node.node === null
      ? (_s, hole) => hole
      : node.node.kind === 'Filter'
        ? compileFilterChain(node.node, c)
        : ((): ((s: Scope) => PyValue) => compileExpr(node.node, c))();
  return compileFilterCall(node, c, inner);
}

function outputString(v: PyValue, autoescape: boolean): string {
  if (!autoescape) return typeof v === 'string' ? v : pyStr(v);
  if (v instanceof PyMarkup) return v.value;
  return escapeHtml(pyStr(v));
}

const BINOPS: Record<string, (a: PyValue, b: PyValue) => PyValue> = {
  add,
  sub,
  mul,
  div: truediv,
  floordiv,
  mod: (a, b) => mod(a, b, percentFormat),
  pow,
};

const COMPARE_OPS: Record<string, (a: PyValue, b: PyValue) => boolean> = {
  eq: (a, b) =>
    a === b ? pyEquals(a, b) : typeof a === 'string' && typeof b === 'string' ? false : pyEquals(a, b),
  ne: (a, b) => !COMPARE_OPS.eq!(a, b),
  lt: (a, b) => compare(a, b, '<') < 0,
  lteq: (a, b) => compare(a, b, '<=') <= 0,
  gt: (a, b) => compare(a, b, '>') > 0,
  gteq: (a, b) => compare(a, b, '>=') >= 0,
  in: (a, b) => contains(b, a),
  notin: (a, b) => !contains(b, a),
};

export function compileExpr(node: Expr, c: Ctx): CompiledExpr {
  const strict = c.strict;
  switch (node.kind) {
    case 'Const': {
      const value = node.value;
      return () => value;
    }
    case 'Name': {
      const name = node.name;
      return (s) => {
        const v = s.lookup(name);
        return v !== undefined ? v : new PyUndefined(strict, name);
      };
    }
    case 'Tuple': {
      const items = node.items.map((n) => compileExpr(n, c));
      return (s) => new PyTuple(items.map((i) => i(s)));
    }
    case 'List': {
      const items = node.items.map((n) => compileExpr(n, c));
      return (s) => items.map((i) => i(s));
    }
    case 'Dict': {
      const pairs = node.pairs.map(([k, v]) => [compileExpr(k, c), compileExpr(v, c)] as const);
      return (s) => {
        const d = new PyDict();
        for (const [k, v] of pairs) d.set(k(s), v(s));
        return d;
      };
    }
    case 'Getattr': {
      const obj = compileExpr(node.node, c);
      const attr = node.attr;
      return guardExpr(c, node.lineno, (s) => jinjaGetattr(obj(s), attr, strict));
    }
    case 'Getitem': {
      const obj = compileExpr(node.node, c);
      const key = compileExpr(node.arg, c);
      return guardExpr(c, node.lineno, (s) => jinjaGetitem(obj(s), key(s), strict));
    }
    case 'Slice': {
      const start = node.start ? compileExpr(node.start, c) : null;
      const stop = node.stop ? compileExpr(node.stop, c) : null;
      const step = node.step ? compileExpr(node.step, c) : null;
      return (s) => new PySlice(start ? start(s) : null, stop ? stop(s) : null, step ? step(s) : null);
    }
    case 'Call':
      return compileCall(node, c, null);
    case 'Filter': {
      if (node.node === null) throw syntaxError('filter without a value', node.lineno);
      const value = compileExpr(node.node, c);
      const call = compileFilterCall(node, c, (s) => value(s));
      return (s) => call(s, null);
    }
    case 'Test': {
      const fn = c.host.test(node.name);
      const name = node.name;
      if (!fn) {
        if (!c.soft) throw assertionError(`No test named '${name}'.`, node.lineno);
        return () => {
          throw runtimeError(`No test named '${name}' found.`);
        };
      }
      const value = compileExpr(node.node, c);
      const args = compileArgs(node, c);
      const ctx = c.host.evalContext(c.autoescape);
      return guardExpr(c, node.lineno, (s) => {
        const v = value(s);
        const a = args(s);
        return fn(ctx, v, a.args, a.kwargs);
      });
    }
    case 'CondExpr': {
      const soft = { ...c, soft: true };
      const test = compileExpr(node.test, soft);
      const e1 = compileExpr(node.expr1, soft);
      const e2 = node.expr2 ? compileExpr(node.expr2, soft) : null;
      const hint = `the inline if-expression on ${position(c, node.lineno)} evaluated to false and no else section was defined.`;
      return (s) => (truthy(test(s)) ? e1(s) : e2 ? e2(s) : new PyUndefined(false, MISSING, MISSING, hint));
    }
    case 'BinOp': {
      const op = BINOPS[node.op]!;
      const left = compileExpr(node.left, c);
      const right = compileExpr(node.right, c);
      return guardExpr(c, node.lineno, (s) => op(left(s), right(s)));
    }
    case 'And': {
      const left = compileExpr(node.left, c);
      const right = compileExpr(node.right, c);
      return (s) => {
        const l = left(s);
        return truthy(l) ? right(s) : l;
      };
    }
    case 'Or': {
      const left = compileExpr(node.left, c);
      const right = compileExpr(node.right, c);
      return (s) => {
        const l = left(s);
        return truthy(l) ? l : right(s);
      };
    }
    case 'Not': {
      const inner = compileExpr(node.node, c);
      return (s) => !truthy(inner(s));
    }
    case 'Neg': {
      const inner = compileExpr(node.node, c);
      return guardExpr(c, node.lineno, (s) => neg(inner(s)));
    }
    case 'Pos': {
      const inner = compileExpr(node.node, c);
      return guardExpr(c, node.lineno, (s) => pos(inner(s)));
    }
    case 'Concat': {
      const parts = node.nodes.map((n) => compileExpr(n, c));
      if (c.autoescape) {
        return (s) => new PyMarkup(parts.map((p) => outputString(p(s), true)).join(''));
      }
      return (s) => parts.map((p) => pyStr(p(s))).join('');
    }
    case 'Compare': {
      const first = compileExpr(node.expr, c);
      const ops = node.ops.map(([op, e]) => [COMPARE_OPS[op]!, compileExpr(e, c)] as const);
      if (ops.length === 1) {
        const [op, second] = ops[0]!;
        return guardExpr(c, node.lineno, (s) => op(first(s), second(s)));
      }
      return guardExpr(c, node.lineno, (s) => {
        let left = first(s);
        for (const [op, e] of ops) {
          const right = e(s);
          if (!op(left, right)) return false;
          left = right;
        }
        return true;
      });
    }
    default: {
      const never: never = node;
      throw new Error(`unknown expression ${(never as { kind: string }).kind}`);
    }
  }
}

function compileCall(
  node: Expr & { kind: 'Call' },
  c: Ctx,
  extraKwarg: [string, (s: Scope) => PyValue] | null,
): CompiledExpr {
  const args = compileArgs(node, c);
  const strict = c.strict;
  const withExtra = (s: Scope): { args: PyValue[]; kwargs: Kwargs | null } => {
    const a = args(s);
    if (!extraKwarg) return a;
    const kw: Kwargs = new Map(a.kwargs ?? []);
    kw.set(extraKwarg[0], extraKwarg[1](s));
    return { args: a.args, kwargs: kw };
  };
  const undefinedFor = (obj: PyValue, name: string): PyValue => new PyUndefined(strict, name, obj);
  if (node.node.kind === 'Getattr') {
    const obj = compileExpr(node.node.node, c);
    const attr = node.node.attr;
    return guardExpr(c, node.lineno, (s) => {
      const o = obj(s);
      const a = withExtra(s);
      return callMethod(o, attr, a.args, a.kwargs, undefinedFor);
    });
  }
  const fn = compileExpr(node.node, c);
  return guardExpr(c, node.lineno, (s) => {
    const f = fn(s);
    const a = withExtra(s);
    return callValue(f, a.args, a.kwargs);
  });
}

// ---------------------------------------------------------------------------------------------
// Assignment.

type Assign = (s: Scope, value: PyValue) => void;

function compileAssign(target: Target): Assign {
  switch (target.kind) {
    case 'Name': {
      const name = target.name;
      return (s, v) => s.set(name, v);
    }
    case 'NSRef': {
      const { name, attr } = target;
      return (s, v) => {
        const ns = s.lookup(name);
        if (!(ns instanceof PyNamespace))
          throw runtimeError('cannot assign attribute on non-namespace object');
        ns.attrs.set(attr, v);
      };
    }
    case 'Tuple': {
      const items = target.items.map(compileAssign);
      return (s, v) => {
        const values = unpackTarget(v, items.length);
        items.forEach((assign, i) => assign(s, values[i] as PyValue));
      };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Statements.

function compileBlock(nodes: readonly Stmt[], c: Ctx): Body {
  const stmts = nodes.map((n) => compileStmt(n, c));
  if (stmts.length === 0) return () => NORMAL;
  if (stmts.length === 1) return stmts[0]!;
  return (s, out) => {
    for (const st of stmts) {
      const r = st(s, out);
      if (r !== NORMAL) return r;
    }
    return NORMAL;
  };
}

function outputSuppressed(s: Scope): boolean {
  return s.templateRoot().render?.parent != null;
}

function macroDefinition(
  name: string,
  node: { args: string[]; defaults: Expr[]; body: Stmt[] },
  c: Ctx,
): MacroDefinition {
  const inner: Ctx = { ...c, inLoop: false, outputCheck: false };
  return {
    name,
    args: node.args,
    defaults: node.defaults.map((d) => compileExpr(d, inner)),
    body: compileBlock(node.body, inner),
    catchVarargs: referencesName(node.body, 'varargs'),
    catchKwargs: referencesName(node.body, 'kwargs'),
    usesCaller: referencesName(node.body, 'caller'),
  };
}

function moduleFor(
  host: TemplateHost,
  tpl: CompiledTemplate,
  s: Scope,
  withContext: boolean,
): TemplateModule {
  const rt = s.rt;
  if (!withContext) {
    const cached = rt.moduleCache.get(tpl.name);
    if (cached) return cached;
  }
  const globals = host.globalsScope(rt);
  let parent = globals;
  if (withContext) {
    parent = new Scope(globals, rt);
    parent.vars = s.flatten();
  }
  const root = new Scope(parent, rt, true);
  const out: string[] = [];
  enterCall(rt);
  try {
    tpl.run(root, out);
  } finally {
    rt.depth--;
  }
  const exports = new Map<string, PyValue>();
  if (root.vars) {
    for (const [k, v] of root.vars)
      if (!k.startsWith('_') && !(v instanceof TemplateReference)) exports.set(k, v);
  }
  const module = new TemplateModule(tpl.name, exports, out.join(''));
  if (!withContext) rt.moduleCache.set(tpl.name, module);
  return module;
}

function templateName(v: PyValue): PyValue {
  return v instanceof PyMarkup ? v.value : v;
}

function compileFor(node: Stmt & { kind: 'For' }, c: Ctx): Body {
  const iterE = compileExpr(node.iter, c);
  const loopCtx: Ctx = { ...c, inLoop: true };
  const testE = node.test ? compileExpr(node.test, loopCtx) : null;
  const assign = compileAssign(node.target);
  const body = compileBlock(node.body, loopCtx);
  const elseBody = compileBlock(node.else_, { ...c });
  const usesLoop = node.recursive || referencesName(node.body, 'loop');
  const strict = c.strict;
  const recursive = node.recursive;

  const run = (s: Scope, out: string[], iterValue: PyValue, depth: number): number => {
    let source = pyIter(iterValue);
    if (testE) {
      const unfiltered = source;
      source = (function* () {
        for (let r = unfiltered.next(); !r.done; r = unfiltered.next()) {
          const tmp = new Scope(s, s.rt);
          assign(tmp, r.value);
          if (truthy(testE(tmp))) yield r.value;
        }
      })();
    }
    let iterated = false;
    const rt = s.rt;
    if (usesLoop) {
      const recurse = recursive
        ? (items: PyValue, d: number): string => {
            const o: string[] = [];
            enterCall(rt);
            try {
              run(s, o, items, d);
            } finally {
              rt.depth--;
            }
            return o.join('');
          }
        : null;
      const loop = new LoopContext(testE ? null : iterValue, source, depth, strict, recurse);
      while (loop.advance()) {
        tick();
        const scope = new Scope(s, rt);
        assign(scope, loop.item);
        scope.set('loop', loop);
        const r = body(scope, out);
        if (r === BREAK) break;
        // as Jinja: `else` is skipped once an iteration ran to its end (not cut by continue/break)
        if (r === NORMAL) iterated = true;
      }
    } else {
      for (let r = source.next(); !r.done; r = source.next()) {
        tick();
        const scope = new Scope(s, rt);
        assign(scope, r.value);
        const code = body(scope, out);
        if (code === BREAK) break;
        if (code === NORMAL) iterated = true;
      }
    }
    if (!iterated) return elseBody(new Scope(s, rt), out);
    return NORMAL;
  };
  return (s, out) => {
    const r = run(s, out, iterE(s), 0);
    return r === CONTINUE || r === BREAK ? r : NORMAL;
  };
}

function compileStmt(node: Stmt, c: Ctx): Body {
  return guard(c, node.lineno, compileStmtInner(node, c));
}

function compileStmtInner(node: Stmt, c: Ctx): Body {
  const host = c.host;
  switch (node.kind) {
    case 'Output': {
      const autoescape = c.autoescape;
      const parts = node.nodes.map((n) => {
        if (typeof n === 'string') return n;
        const e = compileExpr(n, c);
        const name = c.name;
        const lineno = n.lineno;
        return (s: Scope): string => {
          try {
            return outputString(e(s), autoescape);
          } catch (err) {
            throw annotate(err, name, lineno);
          }
        };
      });
      const run: Body = (s, out) => {
        for (const p of parts) out.push(typeof p === 'string' ? p : p(s));
        return NORMAL;
      };
      if (!c.outputCheck) return run;
      return (s, out) => (outputSuppressed(s) ? NORMAL : run(s, out));
    }
    case 'If': {
      const soft: Ctx = { ...c, soft: true };
      const branches = [node, ...node.elif].map(
        (b) => [compileExpr(b.test, soft), compileBlock(b.body, soft)] as const,
      );
      const elseBody = compileBlock(node.else_, soft);
      return (s, out) => {
        for (const [test, body] of branches) if (truthy(test(s))) return body(s, out);
        return elseBody(s, out);
      };
    }
    case 'For':
      return compileFor(node, c);
    case 'Macro': {
      const def = macroDefinition(node.name, node, c);
      const name = node.name;
      const strict = c.strict;
      return (s) => {
        s.set(name, new Macro(def, s, strict));
        return NORMAL;
      };
    }
    case 'CallBlock': {
      const def = macroDefinition('caller', node, c);
      const strict = c.strict;
      const call = compileCall(node.call, c, ['caller', (s) => new Macro(def, s, strict)]);
      const autoescape = c.autoescape;
      return (s, out) => {
        out.push(outputString(call(s), autoescape));
        return NORMAL;
      };
    }
    case 'FilterBlock': {
      const body = compileBlock(node.body, { ...c, outputCheck: false });
      const chain = compileFilterChain(node.filter, c);
      const autoescape = c.autoescape;
      return (s, out) => {
        const buf: string[] = [];
        body(new Scope(s, s.rt), buf);
        const text = buf.join('');
        out.push(outputString(chain(s, autoescape ? new PyMarkup(text) : text), autoescape));
        return NORMAL;
      };
    }
    case 'With': {
      const values = node.values.map((v) => compileExpr(v, c));
      const targets = node.targets.map(compileAssign);
      const body = compileBlock(node.body, c);
      return (s, out) => {
        const vals = values.map((v) => v(s));
        const scope = new Scope(s, s.rt);
        targets.forEach((t, i) => t(scope, vals[i] as PyValue));
        return body(scope, out);
      };
    }
    case 'Assign': {
      const value = compileExpr(node.node, c);
      const assign = compileAssign(node.target);
      return (s) => {
        assign(s, value(s));
        return NORMAL;
      };
    }
    case 'AssignBlock': {
      const body = compileBlock(node.body, { ...c, outputCheck: false });
      const chain = node.filter ? compileFilterChain(node.filter, c) : null;
      const assign = compileAssign(node.target);
      const autoescape = c.autoescape;
      return (s) => {
        const buf: string[] = [];
        body(new Scope(s, s.rt), buf);
        const text = buf.join('');
        const value: PyValue = autoescape ? new PyMarkup(text) : text;
        assign(s, chain ? chain(s, value) : value);
        return NORMAL;
      };
    }
    case 'ExprStmt': {
      const e = compileExpr(node.node, c);
      return (s) => {
        e(s);
        return NORMAL;
      };
    }
    case 'Break':
    case 'Continue': {
      if (!c.inLoop) throw syntaxError(`'${node.kind.toLowerCase()}' outside loop`, node.lineno);
      const code = node.kind === 'Break' ? BREAK : CONTINUE;
      return () => code;
    }
    case 'Autoescape': {
      if (node.value.kind !== 'Const') {
        throw syntaxError(
          'autoescape blocks need a constant value (true or false) in this engine',
          node.lineno,
        );
      }
      return compileBlock(node.body, { ...c, autoescape: truthy(node.value.value) });
    }
    case 'Import': {
      const name = compileExpr(node.template, c);
      const { target, withContext } = node;
      return (s) => {
        const tpl = host.getTemplate(templateName(name(s)));
        s.set(target, moduleFor(host, tpl, s, withContext));
        return NORMAL;
      };
    }
    case 'FromImport': {
      const name = compileExpr(node.template, c);
      const { names, withContext } = node;
      const strict = c.strict;
      const where = position(c, node.lineno);
      return (s) => {
        const tpl = host.getTemplate(templateName(name(s)));
        const module = moduleFor(host, tpl, s, withContext);
        for (const [n, alias] of names) {
          const v = module.exports.get(n);
          s.set(
            alias,
            v !== undefined
              ? v
              : new PyUndefined(
                  strict,
                  alias,
                  MISSING,
                  `the template '${tpl.name}' (imported on ${where}) does not export the requested name '${n}'`,
                ),
          );
        }
        return NORMAL;
      };
    }
    case 'Include': {
      const name = compileExpr(node.template, c);
      const { ignoreMissing, withContext } = node;
      const run: Body = (s, out) => {
        let tpl: CompiledTemplate;
        try {
          tpl = host.selectTemplate(templateName(name(s)));
        } catch (e) {
          if (
            ignoreMissing &&
            e instanceof PyError &&
            (e.pyType === 'TemplateNotFound' || e.pyType === 'TemplatesNotFound')
          ) {
            return NORMAL;
          }
          throw e;
        }
        const rt = s.rt;
        const globals = host.globalsScope(rt);
        let parent = globals;
        if (withContext) {
          parent = new Scope(globals, rt);
          parent.vars = s.flatten();
        }
        enterCall(rt);
        try {
          tpl.run(new Scope(parent, rt, true), out);
        } finally {
          rt.depth--;
        }
        return NORMAL;
      };
      if (!c.outputCheck) return run;
      return (s, out) => (outputSuppressed(s) ? NORMAL : run(s, out));
    }
    case 'Extends': {
      const name = compileExpr(node.template, c);
      return (s) => {
        const render = s.templateRoot().render;
        if (!render) throw runtimeError('extends used outside a template root');
        if (render.parent) throw runtimeError('extended multiple times');
        const tpl = host.getTemplate(templateName(name(s)));
        render.parent = tpl;
        for (const [bname, block] of tpl.blocks) {
          const chain = render.blocks.get(bname);
          if (chain) chain.push(block);
          else render.blocks.set(bname, [block]);
        }
        return NORMAL;
      };
    }
    case 'Block': {
      const blockName = node.name;
      const inner: Ctx = { ...c, inLoop: false, outputCheck: false };
      const body = compileBlock(node.body, inner);
      const scoped = node.scoped;
      const strict = c.strict;
      const fn: BlockFn = (s, out, chain, index) => {
        const scope = new Scope(scoped ? s : s.templateRoot(), s.rt);
        scope.set(
          'super',
          new PyFunction('super', () => {
            const next = chain[index + 1];
            if (!next)
              return new PyUndefined(
                strict,
                'super',
                MISSING,
                `there is no parent block called '${blockName}'.`,
              );
            const o: string[] = [];
            next(s, o, chain, index + 1);
            return new PyMarkup(o.join(''));
          }),
        );
        body(scope, out);
      };
      if (c.blocks.has(blockName)) throw assertionError(`block '${blockName}' defined twice`, node.lineno);
      c.blocks.set(blockName, fn);
      const render: Body = (s, out) => {
        const chain = s.templateRoot().render?.blocks.get(blockName) ?? [fn];
        chain[0]!(s, out, chain, 0);
        return NORMAL;
      };
      if (!c.outputCheck) return render;
      return (s, out) => (outputSuppressed(s) ? NORMAL : render(s, out));
    }
    default: {
      const never: never = node;
      throw new Error(`unknown statement ${(never as { kind: string }).kind}`);
    }
  }
}

/** `self` in templates: `self.blockname()` renders a block. */
class TemplateReference extends PyObject {
  constructor(private readonly scope: Scope) {
    super();
  }
  get typeName(): string {
    return 'TemplateReference';
  }
  override get typeModule(): string {
    return 'jinja2.runtime';
  }
  override getAttr(name: string): PyValue | Missing {
    const chain = this.scope.render?.blocks.get(name);
    if (!chain) return MISSING;
    return new PyFunction(name, () => {
      const o: string[] = [];
      chain[0]!(this.scope, o, chain, 0);
      return new PyMarkup(o.join(''));
    });
  }
}

export interface CompileTemplateOptions {
  name: string;
  host: TemplateHost;
  autoescape: boolean;
}

/** Compiles a parsed template into closures. Throws TemplateAssertionError/TemplateSyntaxError. */
export function compileAst(body: readonly Stmt[], options: CompileTemplateOptions): CompiledTemplate {
  const blocks = new Map<string, BlockFn>();
  const c: Ctx = {
    host: options.host,
    name: options.name,
    strict: options.host.strict,
    autoescape: options.autoescape,
    soft: false,
    inLoop: false,
    outputCheck: containsExtends(body),
    blocks,
  };
  const root = compileBlock(body, c);
  const usesSelf = referencesName(body, 'self', true);
  return {
    name: options.name,
    blocks,
    run(scope: Scope, out: string[], render?: RenderState): void {
      const state: RenderState = render ?? {
        blocks: new Map([...blocks].map(([k, b]) => [k, [b]])),
        parent: null,
      };
      state.parent = null;
      scope.render = state;
      if (usesSelf) scope.set('self', new TemplateReference(scope));
      root(scope, out);
      const parent = state.parent as CompiledTemplate | null;
      if (parent) parent.run(scope, out, state);
    },
  };
}

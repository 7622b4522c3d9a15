/** Render-time structures: scopes, macros, loop contexts, imported template modules. */
import { tick } from './budget.ts';
import {
  MISSING,
  PyDict,
  PyError,
  PyFunction,
  PyObject,
  PyTuple,
  PyUndefined,
  iterable,
  pyEquals,
  pyLen,
  strRepr,
  typeError,
  typeName,
  type Kwargs,
  type Missing,
  type PyCallableObject,
  type PyValue,
} from './values.ts';

/** What filters and tests see of the environment. */
export interface EvalContext {
  readonly strict: boolean;
  readonly autoescape: boolean;
  filter(name: string): FilterFn | undefined;
  test(name: string): TestFn | undefined;
  undefined(hint?: string, obj?: PyValue | Missing, name?: PyValue | Missing): PyUndefined;
}

export type FilterFn = (ctx: EvalContext, value: PyValue, args: PyValue[], kwargs: Kwargs | null) => PyValue;
export type TestFn = (ctx: EvalContext, value: PyValue, args: PyValue[], kwargs: Kwargs | null) => boolean;

/** Limits that keep a hostile or buggy template from hanging or exhausting the process. */
export const MAX_DEPTH = 400;

/** State shared by one `render()` call (and every template it imports or includes). */
export interface Runtime {
  depth: number;
  /** Imports without context are cached per render, keyed by template name. */
  readonly moduleCache: Map<string, TemplateModule>;
}

export function enterCall(rt: Runtime): void {
  tick();
  if (++rt.depth > MAX_DEPTH) {
    rt.depth--;
    throw new PyError('RecursionError', 'maximum recursion depth exceeded');
  }
}

/** One level of variables. Lookups walk the parents; assignments stay local. */
export class Scope {
  vars: Map<string, PyValue> | null = null;
  /** Block table and parent template while a template hierarchy renders (template roots only). */
  render: RenderState | null = null;
  constructor(
    readonly parent: Scope | null,
    readonly rt: Runtime,
    /** Set on the scope that holds a template's top-level variables (its exports). */
    readonly isTemplateRoot = false,
  ) {}

  lookup(name: string): PyValue | undefined {
    const v = this.vars?.get(name);
    if (v !== undefined) return v;
    return this.parent?.lookup(name);
  }

  set(name: string, value: PyValue): void {
    (this.vars ??= new Map()).set(name, value);
  }

  /** All visible variables, nearest first wins (Jinja's `context.get_all()` plus locals). */
  flatten(): Map<string, PyValue> {
    const out = this.parent ? this.parent.flatten() : new Map<string, PyValue>();
    if (this.vars) for (const [k, v] of this.vars) out.set(k, v);
    return out;
  }

  /** The nearest scope holding template-level variables. */
  templateRoot(): Scope {
    if (this.isTemplateRoot || !this.parent) return this;
    return this.parent.templateRoot();
  }
}

export type Body = (scope: Scope, out: string[]) => number;

/** A `{% block %}` body; `chain` is the override chain (child first) for `super()`. */
export type BlockFn = (scope: Scope, out: string[], chain: BlockFn[], index: number) => void;

export interface RenderState {
  blocks: Map<string, BlockFn[]>;
  parent: CompiledTemplate | null;
}

/** A compiled template: its top-level code and its blocks. */
export interface CompiledTemplate {
  readonly name: string;
  readonly blocks: Map<string, BlockFn>;
  /** Renders the template's top level into `out`; `render` is given when it runs as a parent. */
  run(scope: Scope, out: string[], render?: RenderState): void;
}
export type CompiledExpr = (scope: Scope) => PyValue;

/** Control-flow results of statements. */
export const NORMAL = 0;
export const BREAK = 1;
export const CONTINUE = 2;

export interface MacroDefinition {
  name: string;
  args: string[];
  defaults: CompiledExpr[];
  body: Body;
  catchVarargs: boolean;
  catchKwargs: boolean;
  usesCaller: boolean;
}

/** A `{% macro %}` (or the `caller` of a call block), closed over the scope that defined it. */
export class Macro extends PyObject implements PyCallableObject {
  constructor(
    readonly def: MacroDefinition,
    readonly closure: Scope,
    readonly strict: boolean,
  ) {
    super();
  }
  get typeName(): string {
    return 'Macro';
  }
  override get typeModule(): string {
    return 'jinja2.runtime';
  }
  override repr(): string {
    return `<Macro ${strRepr(this.def.name)}>`;
  }
  override getAttr(name: string): PyValue | Missing {
    switch (name) {
      case 'name':
        return this.def.name;
      case 'arguments':
        return new PyTuple(this.def.args);
      case 'catch_kwargs':
        return this.def.catchKwargs;
      case 'catch_varargs':
        return this.def.catchVarargs;
      case 'caller':
        return this.def.usesCaller;
      default:
        return MISSING;
    }
  }

  pyCall(args: PyValue[], kwargs: Kwargs | null): PyValue {
    const def = this.def;
    const argc = def.args.length;
    const kw: Kwargs = new Map(kwargs ?? []);
    const values: (PyValue | Missing)[] = args.slice(0, argc);
    let foundCaller = false;
    if (values.length !== argc) {
      for (const name of def.args.slice(values.length)) {
        const v = kw.get(name);
        kw.delete(name);
        if (name === 'caller') foundCaller = true;
        values.push(v === undefined ? MISSING : v);
      }
    }
    const scope = new Scope(this.closure, this.closure.rt);
    let caller: PyValue | null = null;
    if (def.usesCaller && !foundCaller) {
      const c = kw.get('caller');
      kw.delete('caller');
      caller =
        c === undefined || c === null
          ? new PyUndefined(this.strict, 'caller', MISSING, 'No caller defined')
          : c;
    }
    if (!def.catchKwargs && kw.size) {
      if (kw.has('caller')) {
        throw typeError(
          `macro '${def.name}' was invoked with two values for the special caller argument. This is most likely a bug.`,
        );
      }
      throw typeError(`macro '${def.name}' takes no keyword argument '${kw.keys().next().value!}'`);
    }
    if (!def.catchVarargs && args.length > argc) {
      throw typeError(`macro '${def.name}' takes not more than ${argc} argument(s)`);
    }
    const firstDefault = argc - def.defaults.length;
    for (let i = 0; i < argc; i++) {
      const name = def.args[i]!;
      let v = values[i] as PyValue | Missing;
      if (v === MISSING) {
        if (i >= firstDefault) v = def.defaults[i - firstDefault]!(scope);
        else v = new PyUndefined(this.strict, name, MISSING, `parameter '${name}' was not provided`);
      }
      scope.set(name, v);
    }
    if (caller !== null) scope.set('caller', caller);
    if (def.catchKwargs) scope.set('kwargs', PyDict.from(kw));
    if (def.catchVarargs) scope.set('varargs', new PyTuple(args.slice(argc)));
    const rt = scope.rt;
    enterCall(rt);
    const out: string[] = [];
    try {
      def.body(scope, out);
    } finally {
      rt.depth--;
    }
    return out.join('');
  }
}

/** The `loop` variable of a for loop. */
export class LoopContext extends PyObject implements PyCallableObject {
  index0 = -1;
  private current: PyValue | Missing = MISSING;
  private before: PyValue | Missing = MISSING;
  private after: PyValue | Missing = MISSING;
  private length: number | null = null;
  private lastChanged: PyValue | Missing = MISSING;

  constructor(
    private readonly source: PyValue,
    private iterator: Iterator<PyValue>,
    readonly depth0: number,
    private readonly strict: boolean,
    private readonly recurse: ((items: PyValue, depth: number) => string) | null,
  ) {
    super();
  }
  get typeName(): string {
    return 'LoopContext';
  }
  override get typeModule(): string {
    return 'jinja2.runtime';
  }

  /** Advances; false at the end. */
  advance(): boolean {
    let value: PyValue | Missing;
    if (this.after !== MISSING) {
      value = this.after;
      this.after = MISSING;
    } else {
      const r = this.iterator.next();
      value = r.done ? MISSING : r.value;
    }
    if (value === MISSING) return false;
    this.before = this.current;
    this.current = value;
    this.index0++;
    return true;
  }

  get item(): PyValue {
    return this.current as PyValue;
  }

  private peek(): PyValue | Missing {
    if (this.after === MISSING) {
      const r = this.iterator.next();
      this.after = r.done ? MISSING : r.value;
    }
    return this.after;
  }

  private getLength(): number {
    if (this.length !== null) return this.length;
    if (Array.isArray(this.source) || this.source instanceof PyTuple || this.source instanceof PyDict) {
      this.length = pyLen(this.source);
      return this.length;
    }
    const rest = Array.from({ [Symbol.iterator]: () => this.iterator });
    const after = this.after;
    this.iterator = rest[Symbol.iterator]();
    this.length = rest.length + this.index0 + 1 + (after !== MISSING ? 1 : 0);
    return this.length;
  }

  override getAttr(name: string): PyValue | Missing {
    switch (name) {
      case 'index':
        return BigInt(this.index0 + 1);
      case 'index0':
        return BigInt(this.index0);
      case 'first':
        return this.index0 === 0;
      case 'last':
        return this.peek() === MISSING;
      case 'length':
        return BigInt(this.getLength());
      case 'revindex':
        return BigInt(this.getLength() - this.index0);
      case 'revindex0':
        return BigInt(this.getLength() - this.index0 - 1);
      case 'depth':
        return BigInt(this.depth0 + 1);
      case 'depth0':
        return BigInt(this.depth0);
      case 'previtem':
        return this.before !== MISSING
          ? this.before
          : new PyUndefined(this.strict, 'previtem', MISSING, 'there is no previous item');
      case 'nextitem': {
        const next = this.peek();
        return next !== MISSING
          ? next
          : new PyUndefined(this.strict, 'nextitem', MISSING, 'there is no next item');
      }
      case 'cycle':
        return new PyFunction('cycle', (args) => {
          if (!args.length) throw typeError('no items for cycling given');
          return args[this.index0 % args.length]!;
        });
      case 'changed':
        return new PyFunction('changed', (args) => {
          const value = new PyTuple(args);
          if (this.lastChanged === MISSING || !pyEquals(value, this.lastChanged)) {
            this.lastChanged = value;
            return true;
          }
          return false;
        });
      default:
        return MISSING;
    }
  }

  pyCall(args: PyValue[]): PyValue {
    if (!this.recurse) {
      throw typeError("The loop must have the 'recursive' marker to be called recursively.");
    }
    if (args.length !== 1) throw typeError('loop() takes exactly one argument');
    return this.recurse(args[0]!, this.depth0 + 1);
  }

  override repr(): string {
    return `<LoopContext ${this.index0 + 1}/${this.length ?? '?'}>`;
  }
}

/** An imported template: its exported top-level names as attributes, its output as str(). */
export class TemplateModule extends PyObject {
  constructor(
    readonly name: string,
    readonly exports: Map<string, PyValue>,
    readonly output: string,
  ) {
    super();
  }
  get typeName(): string {
    return 'TemplateModule';
  }
  override get typeModule(): string {
    return 'jinja2.environment';
  }
  override getAttr(name: string): PyValue | Missing {
    const v = this.exports.get(name);
    return v === undefined ? MISSING : v;
  }
  override str(): string {
    return this.output;
  }
  override repr(): string {
    return `<Template Module ${strRepr(this.name)}>`;
  }
}

export function unpackTarget(value: PyValue, count: number): PyValue[] {
  let items: PyValue[];
  try {
    items = Array.from(iterable(value));
  } catch (e) {
    if (e instanceof PyError && e.pyType === 'TypeError') {
      throw typeError(`cannot unpack non-iterable ${typeName(value)} object`);
    }
    throw e;
  }
  if (items.length > count) throw new PyError('ValueError', `too many values to unpack (expected ${count})`);
  if (items.length < count) {
    throw new PyError('ValueError', `not enough values to unpack (expected ${count}, got ${items.length})`);
  }
  return items;
}

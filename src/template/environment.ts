/** The template environment: options, loader, filters/tests/globals, template cache, rendering. */
import { SlapError } from '../core/errors.ts';
import { RenderInterrupted, withBudget } from './budget.ts';
import { BUILTIN_FILTERS } from './filters.ts';
import { jinjaGlobals } from './builtins.ts';
import { compileAst, type TemplateHost } from './compiler.ts';
import { fromJs } from './convert.ts';
import { BUILTIN_TESTS } from './jinja-tests.ts';
import { tokenize } from './lexer.ts';
import { parseTemplate } from './parser.ts';
import {
  Scope,
  type CompiledTemplate,
  type EvalContext,
  type FilterFn,
  type Runtime,
  type TestFn,
} from './runtime.ts';
import {
  MISSING,
  PyError,
  PyTuple,
  PyUndefined,
  pyRepr,
  pyStr,
  type Missing,
  type PyValue,
} from './values.ts';

/** What a loader returns for a template name. */
export interface TemplateSource {
  source: string;
  /** Shown in error messages instead of the name when given. */
  filename?: string;
}

/** Maps a template name (from `import`/`include`/`extends`) to its source; null when absent. */
export type TemplateLoader = (name: string) => string | TemplateSource | null | undefined;

export const EXTENSION_DO = 'jinja2.ext.do';
export const EXTENSION_LOOPCONTROLS = 'jinja2.ext.loopcontrols';
const EXTENSION_ALIASES: Record<string, string> = {
  'jinja2.ext.do': EXTENSION_DO,
  'jinja2.ext.ExprStmtExtension': EXTENSION_DO,
  'jinja2.ext.loopcontrols': EXTENSION_LOOPCONTROLS,
  'jinja2.ext.LoopControlExtension': EXTENSION_LOOPCONTROLS,
};

export interface EnvironmentOptions {
  /** `strict` = Jinja2's StrictUndefined (what slapos.recipe.template uses); default `default`. */
  undefined?: 'default' | 'strict';
  /** Jinja2 extension import paths: `jinja2.ext.do`, `jinja2.ext.loopcontrols`. */
  extensions?: readonly string[];
  trimBlocks?: boolean;
  lstripBlocks?: boolean;
  keepTrailingNewline?: boolean;
  autoescape?: boolean;
  loader?: TemplateLoader;
  /** Extra globals (visible in every template, imported ones included). JS values go through fromJs. */
  globals?: Record<string, unknown> | Map<string, PyValue>;
  filters?: Record<string, FilterFn>;
  tests?: Record<string, TestFn>;
}

export interface RenderOptions {
  /** Deadline of the render in milliseconds (default 120 000); checked every 1024 loop steps. */
  timeoutMs?: number;
  /** Aborts the render (checked every 1024 loop steps, and before starting). */
  signal?: AbortSignal;
}

const DEFAULT_RENDER_TIMEOUT_MS = 120_000;

/** Template variables: plain JS values (converted with fromJs) or a Map of Python values (used as is). */
export type TemplateContext = Record<string, unknown> | Map<string, PyValue>;

function toPyMap(values: Record<string, unknown> | Map<string, PyValue> | undefined): Map<string, PyValue> {
  if (!values) return new Map();
  if (values instanceof Map) return values;
  return new Map(Object.entries(values).map(([k, v]) => [k, fromJs(v)]));
}

/** Turns an error thrown while compiling or rendering into a SlapError naming template:line. */
export function toTemplateError(e: unknown, fallbackName: string): SlapError {
  if (e instanceof SlapError) return e;
  if (e instanceof PyError) {
    const template = e.templateName ?? fallbackName;
    const where = e.lineno !== undefined ? `${template}:${e.lineno}` : template;
    const text = e.message ? `${e.pyType}: ${e.message}` : e.pyType;
    const details = { template, line: e.lineno ?? null, type: e.pyType, message: e.message };
    if (e.pyType === 'UndefinedError') {
      const hint = 'Pass the variable in the context, or guard it with `is defined` / `|default`.';
      return new SlapError('SLAP_ERR_TEMPLATE', `${where}: ${text}`, { cause: e, hint, details });
    }
    return new SlapError('SLAP_ERR_TEMPLATE', `${where}: ${text}`, { cause: e, details });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new SlapError(
    'SLAP_ERR_INTERNAL',
    `${fallbackName}: internal error in the template engine: ${message}`,
    {
      cause: e,
    },
  );
}

export class Environment implements TemplateHost {
  readonly strict: boolean;
  readonly autoescape: boolean;
  private readonly extensions: Set<string>;
  private readonly filters: Map<string, FilterFn>;
  private readonly tests: Map<string, TestFn>;
  private readonly globals: Map<string, PyValue>;
  private readonly cache = new Map<string, CompiledTemplate>();
  private readonly evalContexts: [EvalContext, EvalContext];

  constructor(private readonly options: EnvironmentOptions = {}) {
    this.strict = options.undefined === 'strict';
    this.autoescape = options.autoescape ?? false;
    this.extensions = new Set();
    for (const ext of options.extensions ?? []) {
      const canonical = Object.hasOwn(EXTENSION_ALIASES, ext.trim())
        ? EXTENSION_ALIASES[ext.trim()]
        : undefined;
      if (!canonical) {
        throw new SlapError('SLAP_ERR_TEMPLATE', `unknown Jinja2 extension '${ext}'`, {
          hint: `Supported extensions: ${EXTENSION_DO}, ${EXTENSION_LOOPCONTROLS}.`,
        });
      }
      this.extensions.add(canonical);
    }
    this.filters = new Map(Object.entries(BUILTIN_FILTERS));
    for (const [k, v] of Object.entries(options.filters ?? {})) this.filters.set(k, v);
    this.tests = new Map(Object.entries(BUILTIN_TESTS));
    for (const [k, v] of Object.entries(options.tests ?? {})) this.tests.set(k, v);
    this.globals = jinjaGlobals();
    for (const [k, v] of toPyMap(options.globals)) this.globals.set(k, v);
    const makeEval = (autoescape: boolean): EvalContext => ({
      strict: this.strict,
      autoescape,
      filter: (name) => this.filters.get(name),
      test: (name) => this.tests.get(name),
      undefined: (hint?: string, obj: PyValue | Missing = MISSING, name: PyValue | Missing = MISSING) =>
        new PyUndefined(this.strict, name, obj, hint),
    });
    this.evalContexts = [makeEval(false), makeEval(true)];
  }

  filter(name: string): FilterFn | undefined {
    return this.filters.get(name);
  }

  test(name: string): TestFn | undefined {
    return this.tests.get(name);
  }

  evalContext(autoescape: boolean): EvalContext {
    return this.evalContexts[autoescape ? 1 : 0];
  }

  globalsScope(rt: Runtime): Scope {
    const s = new Scope(null, rt);
    s.vars = this.globals;
    return s;
  }

  /** Compiles template source; throws PyError (TemplateSyntaxError…) annotated with `name`. */
  compileSource(source: string, name: string): CompiledTemplate {
    try {
      const tokens = tokenize(source, {
        trimBlocks: this.options.trimBlocks ?? false,
        lstripBlocks: this.options.lstripBlocks ?? false,
        keepTrailingNewline: this.options.keepTrailingNewline ?? false,
      });
      const ast = parseTemplate(tokens, {
        doExtension: this.extensions.has(EXTENSION_DO),
        loopControls: this.extensions.has(EXTENSION_LOOPCONTROLS),
      });
      return compileAst(ast.body, { name, host: this, autoescape: this.autoescape });
    } catch (e) {
      if (e instanceof RangeError) {
        const nested = new PyError('TemplateSyntaxError', 'the template is nested too deeply');
        nested.templateName = name;
        throw nested;
      }
      if (e instanceof PyError && e.templateName === undefined) e.templateName = name;
      throw e;
    }
  }

  getTemplate(nameValue: PyValue): CompiledTemplate {
    if (typeof nameValue !== 'string') {
      throw new PyError('TypeError', `template name must be a string, not ${pyRepr(nameValue)}`);
    }
    const cached = this.cache.get(nameValue);
    if (cached) return cached;
    const loaded = this.options.loader?.(nameValue);
    if (loaded === null || loaded === undefined) throw new PyError('TemplateNotFound', nameValue);
    const source = typeof loaded === 'string' ? { source: loaded } : loaded;
    const tpl = this.compileSource(source.source, source.filename ?? nameValue);
    this.cache.set(nameValue, tpl);
    return tpl;
  }

  selectTemplate(names: PyValue): CompiledTemplate {
    if (typeof names === 'string') return this.getTemplate(names);
    const list = Array.isArray(names) ? names : names instanceof PyTuple ? names.items : null;
    if (!list) return this.getTemplate(names);
    for (const n of list) {
      try {
        return this.getTemplate(n);
      } catch (e) {
        if (!(e instanceof PyError && e.pyType === 'TemplateNotFound')) throw e;
      }
    }
    throw new PyError(
      'TemplatesNotFound',
      `none of the templates given were found: ${list.map(pyStr).join(', ')}`,
    );
  }

  /** Compiles a template from source. Throws SlapError (SLAP_ERR_TEMPLATE) with name:line. */
  fromString(source: string, options: { name?: string } = {}): Template {
    const name = options.name ?? '<template>';
    try {
      return new Template(this, this.compileSource(source, name), name);
    } catch (e) {
      throw toTemplateError(e, name);
    }
  }

  /** Loads a template by name through the loader. Throws SlapError. */
  loadTemplate(name: string): Template {
    try {
      return new Template(this, this.getTemplate(name), name);
    } catch (e) {
      throw toTemplateError(e, name);
    }
  }
}

/** A compiled template, rendered any number of times. */
export class Template {
  constructor(
    readonly environment: Environment,
    private readonly compiled: CompiledTemplate,
    readonly name: string,
  ) {}

  /** Renders with the given variables. Throws SlapError (SLAP_ERR_TEMPLATE) naming template:line. */
  render(context: TemplateContext = {}, options: RenderOptions = {}): string {
    const rt: Runtime = { depth: 0, moduleCache: new Map() };
    try {
      return withBudget(
        { timeoutMs: options.timeoutMs ?? DEFAULT_RENDER_TIMEOUT_MS, signal: options.signal },
        () => {
          const globals = this.environment.globalsScope(rt);
          const vars = new Scope(globals, rt);
          vars.vars = toPyMap(context);
          const root = new Scope(vars, rt, true);
          const out: string[] = [];
          this.compiled.run(root, out);
          return out.join('');
        },
      );
    } catch (e) {
      if (e instanceof RenderInterrupted) {
        throw new SlapError('SLAP_ERR_TIMEOUT', `${this.name}: ${e.message}`, { cause: e });
      }
      if (e instanceof RangeError) {
        const stack = /call stack/i.test(e.message);
        throw toTemplateError(new PyError(stack ? 'RecursionError' : 'MemoryError', e.message), this.name);
      }
      throw toTemplateError(e, this.name);
    }
  }
}

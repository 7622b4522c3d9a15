/**
 * Lazy resolution of a loaded profile (profiles.md §1.6–1.8): a section is initialised the first
 * time it is needed — `<=` macros expanded, every option containing `${` substituted in sorted
 * option order (initialising each referenced section first, recipe constructor included), then its
 * recipe's `init` run — and a section with a recipe is appended to the install list at the end of
 * its initialisation, so dependencies come before dependents. Substitution is tracked per
 * `(section, option)` so cycles are reported with their chain; errors name `section:option` and the
 * file:line the value came from. `$${` is the escape of `${` (the SlapOS fork's rule).
 */
import { resolve } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { updateSection } from './merge.ts';
import type { RawConfig, RawOption, RawSection, Source } from './parser.ts';
import {
  PyCallable,
  PyExprError,
  PyNamespace,
  evaluate,
  parseExpression,
  type Globals,
  type PyObject,
} from './py-expr.ts';
import { PyTuple, isSerialised, pyStr, serialise, splitSerialised, type PyValue } from './py-value.ts';

const REFERENCE_SPLIT = /(\$\{[^}]*\})/;
const VALID_REFERENCE = /^\$\{[-a-zA-Z0-9 ._]*:[-a-zA-Z0-9 ._]+\}$/;
const SIMPLE_NAME = /^[-a-zA-Z0-9 ._]+$/;

export const SECTION_NAME_OPTION = '_buildout_section_name_';

function where(source: Source | undefined): string {
  if (!source || source.line === 0) return source && !source.file.startsWith('<') ? `${source.file}: ` : '';
  return `${source.file}:${source.line}: `;
}

/** Replaces the `$${` escapes of a final value by `${`. */
export function unescapeValue(value: string): string {
  return value.includes('$${') ? value.replaceAll('$${', '${') : value;
}

function iterableItems(value: PyObject, name: string): PyValue[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [...value];
  if (Array.isArray(value)) return value;
  if (value instanceof PyTuple) return [...value.items];
  if (value instanceof Set) return [...value];
  if (value instanceof Map) return [...value.keys()];
  if (value !== null && typeof value === 'object' && !(value instanceof PyCallable))
    return Object.keys(value);
  throw new PyExprError(`${name}() argument must be iterable`);
}

/** The names `!py!` literals may use (the fork's safe globals). */
const SERIALISED_GLOBALS: Globals = {
  set: new PyCallable('set', (args) => new Set(iterableItems(args[0] as PyObject, 'set'))),
  frozenset: new PyCallable('frozenset', (args) => new Set(iterableItems(args[0] as PyObject, 'frozenset'))),
  list: new PyCallable('list', (args) => iterableItems(args[0] as PyObject, 'list')),
  tuple: new PyCallable('tuple', (args) => new PyTuple(iterableItems(args[0] as PyObject, 'tuple'))),
  dict: new PyCallable('dict', (args) => {
    if (args.length === 0) return {};
    const arg = args[0];
    if (
      arg !== null &&
      typeof arg === 'object' &&
      !Array.isArray(arg) &&
      !(arg instanceof PyTuple) &&
      !(arg instanceof Set)
    )
      return arg;
    const dict: Record<string, PyValue> = {};
    for (const item of iterableItems(arg as PyObject, 'dict')) {
      const pair = item instanceof PyTuple ? item.items : Array.isArray(item) ? item : undefined;
      if (!pair || pair.length !== 2) throw new PyExprError('dict() sequence elements must be pairs');
      dict[pyStr(pair[0] ?? null)] = pair[1] ?? null;
    }
    return dict;
  }),
  str: new PyCallable('str', (args) => {
    const arg = args[0];
    if (arg === undefined) return '';
    if (arg instanceof PyCallable) return `<function ${arg.name}>`;
    if (arg instanceof PyNamespace) return `<module '${arg.name}'>`;
    return pyStr(arg);
  }),
};

/** The Python type name of a value (for messages). */
function pyTypeName(value: PyValue): string {
  if (value === null) return 'NoneType';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'str';
  if (Array.isArray(value)) return 'list';
  if (value instanceof PyTuple) return 'tuple';
  if (value instanceof Set) return 'set';
  return 'dict';
}

/** Reads a `!py!` serialised value; `what` names the option in errors. */
export function deserialise(text: string, what: string): PyValue {
  const split = splitSerialised(text);
  if (!split) return text;
  if (split.version !== '') {
    throw new SlapError(
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      `${what}: unknown serialisation "!py${split.version}!"`,
    );
  }
  let result: PyObject;
  try {
    result = evaluate(parseExpression(split.body), SERIALISED_GLOBALS);
  } catch (error) {
    if (error instanceof PyExprError) {
      throw new SlapError(
        'SLAP_ERR_RECIPE_UNSUPPORTED',
        `${what}: the !py! value is Python code this engine does not run (${error.message})`,
        {
          hint: 'Only Python literals (str, int, float, bool, None, list, tuple, dict, set) with + and slicing are supported.',
        },
      );
    }
    throw error;
  }
  if (result instanceof PyCallable)
    throw new SlapError('SLAP_ERR_RECIPE_UNSUPPORTED', `${what}: a !py! value cannot be a function`);
  return result as PyValue;
}

/**
 * The options of one section. Values are strings; `$${` stays escaped inside the engine and is
 * unescaped by `get`. Recipes may set objects (stored `!py!`-serialised) and read them back with
 * `getValue`.
 */
export class Options {
  readonly name: string;
  /** Sections looked up while this section initialised (its dependencies, for signatures). */
  readonly dependencies = new Set<string>();
  /** 'initialising' while macros, substitutions or the recipe's init run. */
  state: 'initialising' | 'ready' = 'initialising';
  private raw: RawSection;
  private readonly values = new Map<string, string>();
  private readonly used = new Set<string>();
  private readonly volatileKeys = new Set<string>();
  private missingProvider: ((key: string) => string | undefined) | undefined;

  constructor(
    private readonly buildout: Buildout,
    name: string,
    raw: RawSection,
  ) {
    this.name = name;
    this.raw = raw;
  }

  /** @internal */
  setRaw(raw: RawSection): void {
    this.raw = raw;
  }
  /** @internal */
  rawOption(key: string): RawOption | undefined {
    return this.raw.get(key);
  }
  /** @internal */
  rawKeys(): string[] {
    return [...this.raw.keys()];
  }
  /** @internal: the value in its escaped form, if already known without substitution work. */
  known(key: string): string | undefined {
    const value = this.values.get(key);
    if (value !== undefined) return value;
    const raw = this.raw.get(key);
    if (raw && !raw.value.includes('${')) return raw.value;
    return undefined;
  }
  /** @internal */
  store(key: string, value: string): void {
    this.values.set(key, value);
  }

  /** True if the option exists (raw, substituted or set by a recipe). */
  has(key: string): boolean {
    return this.values.has(key) || this.raw.has(key);
  }

  /**
   * The final string value (`$${` unescaped), or undefined if the option does not exist. A `!py!`
   * value is deserialised, as the fork's `options[key]` does: a Python str reads as that string;
   * any other object is an error here (a recipe reading a string would fail on it in the fork too).
   * `getValue` reads objects, `getText` the serialised text.
   */
  get(key: string): string | undefined {
    const text = this.getText(key);
    if (text === undefined || !isSerialised(text)) return text;
    const value = deserialise(text, `${where(this.raw.get(key)?.source)}${this.name}:${key}`);
    if (typeof value === 'string') return value;
    throw new SlapError(
      'SLAP_ERR_PROFILE',
      `${where(this.raw.get(key)?.source)}${this.name}:${key} is a !py! ${pyTypeName(value)} where a string is expected`,
      {
        details: { section: this.name, option: key },
        hint: 'This option takes text: write a plain value or a !py! str literal.',
      },
    );
  }

  /** The final value as text (`$${` unescaped, `!py!` values left serialised). */
  getText(key: string): string | undefined {
    this.used.add(key);
    const value = this.values.get(key);
    if (value !== undefined) return unescapeValue(value);
    const raw = this.raw.get(key);
    if (!raw) return this.provided(key);
    if (raw.value.includes('${')) {
      throw new SlapError(
        'SLAP_ERR_PROFILE',
        `${where(raw.source)}${this.name}:${key} is read before it could be resolved (circular dependency between sections)`,
        { details: { section: this.name, option: key } },
      );
    }
    this.values.set(key, raw.value);
    return raw.value;
  }

  /** Like `get` but a missing option is an error naming `section:option`. */
  require(key: string): string {
    const value = this.get(key);
    if (value === undefined) {
      throw new SlapError('SLAP_ERR_PROFILE', `Missing option: ${this.name}:${key}`, {
        details: { section: this.name, option: key },
        hint: `Add "${key} = …" to section [${this.name}].`,
      });
    }
    return value;
  }

  /** The value with `!py!` serialised objects deserialised (plain strings are returned as they are). */
  getValue(key: string): PyValue | undefined {
    const value = this.getText(key);
    if (value === undefined || !isSerialised(value)) return value;
    return deserialise(value, `${where(this.raw.get(key)?.source)}${this.name}:${key}`);
  }

  /** Sets an option (visible to later `${section:key}` references); objects are stored `!py!`-serialised. */
  set(key: string, value: string | PyValue): void {
    this.values.set(key, typeof value === 'string' ? value : serialise(value));
    this.used.add(key);
  }

  delete(key: string): void {
    this.values.delete(key);
    if (this.raw.has(key)) {
      const copy = new Map(this.raw);
      copy.delete(key);
      this.raw = copy;
    }
  }

  /** Option names: raw ones first (file order), then the ones recipes added. */
  keys(): string[] {
    const keys = [...this.raw.keys()];
    for (const key of this.values.keys()) if (!this.raw.has(key)) keys.push(key);
    return keys;
  }

  /** Every option with its final text (`!py!` values left serialised). */
  entries(): [string, string][] {
    return this.keys().map((key) => [key, this.getText(key) ?? '']);
  }

  /** The value as written in the profile (after `<=` macros), before any substitution. */
  rawValue(key: string): string | undefined {
    this.used.add(key);
    return this.raw.get(key)?.value;
  }

  /** Where a raw option was written. */
  source(key: string): Source | undefined {
    return this.raw.get(key)?.source;
  }

  /**
   * Keeps an option out of the part's signature and of the installed record (secrets such as a
   * generated password): changing it never reinstalls the part.
   */
  markVolatile(key: string): void {
    this.volatileKeys.add(key);
  }

  /**
   * Computes options that do not exist when they are first read, by a recipe or a `${…}` reference
   * (generate.password's `passwd-<scheme>` hashes, as the original's `__missing__`). The provider
   * returns undefined for names it does not know; what it returns is kept and volatile.
   */
  provideMissing(provider: (key: string) => string | undefined): void {
    this.missingProvider = provider;
  }

  /** @internal */
  provided(key: string): string | undefined {
    const value = this.missingProvider?.(key);
    if (value === undefined) return undefined;
    this.values.set(key, value);
    this.volatileKeys.add(key);
    return value;
  }

  isVolatile(key: string): boolean {
    return this.volatileKeys.has(key);
  }

  /** @internal */
  markUsed(key: string): void {
    this.used.add(key);
  }

  /** Raw options never read (buildout warns about them after installing a part). */
  unusedKeys(): string[] {
    return [...this.raw.keys()].filter((key) => !this.used.has(key)).sort();
  }

  /**
   * Every option in its escaped engine form, volatile ones excluded: what the installed record
   * saves and compares. Only meaningful once the section is initialised.
   */
  snapshot(): Record<string, string> {
    const result: Record<string, string> = {};
    for (const key of this.keys()) {
      if (this.volatileKeys.has(key)) continue;
      result[key] = this.values.get(key) ?? this.raw.get(key)?.value ?? '';
    }
    return result;
  }

  /** @internal for the installer */
  get buildoutRef(): Buildout {
    return this.buildout;
  }
}

export interface BuildoutInit {
  raw: RawConfig;
  /** Runs a section's recipe init (called while the section initialises, if it has a `recipe`). */
  initRecipe?: ((options: Options) => Promise<void>) | undefined;
}

type Seen = [string, string][];

/**
 * The resolved view of a profile. `section(name)` initialises on demand; `installList` records the
 * sections with a recipe in initialisation order.
 */
export class Buildout {
  readonly raw: RawConfig;
  readonly installList: string[] = [];
  private readonly sections = new Map<string, Options>();
  private readonly initRecipe: ((options: Options) => Promise<void>) | undefined;

  constructor(init: BuildoutInit) {
    this.raw = init.raw;
    this.initRecipe = init.initRecipe;
  }

  /** Names of every section of the merged profile. */
  sectionNames(): string[] {
    return [...this.raw.keys()];
  }

  /** A section already initialised (or initialising), without triggering anything. */
  peek(name: string): Options | undefined {
    return this.sections.get(name);
  }

  /** Initialised sections, in initialisation order. */
  initialised(): Options[] {
    return [...this.sections.values()];
  }

  /**
   * The section `name`, initialised first if needed. `requester` (a section initialising) records
   * it as a dependency. A section currently initialising is returned as it is (buildout semantics:
   * its plain options are readable, recipe-set ones may not exist yet).
   */
  async section(name: string, requester?: Options): Promise<Options> {
    if (requester) recordDependency(requester, name);
    const existing = this.sections.get(name);
    if (existing) return existing;
    const raw = this.raw.get(name);
    if (!raw)
      throw new SlapError('SLAP_ERR_PROFILE', `No section named [${name}]`, {
        details: { missingSection: name },
      });
    const options = new Options(this, name, raw);
    this.sections.set(name, options);
    await this.initialise(options);
    return options;
  }

  /** The value of `section:option` in its escaped form (initialising the section), or undefined. */
  async lookup(section: string, option: string, requester?: Options): Promise<string | undefined> {
    const options = await this.section(section, requester);
    return this.resolve(options, option, undefined);
  }

  /** Forces every option of an initialised section to be substituted (for signatures and dumps). */
  async resolveAll(options: Options): Promise<void> {
    for (const key of options.rawKeys()) {
      if (options.known(key) === undefined) await this.resolve(options, key, undefined);
    }
  }

  /**
   * Substitutes the `${section:option}` references of `text` as if it were a value of `options`
   * (initialising referenced sections and recording them as dependencies). No escape handling:
   * callers split on their escape sequence first.
   */
  async substituteText(options: Options, text: string, source: Source, label: string): Promise<string> {
    return this.substitutePiece(options, label, { value: text, source }, text, [[options.name, label]]);
  }

  private async initialise(options: Options): Promise<void> {
    const name = options.name;
    const raw = options.rawOption('<') ? expandMacros(this.raw, name) : undefined;
    if (raw) options.setRaw(raw);
    for (const key of options.rawKeys().sort(compareCodePoints)) {
      const option = options.rawOption(key);
      if (option && option.value.includes('${') && options.known(key) === undefined) {
        await this.substitute(options, key, option, [[name, key]]);
      }
    }
    if (name === 'buildout') {
      options.state = 'ready';
      return;
    }
    const dependencies = await this.resolve(options, '<part-dependencies>', undefined);
    for (const dependency of (dependencies ?? '').split(/\s+/).filter((d) => d !== '')) {
      await this.section(dependency, options);
    }
    const recipe = await this.resolve(options, 'recipe', undefined);
    if (recipe) {
      await this.initRecipe?.(options);
      this.installList.push(name);
    }
    options.state = 'ready';
  }

  /** The escaped value of `options[key]`, substituting on first use (buildout's `Options.get`). */
  async resolve(options: Options, key: string, seen: Seen | undefined): Promise<string | undefined> {
    const known = options.known(key);
    if (known !== undefined) return known;
    const raw = options.rawOption(key);
    if (!raw) return options.provided(key);
    const chain: Seen = seen ?? [];
    if (chain.some(([s, o]) => s === options.name && o === key)) {
      const cycle = [...chain, [options.name, key]].map(([s, o]) => `${s}:${o}`).join(' -> ');
      throw new SlapError(
        'SLAP_ERR_PROFILE',
        `${where(raw.source)}Circular reference in substitutions: ${cycle}`,
        {
          details: { section: options.name, option: key, cycle },
        },
      );
    }
    chain.push([options.name, key]);
    try {
      return await this.substitute(options, key, raw, chain);
    } finally {
      chain.pop();
    }
  }

  private async substitute(options: Options, key: string, raw: RawOption, seen: Seen): Promise<string> {
    const pieces = raw.value.split('$$');
    const out: string[] = [];
    for (const piece of pieces) {
      out.push(piece.includes('${') ? await this.substitutePiece(options, key, raw, piece, seen) : piece);
    }
    const value = out.join('$$');
    options.store(key, value);
    return value;
  }

  private async substitutePiece(
    options: Options,
    key: string,
    raw: RawOption,
    template: string,
    seen: Seen,
  ): Promise<string> {
    if (!template.includes('${')) return template;
    const parts = template.split(REFERENCE_SPLIT);
    let result = '';
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      if (i % 2 === 0) {
        result += part;
        continue;
      }
      const [sectionName, optionName] = this.parseReference(options, key, raw, part);
      const context = (): string => `${where(raw.source)}${options.name}:${key}: `;
      // Most references name a section already initialised and an option already substituted:
      // no await for those (a profile has thousands of them).
      let target = this.sections.get(sectionName);
      if (target) {
        recordDependency(options, sectionName);
      } else {
        try {
          target = await this.section(sectionName, options);
        } catch (error) {
          if (error instanceof SlapError && error.details?.missingSection === sectionName) {
            throw new SlapError(
              'SLAP_ERR_PROFILE',
              `${context()}${part} refers to section [${sectionName}], which does not exist`,
              {
                details: { section: options.name, option: key, reference: part },
              },
            );
          }
          throw error;
        }
      }
      let value = target.known(optionName) ?? (await this.resolve(target, optionName, seen));
      target.markUsed(optionName);
      if (value === undefined) {
        if (optionName !== SECTION_NAME_OPTION) {
          throw new SlapError(
            'SLAP_ERR_PROFILE',
            `${context()}${part} refers to an option that does not exist (section [${sectionName}] has no option "${optionName}")`,
            { details: { section: options.name, option: key, reference: part } },
          );
        }
        value = options.name;
      }
      result += value;
    }
    return result;
  }

  private parseReference(options: Options, key: string, raw: RawOption, ref: string): [string, string] {
    const names = ref.slice(2, -1).split(':');
    if (!VALID_REFERENCE.test(ref)) {
      const context = `${where(raw.source)}${options.name}:${key}: the substitution ${ref} `;
      let reason: string;
      if (names.length < 2) reason = "doesn't contain a colon";
      else if (names.length > 2) reason = 'has too many colons';
      else if (!SIMPLE_NAME.test(names[0] ?? '')) reason = 'has invalid characters in its section name';
      else reason = 'has invalid characters in its option name';
      throw new SlapError('SLAP_ERR_PROFILE', context + reason, {
        details: { section: options.name, option: key, reference: ref },
        hint: 'References are ${section:option} or ${:option}; write $${ for a literal ${.',
      });
    }
    return [names[0] || options.name, names[1] ?? ''];
  }
}

/**
 * The options of section `name` with its `<=` macros expanded (one section name per line, each
 * expanded recursively, then the section's own options applied over them with `+=`/`-=`).
 */
export function expandMacros(
  config: RawConfig,
  name: string,
  data: RawSection = config.get(name) ?? new Map<string, RawOption>(),
  doing: string[] = [],
): RawSection {
  if (name === 'buildout') return data;
  if (doing.includes(name)) {
    throw new SlapError(
      'SLAP_ERR_PROFILE',
      `Infinite extending loop in macros: ${[...doing, name].join(' <= ')}`,
      {
        details: { section: name },
      },
    );
  }
  const macros = data.get('<');
  if (!macros) return data;
  doing.push(name);
  const result: RawSection = new Map();
  for (const macro of macros.value.split('\n').map((l) => l.trim())) {
    if (macro === '') continue;
    const macroRaw = config.get(macro);
    if (!macroRaw) {
      throw new SlapError(
        'SLAP_ERR_PROFILE',
        `${where(macros.source)}${name}:<: No section named [${macro}]`,
        {
          details: { section: name, option: '<', macro },
          hint: '`<=` takes one section name per line.',
        },
      );
    }
    for (const [key, value] of expandMacros(config, macro, macroRaw, doing)) result.set(key, value);
  }
  updateSection(result, data);
  result.delete('<');
  doing.pop();
  return result;
}

/** `requester` looked `name` up while initialising: a dependency, unless itself or [buildout]. */
function recordDependency(requester: Options, name: string): void {
  if (name !== requester.name && name !== 'buildout') requester.dependencies.add(name);
}

function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Absolute buildout directories (§1.5): relative values are joined to `directory`. */
export function buildoutPath(directory: string, value: string): string {
  if (value.includes('${')) return value;
  return resolve(directory, value);
}

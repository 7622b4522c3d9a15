/**
 * The public entry points of the profile engine:
 *
 * - `loadProfile(options)` loads and merges a profile and returns a lazily resolved view of it
 *   (sections initialise — recipe `init` included — when asked for), without installing anything.
 * - `runBuildout(options)` does what `bin/buildout` does (profiles.md §1.10): initialise the parts,
 *   uninstall in reverse order the parts that disappeared or changed, install or update the others
 *   in dependency order, and keep the installed-parts record (`.installed.cfg`) up to date after
 *   each part, atomically and only when its content changes. A re-run with nothing changed calls
 *   only the recipes' `update` (no-ops for the built-in recipes): no process, no file written.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { SlapError, toSlapError, type ErrorCode } from '../core/errors.ts';
import { download, isUrl, localPath, type DownloadResult, type SourceCache } from '../lib/download.ts';
import { readNetworkcacheOptions } from '../lib/networkcache/options.ts';
import { sourceCacheFor } from '../lib/networkcache/source-cache.ts';
import { execFile, type ExecOptions, type ExecResult } from '../lib/exec.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { BUILTIN_RECIPES } from './recipes/index.ts';
import { INSTALLED_PATHS, InstalledFile, SIGNATURE, emptyRecord, type InstalledRecord } from './installed.ts';
import { removeOwnedPath } from './owned-paths.ts';
import { loadRawProfile, parseAssignment, type Assignment } from './loader.ts';
import type { RawConfig } from './parser.ts';
import type { BuildoutEvent, ProgressListener } from './progress.ts';
import type {
  BuildoutDirectories,
  ExecFunction,
  InstallResult,
  NestedRunOptions,
  NestedRunResult,
  Recipe,
  RecipeContext,
  RecipeDownloadOptions,
  RecipeMap,
  SlapContext,
  UninstallContext,
} from './recipe.ts';
import { lineSplitter } from './lines.ts';
import { knownRecipe, resolveRecipe } from './registry.ts';
import { Buildout, buildoutPath, unescapeValue, type Options } from './resolver.ts';
import { pathExists } from '../lib/path-exists.ts';
import { PythonBridge, locatePython } from './python-bridge/bridge.ts';

const DEFAULT_PYTHON_TIMEOUT_MS = 2 * 60 * 60 * 1000;

export interface ProfileOptions {
  /** The root profile (path relative to `cwd`, or an http(s)/file URL). Default `buildout.cfg`. */
  configFile?: string;
  cwd?: string;
  /** `section:option=value` assignments (strings as on the command line, or parsed). */
  assignments?: readonly (string | Assignment)[];
  /** `-o`: buildout:offline=true. */
  offline?: boolean;
  /** `-N` is `newest: false`. */
  newest?: boolean;
  /** Load ~/.buildout/default.cfg (buildout does unless -U). Default false. */
  userDefaults?: boolean;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  logger?: Logger;
  onProgress?: ProgressListener;
  /** Recipes added to (or replacing) the built-in ones, by name (`"dist"` or `"dist:entry"`). */
  recipes?: RecipeMap;
  /** Node-provided facilities for SlapOS recipes. */
  slap?: SlapContext;
  /** Process runner (default `src/lib/exec.ts` execFile). */
  exec?: ExecFunction;
  /** HTTP dispatcher for downloads. */
  dispatcher?: Dispatcher;
  /** Deadline of one Python snippet of the profile (python-bridge/). Default 2 hours. */
  pythonTimeoutMs?: number;
}

export interface RunOptions extends ProfileOptions {
  /** Install only these parts (`install PART…`): other installed parts are kept as they are. */
  parts?: readonly string[];
}

export interface BuildoutResult {
  directory: string;
  /** The record file (undefined if `buildout:installed` is empty). */
  installedFile: string | undefined;
  /** Parts recorded as installed, in install order. */
  installedParts: string[];
  installed: string[];
  updated: string[];
  uninstalled: string[];
}

/** A loaded profile, resolved lazily. */
export interface Profile {
  readonly raw: RawConfig;
  /** Every file or URL read. */
  readonly files: readonly string[];
  readonly buildout: Buildout;
  readonly directories: BuildoutDirectories;
  readonly offline: boolean;
  readonly newest: boolean;
  /** Path of the installed-parts record, or undefined if disabled. */
  readonly installedFile: string | undefined;
  /** The section, initialised (recipe init included). */
  section(name: string): Promise<Options>;
  /** The final value of `section:option` (`$${` unescaped), or undefined. */
  get(section: string, option: string): Promise<string | undefined>;
  /** Initialises `buildout:parts` (running recipe inits) and returns the install list. */
  plan(parts?: readonly string[]): Promise<string[]>;
  /** Ends what resolving started (the Python process of profile code); the profile stays readable. */
  close(): Promise<void>;
}

interface PartEntry {
  recipe: Recipe;
  id: string;
  spec: string;
  ctx: PartContext;
}

function toAssignments(
  list: readonly (string | Assignment)[] | undefined,
  options: ProfileOptions,
): Assignment[] {
  const result = (list ?? []).map((a) => (typeof a === 'string' ? parseAssignment(a) : a));
  if (options.offline) result.push({ section: 'buildout', option: 'offline', value: 'true' });
  if (options.newest !== undefined)
    result.push({ section: 'buildout', option: 'newest', value: String(options.newest) });
  return result;
}

function strictBoolean(options: Options, key: string): boolean {
  const value = options.get(key) ?? 'false';
  if (value !== 'true' && value !== 'false') {
    throw new SlapError(
      'SLAP_ERR_PROFILE',
      `Invalid value for buildout:${key}: ${JSON.stringify(value)} (only true or false)`,
      {
        details: { section: 'buildout', option: key },
      },
    );
  }
  return value === 'true';
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

function normalisePaths(result: InstallResult): string[] | undefined {
  if (result === undefined || result === null) return undefined;
  if (typeof result === 'string') return [result];
  return [...result];
}

/** State shared by the recipe contexts of one run. */
class Session {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly exec: ExecFunction;
  readonly parts = new Map<string, PartEntry>();
  buildout!: Buildout;
  /** The installed record as it was when the run started (recipes see it as `ctx.previous`). */
  previous: InstalledRecord = emptyRecord();
  installedFile: InstalledFile | undefined;
  offline = false;
  newest = true;
  /** The directories parts may own paths in (set by `runBuildout` and `uninstallAll`). */
  ownedRoots: string[] = [];
  /** Local files the build read: custom recipe modules, downloads of paths and file: URLs; absolute. */
  readonly localFiles = new Set<string>();
  private pythonBridge: PythonBridge | undefined;

  constructor(readonly options: ProfileOptions) {
    this.logger = options.logger ?? silentLogger();
    this.signal = options.signal ?? new AbortController().signal;
    this.exec = options.exec ?? execFile;
  }

  /** The run's Python bridge, started on first use (undefined without python3 on the PATH). */
  python(): PythonBridge | undefined {
    if (this.pythonBridge) return this.pythonBridge;
    const env = this.options.env ?? process.env;
    const python = locatePython(env);
    if (python === undefined) return undefined;
    this.pythonBridge = new PythonBridge({
      python,
      env,
      cwd: this.directories().directory,
      timeoutMs: this.options.pythonTimeoutMs ?? DEFAULT_PYTHON_TIMEOUT_MS,
      signal: this.signal,
    });
    return this.pythonBridge;
  }

  /** Ends what the run started (the Python process). */
  async close(): Promise<void> {
    const bridge = this.pythonBridge;
    this.pythonBridge = undefined;
    await bridge?.close();
  }

  emit(event: BuildoutEvent): void {
    this.options.onProgress?.(event);
  }

  private sourceCacheMade: Promise<SourceCache | undefined> | undefined;

  /** The source cache of `buildout:networkcache-section` (as the SlapOS fork of zc.buildout), if any. */
  sourceCache(): Promise<SourceCache | undefined> {
    return (this.sourceCacheMade ??= this.makeSourceCache());
  }

  private async makeSourceCache(): Promise<SourceCache | undefined> {
    const name = await this.buildout.lookup('buildout', 'networkcache-section').catch(() => undefined);
    if (!name || this.buildout.raw.get(name) === undefined) return undefined;
    const values: Record<string, string> = {};
    const section = await this.buildout.section(name);
    for (const key of section.keys()) {
      const value = await this.buildout.lookup(name, key);
      if (value !== undefined) values[key] = value;
    }
    const directory = (await this.buildout.lookup('buildout', 'directory')) ?? process.cwd();
    try {
      const options = readNetworkcacheOptions(values, join(directory, 'buildout.cfg'), name);
      return sourceCacheFor(options, { logger: this.logger, dispatcher: this.options.dispatcher });
    } catch (error) {
      // A cache never fails a build: downloads go to the network.
      this.warn(`source cache not used: ${(error as Error).message}`);
      return undefined;
    }
  }

  warn(message: string, fields: Record<string, unknown> = {}, part?: string): void {
    this.logger.warn({ ...fields, ...(part === undefined ? {} : { part }) }, message);
    this.emit({ type: 'warning', message, ...(part === undefined ? {} : { part }) });
  }

  /** The installed-parts record; one that cannot be read is treated as lost (see `InstalledFile.read`). */
  openInstalledFile(path: string): InstalledFile {
    return new InstalledFile(path, {
      onUnreadable: (error) =>
        this.warn(
          `the installed-parts record ${path} cannot be read (${error.message}): it is ignored, nothing it lists is uninstalled and every part is installed again`,
          { file: path, code: error.code },
        ),
    });
  }

  /** Deletes a path `part` owns, only if it is inside `ownedRoots` (docs/buildout.md, "Uninstalling"). */
  async removeOwned(directory: string, part: string, path: string): Promise<void> {
    await removeOwnedPath(path, {
      directory,
      roots: [directory, ...this.ownedRoots],
      onRefused: (refused, reason) =>
        this.warn(
          `not removing ${JSON.stringify(refused)} of part ${part}: ${reason}`,
          { path: refused },
          part,
        ),
    });
  }

  directories(): BuildoutDirectories {
    const b = this.buildout.peek('buildout');
    const get = (key: string): string => unescapeValue(b?.known(key) ?? '');
    const directory = get('directory');
    return {
      directory,
      bin: buildoutPath(directory, get('bin-directory')),
      parts: buildoutPath(directory, get('parts-directory')),
      eggs: buildoutPath(directory, get('eggs-directory')),
      developEggs: buildoutPath(directory, get('develop-eggs-directory')),
    };
  }

  async initRecipe(options: Options): Promise<void> {
    const spec = options.require('recipe');
    const source = options.source('recipe');
    const profileDir =
      source && !source.file.startsWith('<') && !isUrl(source.file) ? dirname(source.file) : undefined;
    let resolved;
    try {
      resolved = await resolveRecipe(spec, {
        section: options.name,
        recipes: this.options.recipes ?? {},
        builtins: BUILTIN_RECIPES,
        profileDir,
        buildoutDirectory: this.directories().directory,
      });
    } catch (error) {
      if (error instanceof SlapError && source && source.line > 0) {
        throw new SlapError(error.code, `${source.file}:${source.line}: ${error.message}`, {
          cause: error,
          ...(error.hint === undefined ? {} : { hint: error.hint }),
          ...(error.details === undefined ? {} : { details: error.details }),
        });
      }
      throw error;
    }
    const { recipe, id } = resolved;
    if (resolved.file !== undefined) this.localFiles.add(resolved.file);
    const ctx = new PartContext(this, options, spec);
    this.parts.set(options.name, { recipe, id, spec, ctx });
    if (recipe.init) {
      try {
        await recipe.init(ctx);
      } catch (error) {
        throw wrapRecipeError(error, 'Initializing', options.name, spec);
      }
    }
  }
}

function wrapRecipeError(error: unknown, phase: string, part: string, spec: string): SlapError {
  const base = toSlapError(error);
  const code: ErrorCode = base.code === 'SLAP_ERR_INTERNAL' ? 'SLAP_ERR_RECIPE_FAILED' : base.code;
  const prefix = `${phase} part ${part} (${spec}): `;
  if (base.message.startsWith(`${phase} part `)) return base;
  return new SlapError(code, prefix + base.message, {
    cause: error,
    ...(base.hint === undefined ? {} : { hint: base.hint }),
    details: { ...base.details, part, recipe: spec },
  });
}

class PartContext implements RecipeContext {
  readonly state = new Map<string, unknown>();
  private createdPaths: string[] | undefined;

  constructor(
    private readonly session: Session,
    readonly options: Options,
    readonly recipe: string,
  ) {}

  get name(): string {
    return this.options.name;
  }
  get buildout(): Options {
    return this.session.buildout.peek('buildout') as Options;
  }
  get directories(): BuildoutDirectories {
    return this.session.directories();
  }
  get offline(): boolean {
    return this.session.offline;
  }
  get newest(): boolean {
    return this.session.newest;
  }
  get logger(): Logger {
    return this.session.logger;
  }
  get signal(): AbortSignal {
    return this.session.signal;
  }
  get slap(): SlapContext | undefined {
    return this.session.options.slap;
  }
  get env(): Readonly<Record<string, string | undefined>> {
    return this.session.options.env ?? process.env;
  }
  get previous(): Readonly<Record<string, string>> | undefined {
    return this.session.previous.options.get(this.name);
  }

  section(name: string): Promise<Options> {
    return this.session.buildout.section(name, this.options);
  }

  sectionWith(name: string, preset: Readonly<Record<string, string>>): Promise<Options> {
    return this.session.buildout.sectionWith(name, preset, this.options);
  }

  python(): PythonBridge | undefined {
    return this.session.python();
  }

  step(step: string): void {
    this.session.emit({ type: 'step', part: this.name, step });
  }

  output(stream: 'stdout' | 'stderr', line: string): void {
    this.session.emit({ type: 'output', part: this.name, stream, line });
  }

  warn(message: string): void {
    this.session.logger.warn({ part: this.name }, message);
    this.session.emit({ type: 'warning', part: this.name, message });
  }

  async download(url: string, options: RecipeDownloadOptions = {}): Promise<DownloadResult> {
    const fetch = (from: string): Promise<DownloadResult> => this.fetch(from, options);
    if (!options.alternateUrl) return fetch(url);
    try {
      return await fetch(url);
    } catch (error) {
      if (!(error instanceof SlapError) || error.code !== 'SLAP_ERR_DOWNLOAD_FAILED' || this.signal.aborted)
        throw error;
      this.session.logger.info(
        { part: this.name, url, alternate: options.alternateUrl },
        'using alternate URL',
      );
      return fetch(options.alternateUrl);
    }
  }

  private async fetch(url: string, options: RecipeDownloadOptions): Promise<DownloadResult> {
    const local = localPath(url);
    if (local !== undefined) this.session.localFiles.add(resolve(local));
    const cache = this.buildout.get('download-cache');
    return download(url, {
      md5sum: options.md5sum,
      sha256sum: options.sha256sum,
      ...(options.destination === undefined ? {} : { destination: options.destination }),
      cacheDir: cache ? resolve(this.directories.directory, cache) : undefined,
      offline: options.offline ?? this.offline,
      signal: this.signal,
      dispatcher: this.session.options.dispatcher,
      sourceCache: await this.session.sourceCache(),
      onProgress: (p) =>
        this.session.emit({
          type: 'download',
          part: this.name,
          url: p.url,
          received: p.received,
          total: p.total,
          done: p.done,
        }),
    });
  }

  async exec(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const splitter = lineSplitter((stream, line) => this.output(stream, line));
    try {
      return await this.session.exec(file, args, {
        cwd: this.directories.directory,
        signal: this.signal,
        ...options,
        onOutput: options.onOutput ?? ((stream, chunk) => splitter.onOutput(stream, chunk)),
      });
    } finally {
      splitter.flush();
    }
  }

  async expand(text: string, options: { dollarEscape?: boolean; file?: string } = {}): Promise<string> {
    const source = { file: options.file ?? `<${this.name} template>`, line: 0 };
    const buildout = this.session.buildout;
    if (options.dollarEscape === false)
      return buildout.substituteText(this.options, text, source, 'template');
    // Inserted values are in their escaped form: a `$${` they hold is unescaped once, as when a
    // recipe reads an option (the SlapOS fork's rule, profiles.md §1.7).
    const pieces: string[] = [];
    for (const piece of text.split('$$')) {
      const substituted = await buildout.substituteText(this.options, piece, source, 'template');
      pieces.push(substituted.replaceAll('$${', '${'));
    }
    return pieces.join('$');
  }

  created(...paths: string[]): void {
    if (!this.createdPaths) {
      throw new SlapError('SLAP_ERR_INTERNAL', `[${this.name}] created() called outside install/update`);
    }
    this.createdPaths.push(...paths);
  }

  /** @internal runs install/update with created-path cleanup on failure. */
  async call(fn: (ctx: RecipeContext) => Promise<InstallResult> | InstallResult): Promise<InstallResult> {
    this.createdPaths = [];
    try {
      return await fn(this);
    } catch (error) {
      for (const path of this.createdPaths.reverse())
        await this.session.removeOwned(this.directories.directory, this.name, path);
      throw error;
    } finally {
      this.createdPaths = undefined;
    }
  }

  async runBuildout(options: NestedRunOptions): Promise<NestedRunResult> {
    const parent = this.session.options;
    const assignments: (string | Assignment)[] = [...(options.assignments ?? [])];
    // Objects, not `section:option=value` text: a path is never re-parsed (nor trimmed).
    assignments.push({ section: 'buildout', option: 'directory', value: this.directories.directory });
    if (options.installedFile)
      assignments.push({ section: 'buildout', option: 'installed', value: options.installedFile });
    const inherited: RunOptions = {};
    for (const key of [
      'env',
      'signal',
      'logger',
      'onProgress',
      'recipes',
      'slap',
      'exec',
      'dispatcher',
      'pythonTimeoutMs',
    ] as const) {
      if (parent[key] !== undefined) Object.assign(inherited, { [key]: parent[key] });
    }
    const result = await runBuildout({
      ...inherited,
      configFile: options.configFile,
      cwd: this.directories.directory,
      assignments,
      offline: this.offline,
      newest: this.newest,
      userDefaults: false,
    });
    return { installedParts: result.installedParts };
  }

  error(
    message: string,
    options: { option?: string; code?: ErrorCode; hint?: string; cause?: unknown } = {},
  ): SlapError {
    const text = options.option === undefined ? message : `${this.name}:${options.option}: ${message}`;
    return new SlapError(options.code ?? 'SLAP_ERR_RECIPE_FAILED', text, {
      details: {
        section: this.name,
        recipe: this.recipe,
        ...(options.option === undefined ? {} : { option: options.option }),
      },
      ...(options.hint === undefined ? {} : { hint: options.hint }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
  }
}

class LoadedProfile implements Profile {
  constructor(
    readonly session: Session,
    readonly raw: RawConfig,
    readonly files: readonly string[],
    readonly installedFile: string | undefined,
  ) {}

  get buildout(): Buildout {
    return this.session.buildout;
  }
  get directories(): BuildoutDirectories {
    return this.session.directories();
  }
  get offline(): boolean {
    return this.session.offline;
  }
  get newest(): boolean {
    return this.session.newest;
  }

  section(name: string): Promise<Options> {
    return this.session.buildout.section(name);
  }

  close(): Promise<void> {
    return this.session.close();
  }

  async get(section: string, option: string): Promise<string | undefined> {
    const value = await this.session.buildout.lookup(section, option);
    return value === undefined ? undefined : unescapeValue(value);
  }

  async plan(parts?: readonly string[]): Promise<string[]> {
    const buildout = this.session.buildout;
    const selected =
      parts && parts.length > 0
        ? [...parts]
        : ((await buildout.section('buildout')).get('parts') ?? '').split(/\s+/).filter(Boolean);
    for (const part of selected) {
      let options: Options;
      try {
        options = await buildout.section(part);
      } catch (error) {
        if (error instanceof SlapError && error.details?.missingSection === part) {
          throw new SlapError(
            'SLAP_ERR_PROFILE',
            `Part ${part} is listed in ${parts?.length ? 'the command line' : 'buildout:parts'} but there is no section [${part}]`,
            {
              details: { section: 'buildout', option: 'parts', part },
            },
          );
        }
        throw error;
      }
      if (!options.get('recipe')) {
        throw new SlapError(
          'SLAP_ERR_PROFILE',
          `Missing option: ${part}:recipe (the part is listed in buildout:parts)`,
          {
            details: { section: part, option: 'recipe' },
          },
        );
      }
    }
    return parts && parts.length > 0 ? selected : [...buildout.installList];
  }
}

/** Loads a profile and resolves its `[buildout]` section; see `Profile`. */
export async function loadProfile(options: ProfileOptions = {}): Promise<Profile> {
  const session = new Session(options);
  const loaded = await loadRawProfile({
    configFile: options.configFile ?? 'buildout.cfg',
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    assignments: toAssignments(options.assignments, options),
    userDefaults: options.userDefaults ?? false,
    ...(options.env === undefined ? {} : { env: options.env }),
    signal: options.signal,
    logger: options.logger,
    onProgress: options.onProgress,
    dispatcher: options.dispatcher,
  });
  const raw = loaded.raw;
  const rawBuildout = raw.get('buildout');
  const directory = rawBuildout?.get('directory')?.value ?? resolve(options.cwd ?? process.cwd());
  for (const name of ['bin', 'parts', 'eggs', 'develop-eggs']) {
    const option = rawBuildout?.get(`${name}-directory`);
    if (option && !option.value.includes('${')) option.value = resolve(directory, option.value);
  }
  session.buildout = new Buildout({ raw, initRecipe: (o) => session.initRecipe(o) });
  const buildout = await session.buildout.section('buildout');
  const dir = buildout.require('directory');
  for (const name of ['bin', 'parts', 'eggs', 'develop-eggs']) {
    const key = `${name}-directory`;
    const value = buildout.get(key);
    if (value !== undefined) buildout.set(key, buildoutPath(dir, value));
  }
  const installed = buildout.get('installed');
  const installedFile = installed ? resolve(dir, installed) : undefined;
  if (installedFile) buildout.set('installed', installedFile);
  session.offline = strictBoolean(buildout, 'offline');
  session.newest = !session.offline && strictBoolean(buildout, 'newest');
  if (installedFile) {
    session.installedFile = session.openInstalledFile(installedFile);
    session.previous = await session.installedFile.read();
  }
  return new LoadedProfile(session, raw, loaded.files, installedFile);
}

async function computeSignatures(session: Session, parts: readonly string[]): Promise<Map<string, string>> {
  const signatures = new Map<string, string>();
  // A section's token is the same for every part that depends on it: hashed once per run.
  const depTokens = new Map<string, string>();
  const computing = new Set<string>();
  const buildout = session.buildout;
  const signature = async (part: string): Promise<string> => {
    const known = signatures.get(part);
    if (known !== undefined) return known;
    const entry = session.parts.get(part);
    const options = buildout.peek(part);
    if (!entry || !options) return '';
    computing.add(part);
    const tokens = [entry.id.replace(/\s+/g, '_')];
    for (const dep of [...options.dependencies].sort()) {
      const depOptions = buildout.peek(dep);
      if (!depOptions || computing.has(dep)) continue;
      const knownToken = depTokens.get(dep);
      if (knownToken !== undefined) {
        tokens.push(knownToken);
        continue;
      }
      try {
        await buildout.resolveAll(depOptions);
      } catch {
        // an unused broken option of a data section: hash what is known
      }
      const items: Record<string, string> = depOptions.snapshot();
      if (session.parts.has(dep)) items[SIGNATURE] = await signature(dep);
      const sorted = Object.keys(items)
        .sort()
        .map((k) => [k, items[k]]);
      const token = `${dep}:${md5(JSON.stringify(sorted))}`;
      depTokens.set(dep, token);
      tokens.push(token);
    }
    computing.delete(part);
    const result = tokens.join(' ');
    signatures.set(part, result);
    return result;
  };
  for (const part of parts) await signature(part);
  return signatures;
}

function sameOptions(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}

/** buildout's check (os.path.exists): symlinks are followed, so a dangling one counts as missing. */
async function allExist(directory: string, paths: string[]): Promise<boolean> {
  for (const path of paths) {
    if (!(await pathExists(resolve(directory, path)))) return false;
  }
  return true;
}

function changedKeys(oldOptions: Record<string, string>, newOptions: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(oldOptions), ...Object.keys(newOptions)]);
  return [...keys].filter((k) => oldOptions[k] !== newOptions[k]).sort();
}

/** Runs buildout's `install` command; see the module comment. */
export async function runBuildout(options: RunOptions = {}): Promise<BuildoutResult> {
  const profile = (await loadProfile(options)) as LoadedProfile;
  try {
    return await installProfile(profile, options);
  } finally {
    await profile.close();
  }
}

async function installProfile(profile: LoadedProfile, options: RunOptions): Promise<BuildoutResult> {
  const session = profile.session;
  const logger = session.logger;
  const dirs = profile.directories;
  const selection = options.parts && options.parts.length > 0 ? [...options.parts] : undefined;
  const installParts = await profile.plan(selection);
  const uninstallMissing = selection === undefined;
  const sharedParts = (profile.buildout.peek('buildout')?.get('shared-part-list') ?? '')
    .split(/\s+/)
    .filter((entry) => isAbsolute(entry));
  session.ownedRoots = [dirs.bin, dirs.parts, dirs.eggs, dirs.developEggs, ...sharedParts];

  for (const dir of [dirs.bin, dirs.parts, dirs.developEggs, dirs.eggs]) {
    if ((await lstat(dir).catch(() => undefined)) === undefined) {
      logger.debug({ directory: dir }, 'creating directory');
      await mkdir(dir, { recursive: true });
    }
  }

  const signatures = await computeSignatures(session, installParts);
  const partOptions = (part: string): Record<string, string> => {
    const snapshot = (session.buildout.peek(part) as Options).snapshot();
    snapshot[SIGNATURE] = signatures.get(part) ?? '';
    return snapshot;
  };

  const file = session.installedFile;
  const previous = session.previous;
  const record: InstalledRecord = {
    parts: [...previous.parts],
    options: new Map(previous.options),
    extra: { ...previous.extra },
  };
  const save = async (): Promise<void> => {
    await file?.write(record);
  };
  const result: BuildoutResult = {
    directory: dirs.directory,
    installedFile: profile.installedFile,
    installedParts: [],
    installed: [],
    updated: [],
    uninstalled: [],
  };

  // Uninstall pass: previously installed parts that disappeared or changed, in reverse order.
  for (const part of [...record.parts].reverse()) {
    session.signal.throwIfAborted();
    const old = record.options.get(part) ?? {};
    let reason: 'removed' | 'changed' | 'files missing' = 'removed';
    if (installParts.includes(part)) {
      const { [INSTALLED_PATHS]: oldPaths = '', ...oldOptions } = old;
      const newOptions = partOptions(part);
      if (sameOptions(oldOptions, newOptions)) {
        const paths = oldPaths.split('\n').filter((p) => p !== '');
        if (await allExist(dirs.directory, paths)) continue;
        reason = 'files missing';
      } else {
        reason = 'changed';
        logger.debug({ part, changed: changedKeys(oldOptions, newOptions) }, 'part changed: reinstalling');
      }
    } else if (!uninstallMissing) {
      session.emit({ type: 'part', part, action: 'skipped', ...(old.recipe ? { recipe: old.recipe } : {}) });
      continue;
    }
    await uninstallPart(session, dirs, part, old, reason);
    record.parts = record.parts.filter((p) => p !== part);
    record.options.delete(part);
    result.uninstalled.push(part);
    await save();
  }

  // Install pass, in dependency order. The record lists the parts done so far in install order,
  // then the other recorded parts, so that a run that changes nothing rewrites nothing.
  const done: string[] = [];
  for (const part of installParts) {
    session.signal.throwIfAborted();
    const entry = session.parts.get(part) as PartEntry;
    const saved = partOptions(part);
    const started = Date.now();
    let paths: string[];
    if (record.parts.includes(part)) {
      session.emit({ type: 'part', part, action: 'updating', recipe: entry.spec });
      const oldPaths = (record.options.get(part)?.[INSTALLED_PATHS] ?? '').split('\n');
      let returned: string[] | undefined;
      try {
        returned = normalisePaths(
          await entry.ctx.call((ctx) =>
            (entry.recipe.update ?? entry.recipe.install).call(entry.recipe, ctx),
          ),
        );
      } catch (error) {
        session.emit({ type: 'part', part, action: 'failed', recipe: entry.spec });
        record.parts = record.parts.filter((p) => p !== part);
        record.options.delete(part);
        for (const path of oldPaths) if (path) await session.removeOwned(dirs.directory, part, path);
        await save();
        throw wrapRecipeError(error, 'Updating', part, entry.spec);
      }
      paths =
        returned === undefined ? oldPaths : [...oldPaths, ...returned.filter((p) => !oldPaths.includes(p))];
      result.updated.push(part);
      session.emit({
        type: 'part',
        part,
        action: 'updated',
        recipe: entry.spec,
        durationMs: Date.now() - started,
      });
    } else {
      session.emit({ type: 'part', part, action: 'installing', recipe: entry.spec });
      try {
        paths =
          normalisePaths(await entry.ctx.call((ctx) => entry.recipe.install.call(entry.recipe, ctx))) ?? [];
      } catch (error) {
        session.emit({ type: 'part', part, action: 'failed', recipe: entry.spec });
        throw wrapRecipeError(error, 'Installing', part, entry.spec);
      }
      result.installed.push(part);
      session.emit({
        type: 'part',
        part,
        action: 'installed',
        recipe: entry.spec,
        durationMs: Date.now() - started,
      });
    }
    const recorded = { ...saved, [INSTALLED_PATHS]: paths.join('\n') };
    done.push(part);
    const parts = [...done, ...record.parts.filter((p) => !done.includes(p))];
    const previous = record.options.get(part);
    if (!previous || !sameOptions(previous, recorded) || parts.join(' ') !== record.parts.join(' ')) {
      record.options.set(part, recorded);
      record.parts = parts;
      await save();
    }
    const unused = session.buildout.peek(part)?.unusedKeys() ?? [];
    if (unused.length > 0) {
      const message = `Unused options for ${part}: ${unused.map((k) => `'${k}'`).join(' ')}.`;
      logger.debug({ part, unused }, message);
    }
  }
  result.installedParts = [...record.parts];
  session.emit({ type: 'sources', files: localSources(profile.files, session.localFiles) });
  return result;
}

/** The local files among the profiles read and the other local files the build read, absolute, sorted. */
function localSources(profiles: readonly string[], downloads: ReadonlySet<string>): string[] {
  const files = new Set(downloads);
  for (const location of profiles) {
    const local = localPath(location);
    if (local !== undefined) files.add(resolve(local));
  }
  return [...files].sort();
}

export interface UninstallAllOptions extends Pick<
  ProfileOptions,
  'env' | 'signal' | 'logger' | 'onProgress' | 'recipes' | 'slap' | 'exec'
> {
  /** `buildout:directory` of the installation. */
  directory: string;
  /** The installed-parts record (default `<directory>/.installed.cfg`). */
  installedFile?: string;
}

/**
 * Uninstalls every part of an installed-parts record, in reverse install order, without loading the
 * profile (it may be gone or broken): each recipe's `uninstall` hook runs, then the part's recorded
 * paths are deleted. What the node does before wiping a destroyed partition. The record is kept up
 * to date after each part (and removed once empty), so an interrupted run resumes where it stopped.
 */
export async function uninstallAll(options: UninstallAllOptions): Promise<{ uninstalled: string[] }> {
  const session = new Session(options);
  const directory = resolve(options.directory);
  const dirs: BuildoutDirectories = {
    directory,
    bin: join(directory, 'bin'),
    parts: join(directory, 'parts'),
    eggs: join(directory, 'eggs'),
    developEggs: join(directory, 'develop-eggs'),
  };
  session.ownedRoots = [dirs.bin, dirs.parts, dirs.eggs, dirs.developEggs];
  const file = session.openInstalledFile(resolve(directory, options.installedFile ?? '.installed.cfg'));
  const record = await file.read();
  const uninstalled: string[] = [];
  for (const part of [...record.parts].reverse()) {
    session.signal.throwIfAborted();
    await uninstallPart(session, dirs, part, record.options.get(part) ?? {}, 'removed');
    record.parts = record.parts.filter((p) => p !== part);
    record.options.delete(part);
    uninstalled.push(part);
    await file.write(record);
  }
  return { uninstalled };
}

/**
 * The recipe whose `uninstall` hook runs for a recorded part: the record only names it, so it is
 * one the current profile loaded under that name, or one given to the run or built in — a module
 * named only by the record (which may be old or hold injected text) is never imported.
 */
function uninstallRecipe(session: Session, part: string, spec: string): Recipe | undefined {
  if (spec === '') return undefined;
  for (const entry of session.parts.values()) if (entry.spec === spec) return entry.recipe;
  try {
    const known = knownRecipe(spec, {
      section: part,
      recipes: session.options.recipes ?? {},
      builtins: BUILTIN_RECIPES,
    });
    if (known) return known.recipe;
  } catch {
    // not a recipe name: no hook
  }
  session.logger.debug(
    { part, recipe: spec },
    'no uninstall hook: the recipe is not one the profile names, built in or given to the run',
  );
  return undefined;
}

async function uninstallPart(
  session: Session,
  dirs: BuildoutDirectories,
  part: string,
  old: Record<string, string>,
  reason: 'removed' | 'changed' | 'files missing',
): Promise<void> {
  const spec = old.recipe ?? '';
  session.emit({ type: 'part', part, action: 'uninstalling', recipe: spec, reason });
  const started = Date.now();
  const recipe = uninstallRecipe(session, part, spec);
  if (recipe?.uninstall) {
    const options: Record<string, string> = {};
    for (const [k, v] of Object.entries(old)) options[k] = unescapeValue(v);
    const ctx: UninstallContext = {
      name: part,
      options,
      directories: dirs,
      logger: session.logger,
      signal: session.signal,
      slap: session.options.slap,
      exec: (file, args, execOptions = {}) =>
        session.exec(file, args, { cwd: dirs.directory, signal: session.signal, ...execOptions }),
    };
    try {
      await recipe.uninstall(ctx);
    } catch (error) {
      session.emit({ type: 'part', part, action: 'failed', recipe: spec });
      throw wrapRecipeError(error, 'Uninstalling', part, spec);
    }
  }
  for (const path of (old[INSTALLED_PATHS] ?? '').split('\n')) {
    if (path) await session.removeOwned(dirs.directory, part, path);
  }
  session.emit({ type: 'part', part, action: 'uninstalled', recipe: spec, durationMs: Date.now() - started });
}

/** Resolves every option of every section (for inspection and differential tests). */
export async function resolveProfile(options: ProfileOptions = {}): Promise<{
  parts: string[];
  sections: Record<string, Record<string, string> | { __error__: string }>;
}> {
  const profile = await loadProfile(options);
  try {
    return await resolveLoaded(profile);
  } finally {
    await profile.close();
  }
}

async function resolveLoaded(profile: Profile): Promise<{
  parts: string[];
  sections: Record<string, Record<string, string> | { __error__: string }>;
}> {
  const parts = await profile.plan();
  const sections: Record<string, Record<string, string> | { __error__: string }> = {};
  for (const name of profile.buildout.sectionNames()) {
    try {
      const section = await profile.section(name);
      await profile.buildout.resolveAll(section);
      sections[name] = Object.fromEntries(section.entries());
    } catch (error) {
      sections[name] = { __error__: error instanceof Error ? error.message : String(error) };
    }
  }
  return { parts, sections };
}

/**
 * The recipe interface (profiles.md §1.9, docs/recipes.md).
 *
 * A recipe is an object with `install` and optionally `init`, `update`, `uninstall`:
 *
 * - `init(ctx)` runs when the part is *initialised* — while the profile is being resolved, in
 *   dependency order, before anything is installed (buildout's recipe constructor). It may read its
 *   own options (`ctx.options.get`, already substituted), read other sections
 *   (`await ctx.section('x')`, which initialises them — their `init` included — and records a
 *   dependency), and set options (`ctx.options.set('port', '8080')`) that other sections then read
 *   through `${part:port}`. Network calls belong here when others need their result
 *   (slapconfiguration, request, free_port).
 * - `install(ctx)` creates what the part owns and returns those paths (a path, an iterable of paths,
 *   or nothing). They are recorded and deleted when the part is uninstalled (files removed,
 *   directories removed recursively). Paths registered with `ctx.created()` are deleted if install
 *   throws.
 * - `update(ctx)` runs instead of `install` when the part is already installed with unchanged
 *   options and signature; returned paths are added to the recorded ones. Without `update`,
 *   `install` runs again (buildout's rule). A re-run where nothing changed must do nothing here.
 * - `uninstall(uctx)` runs before the recorded paths are deleted, with the options recorded at
 *   install time.
 *
 * The part's signature (changed → uninstall + install) is computed after `init` from its resolved
 * options and those of the sections it depends on; options marked volatile are left out.
 */
import type { ErrorCode, SlapError } from '../core/errors.ts';
import type { DownloadResult } from '../lib/download.ts';
import type { ExecOptions, ExecResult } from '../lib/exec.ts';
import type { Logger } from '../lib/logger.ts';
import type { Assignment } from './loader.ts';
import type { PythonBridge } from './python-bridge/bridge.ts';
import type { Options } from './resolver.ts';

/** What `install`/`update` may return. */
export type InstallResult = string | Iterable<string> | void | undefined | null;

/** Absolute paths of the `[buildout]` directories. */
export interface BuildoutDirectories {
  /** `buildout:directory` (the working directory of recipes). */
  readonly directory: string;
  readonly bin: string;
  readonly parts: string;
  readonly eggs: string;
  readonly developEggs: string;
}

/** The `exec` helper's signature (`src/lib/exec.ts` `execFile`); injectable so tests can count spawns. */
export type ExecFunction = (
  file: string,
  args: readonly string[],
  options?: ExecOptions,
) => Promise<ExecResult>;

/**
 * Node-provided facilities for SlapOS recipes (master connection, partition, software release…).
 * The buildout engine only carries it; the node layer decides its content.
 */
export interface SlapContext {
  readonly [key: string]: unknown;
}

export interface RecipeDownloadOptions {
  md5sum?: string | undefined;
  sha256sum?: string | undefined;
  /** Where the file must end up (default: the cached copy or a temporary file). */
  destination?: string | undefined;
  /** Tried when `url` cannot be fetched (not on a checksum mismatch), as the fork's `alternate_url`. */
  alternateUrl?: string | undefined;
  /** This download's offline mode instead of `buildout:offline` (a part's `offline` option). */
  offline?: boolean | undefined;
}

/** Options of a nested run started by a recipe (switch-softwaretype). */
export interface NestedRunOptions {
  configFile: string;
  /** `section:option=value` strings, or parsed assignments (any option name, value kept as is). */
  assignments?: readonly (string | Assignment)[];
  /** State file of the nested run (e.g. `.installed-switch-softwaretype.cfg`). */
  installedFile?: string;
}

export interface NestedRunResult {
  installedParts: string[];
}

export interface RecipeContext {
  /** The part (section) name. */
  readonly name: string;
  /** The `recipe` option as written (`slapos.recipe.template:jinja2`). */
  readonly recipe: string;
  /** This section's options: `get`/`require`/`getValue`/`has`/`set`/`delete`/`keys`/`markVolatile`. */
  readonly options: Options;
  /** The `[buildout]` section. */
  readonly buildout: Options;
  /** Another section, initialised if needed (its recipe's `init` included); recorded as a dependency. */
  section(name: string): Promise<Options>;
  /**
   * Another section, initialised now with `preset` options replacing its own (literal values),
   * before its substitutions and its recipe's init; recorded as a dependency. An error if that
   * section is already initialised (publish-early).
   */
  sectionWith(name: string, preset: Readonly<Record<string, string>>): Promise<Options>;
  readonly directories: BuildoutDirectories;
  /** `buildout:offline`: no network downloads (cached and local files still work). */
  readonly offline: boolean;
  /** `buildout:newest`. */
  readonly newest: boolean;
  readonly logger: Logger;
  /** Announces a build step (progress event). */
  step(step: string): void;
  /** Reports one line of output (progress event). */
  output(stream: 'stdout' | 'stderr', line: string): void;
  /** A warning shown to the person running buildout. */
  warn(message: string): void;
  /** Downloads with this run's cache (`buildout:download-cache`), offline mode, signal and progress. */
  download(url: string, options?: RecipeDownloadOptions): Promise<DownloadResult>;
  /**
   * Runs a process with the run's exec helper: cwd defaults to `buildout:directory`, the signal is
   * the run's, output lines are reported as progress events unless `onOutput` is given.
   */
  exec(file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  readonly signal: AbortSignal;
  /**
   * The run's environment (`RunOptions.env`, default this process's): what shell commands and
   * build steps see, as buildout's subprocesses inherit its environment. The node passes a clean
   * one (PATH, LANG, HOME = the partition or software directory), as slapgrid cleans buildout's.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Node-provided facilities (undefined for plain `slapos buildout` runs). */
  readonly slap: SlapContext | undefined;
  /** The options recorded at this part's last install (undefined if never installed). */
  readonly previous: Readonly<Record<string, string>> | undefined;
  /**
   * Expands `${section:option}` references in `text` as if it were an option value of this part
   * (referenced sections are initialised and become dependencies). With `dollarEscape` (default
   * true) `$$` stands for `$`, so `$${a:b}` gives the literal `${a:b}` (slapos.recipe.template's rule).
   * `file` names the text's origin in error messages.
   */
  expand(text: string, options?: { dollarEscape?: boolean; file?: string }): Promise<string>;
  /** Scratch space kept from `init` to `install`/`update`. */
  readonly state: Map<string, unknown>;
  /** Registers paths to delete if the current `install`/`update` throws. */
  created(...paths: string[]): void;
  /**
   * The run's Python bridge (python-bridge/), for profile Python code: started on first use, closed
   * at the end of the run. Undefined when `python3` is not on the run's PATH.
   */
  python(): PythonBridge | undefined;
  /** Runs a nested buildout that inherits this run's logger, exec, signal, recipes, slap and offline mode. */
  runBuildout(options: NestedRunOptions): Promise<NestedRunResult>;
  /** A SlapError naming this part, its recipe and (optionally) the option at fault. */
  error(
    message: string,
    options?: { option?: string; code?: ErrorCode; hint?: string; cause?: unknown },
  ): SlapError;
}

export interface UninstallContext {
  readonly name: string;
  /** The options recorded when the part was installed (`$${` unescaped). */
  readonly options: Readonly<Record<string, string>>;
  readonly directories: BuildoutDirectories;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly slap: SlapContext | undefined;
  exec(file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

export interface Recipe {
  /** Part of the signature of parts made with it: bump it to reinstall them after a behaviour change. */
  readonly version?: string;
  init?(ctx: RecipeContext): Promise<void> | void;
  install(ctx: RecipeContext): Promise<InstallResult> | InstallResult;
  update?(ctx: RecipeContext): Promise<InstallResult> | InstallResult;
  uninstall?(ctx: UninstallContext): Promise<void> | void;
}

/** Recipes by name: `"dist"` (default entry) or `"dist:entry"`, e.g. `"plone.recipe.command"`. */
export type RecipeMap = Readonly<Record<string, Recipe>>;

export function isRecipe(value: unknown): value is Recipe {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { install?: unknown }).install === 'function'
  );
}

/** Where a person learns to write a recipe of their own (this project's documentation). */
export const WRITING_RECIPES_DOC = 'docs/recipes.md';

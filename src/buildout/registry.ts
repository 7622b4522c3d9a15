/**
 * Recipe resolution (profiles.md §1.9): `recipe = DIST[:ENTRY]` → a native implementation. Order:
 * recipes given to the run, the built-in ones, recipes known to need Python (clear error), then
 * custom JavaScript recipes: `./path.mjs[:entry]` (relative to the profile file that set `recipe`,
 * else to `buildout:directory`) or an npm package name found in a `node_modules` above
 * `buildout:directory`. Anything else is an error naming the recipe and the section.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SlapError } from '../core/errors.ts';
import { isRecipe, WRITING_RECIPES_DOC, type Recipe, type RecipeMap } from './recipe.ts';

export interface RecipeSpec {
  /** The distribution (`slapos.recipe.template`) or module path/package as written. */
  dist: string;
  entry: string;
}

export interface ResolvedRecipe {
  recipe: Recipe;
  /** Stable identity used in part signatures. */
  id: string;
  /** The local module file it was loaded from (a `./path.mjs` recipe): one of the build's sources. */
  file?: string;
}

/** Splits `DIST[==VERSION][:ENTRY]`; exactly one colon is allowed. */
export function parseRecipeSpec(spec: string, section: string): RecipeSpec {
  const parts = spec.trim().split(':');
  if (parts.length > 2) {
    throw new SlapError(
      'SLAP_ERR_PROFILE',
      `[${section}] recipe = ${spec}: a recipe is DIST or DIST:ENTRY (one colon at most)`,
      {
        details: { section, option: 'recipe' },
      },
    );
  }
  const dist = (parts[0] ?? '').trim();
  const entry = (parts[1] ?? 'default').trim() || 'default';
  return { dist, entry };
}

/** PEP 503 name normalisation, without any version specifier. */
export function normaliseDist(dist: string): string {
  return dist
    .split(/[\s<>=!~;[(]/)[0]!
    .toLowerCase()
    .replace(/[-_.]+/g, '-');
}

export function recipeKey(spec: RecipeSpec): string {
  return `${normaliseDist(spec.dist)}:${spec.entry}`;
}

/** Recipes that exist in SlapOS but cannot run here, with the reason shown to the person. */
const UNSUPPORTED: Record<string, string> = {
  'zc-recipe-egg': 'it installs Python eggs, which this engine does not do',
  'slapos-cookbook': 'this slapos.cookbook recipe is not implemented by this engine (most need Python code)',
  'hexagonit-recipe-download': 'it is obsolete: use slapos.recipe.build:download or :download-unpacked',
};

function unsupportedReason(spec: RecipeSpec): string | undefined {
  const dist = normaliseDist(spec.dist);
  return UNSUPPORTED[`${dist}:${spec.entry}`] ?? UNSUPPORTED[dist];
}

function isModulePath(dist: string): boolean {
  return dist.startsWith('./') || dist.startsWith('../') || isAbsolute(dist) || /\.(m?js|cjs)$/.test(dist);
}

/** Finds the entry file of npm package `name` in a node_modules at or above `from`. */
function findPackage(name: string, from: string): string | undefined {
  if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name)) return undefined;
  let dir = resolve(from);
  for (;;) {
    const pkgDir = join(dir, 'node_modules', name);
    const manifest = join(pkgDir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
        exports?: unknown;
        module?: string;
        main?: string;
      };
      const entry = exportEntry(pkg.exports) ?? pkg.module ?? pkg.main ?? 'index.js';
      return join(pkgDir, entry);
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function exportEntry(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (exports === null || typeof exports !== 'object') return undefined;
  const record = exports as Record<string, unknown>;
  const root = '.' in record ? record['.'] : record;
  if (typeof root === 'string') return root;
  if (root !== null && typeof root === 'object') {
    for (const condition of ['import', 'node', 'default', 'require']) {
      const target = exportEntry((root as Record<string, unknown>)[condition]);
      if (target) return target;
    }
  }
  return undefined;
}

/**
 * ESM keeps a module once imported, for the life of the process: an edited recipe file would not
 * take effect in a long-running agent. Imported through a URL carrying its content's hash, an edited
 * file is a new module, and an unchanged one is the module already loaded (only an edit costs
 * memory). Modules the recipe file imports itself are loaded once, as usual.
 */
function moduleUrl(file: string, contentHash: string): string {
  const url = pathToFileURL(file);
  url.searchParams.set('content', contentHash);
  return url.href;
}

async function loadModuleRecipe(file: string, spec: RecipeSpec, section: string): Promise<ResolvedRecipe> {
  let mod: Record<string, unknown>;
  let contentHash: string;
  try {
    contentHash = createHash('md5').update(readFileSync(file)).digest('hex');
    mod = (await import(moduleUrl(file, contentHash))) as Record<string, unknown>;
  } catch (error) {
    throw new SlapError(
      'SLAP_ERR_PROFILE',
      `[${section}] recipe = ${spec.dist}: cannot load ${file}: ${(error as Error).message}`,
      {
        details: { section, option: 'recipe' },
        cause: error,
      },
    );
  }
  const candidates =
    spec.entry === 'default'
      ? [mod.default, mod]
      : [mod[spec.entry], (mod.recipes as Record<string, unknown> | undefined)?.[spec.entry]];
  const recipe = candidates.find(isRecipe);
  if (!recipe) {
    throw new SlapError(
      'SLAP_ERR_PROFILE',
      `[${section}] recipe = ${spec.dist}${spec.entry === 'default' ? '' : `:${spec.entry}`}: ${file} does not export a recipe${
        spec.entry === 'default'
          ? ' (an `install` function, or a default export with one)'
          : ` named "${spec.entry}"`
      }`,
      { details: { section, option: 'recipe' }, hint: `See ${WRITING_RECIPES_DOC}.` },
    );
  }
  // Without a version, the file's content identifies the recipe.
  return { recipe, id: `${file}:${spec.entry}-${recipe.version ?? contentHash}` };
}

export interface ResolveRecipeOptions {
  section: string;
  /** Recipes given to the run (win over built-ins). */
  recipes: RecipeMap;
  builtins: RecipeMap;
  /** Directory of the profile file that set `recipe` (for relative module paths), if local. */
  profileDir: string | undefined;
  buildoutDirectory: string;
}

function indexByKey(map: RecipeMap): Map<string, [string, Recipe]> {
  const index = new Map<string, [string, Recipe]>();
  for (const [name, recipe] of Object.entries(map))
    index.set(recipeKey(parseRecipeSpec(name, '')), [name, recipe]);
  return index;
}

const builtinIndexes = new WeakMap<RecipeMap, Map<string, [string, Recipe]>>();

function lookup(map: RecipeMap, key: string): [string, Recipe] | undefined {
  let index = builtinIndexes.get(map);
  if (!index) builtinIndexes.set(map, (index = indexByKey(map)));
  return index.get(key);
}

/**
 * The recipe `text` names among the recipes given to the run and the built-in ones, or undefined:
 * never imports a module (for names that do not come from a profile, such as an installed record's).
 */
export function knownRecipe(
  text: string,
  options: Pick<ResolveRecipeOptions, 'section' | 'recipes' | 'builtins'>,
): ResolvedRecipe | undefined {
  const key = recipeKey(parseRecipeSpec(text, options.section));
  const found = lookup(options.recipes, key) ?? lookup(options.builtins, key);
  return found ? { recipe: found[1], id: `${found[0]}-${found[1].version ?? '0'}` } : undefined;
}

export async function resolveRecipe(text: string, options: ResolveRecipeOptions): Promise<ResolvedRecipe> {
  const spec = parseRecipeSpec(text, options.section);
  const found = knownRecipe(text, options);
  if (found) return found;
  const reason = unsupportedReason(spec);
  if (reason) {
    throw new SlapError(
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      `[${options.section}] recipe = ${text}: unsupported recipe: ${reason}`,
      {
        details: { section: options.section, option: 'recipe', recipe: text },
        hint: `Use a supported recipe, or write one in JavaScript (${WRITING_RECIPES_DOC}).`,
      },
    );
  }
  if (isModulePath(spec.dist)) {
    const base = spec.dist.startsWith('.')
      ? (options.profileDir ?? options.buildoutDirectory)
      : options.buildoutDirectory;
    const file = resolve(base, spec.dist);
    if (!existsSync(file)) {
      throw new SlapError(
        'SLAP_ERR_PROFILE',
        `[${options.section}] recipe = ${text}: no such recipe module ${file}`,
        {
          details: { section: options.section, option: 'recipe' },
        },
      );
    }
    return { ...(await loadModuleRecipe(file, spec, options.section)), file };
  }
  const packageFile = findPackage(spec.dist, options.buildoutDirectory);
  if (packageFile) return loadModuleRecipe(packageFile, spec, options.section);
  const known = [...Object.keys(options.builtins)].sort().join(', ');
  throw new SlapError(
    'SLAP_ERR_RECIPE_UNSUPPORTED',
    `[${options.section}] recipe = ${text}: unknown recipe`,
    {
      details: { section: options.section, option: 'recipe', recipe: text },
      hint: `Built-in recipes: ${known}. Custom recipes: a ./path.mjs or an npm package exporting install() (${WRITING_RECIPES_DOC}).`,
    },
  );
}

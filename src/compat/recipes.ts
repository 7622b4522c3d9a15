/**
 * How the engine would run each section of a resolved profile: natively (a recipe of the engine's
 * registry), through the Python bridge (`slapos.recipe.build` with `init`/`install`/`update` code,
 * or a `!py!` value that is code rather than a literal), or not at all. Static: `<=` macros are
 * expanded, nothing is substituted or initialised.
 */
import type { RawConfig } from '../buildout/parser.ts';
import { isSerialised } from '../buildout/py-value.ts';
import { knownRecipe, normaliseDist, parseRecipeSpec } from '../buildout/registry.ts';
import { deserialise, expandMacros } from '../buildout/resolver.ts';
import type { RecipeMap } from '../buildout/recipe.ts';

export type Runner = 'native' | 'bridge' | 'blocked';

export interface SectionRecipe {
  section: string;
  /** The recipe as written (`dist[:entry]`, trimmed). */
  recipe: string;
  runner: Runner;
  /** Why the section needs the bridge or is blocked. */
  reason?: string;
}

const PYTHON_CODE_OPTIONS = ['init', 'install', 'update'];

/**
 * True if `text` is a `!py!` value this engine cannot read as a literal (Python code). `${…}`
 * references are replaced by `0` first: they are substituted before deserialisation, and a
 * literal stays a literal whether the reference sits inside a string or stands for a number.
 */
export function isPythonCodeValue(text: string): boolean {
  if (!isSerialised(text)) return false;
  try {
    deserialise(text.replace(/\$\{[^}]*\}/g, '0'), 'compat');
    return false;
  } catch {
    return true;
  }
}

function isBuildDefault(recipe: string): boolean {
  const spec = parseRecipeSpec(recipe, '');
  return normaliseDist(spec.dist) === 'slapos-recipe-build' && spec.entry === 'default';
}

/** One entry per section that has a `recipe` (after macro expansion), in profile order. */
export function classifyRecipes(raw: RawConfig, builtins: RecipeMap): SectionRecipe[] {
  const result: SectionRecipe[] = [];
  for (const name of raw.keys()) {
    if (name === 'buildout') continue;
    let section;
    try {
      section = expandMacros(raw, name);
    } catch (error) {
      result.push({ section: name, recipe: '?', runner: 'blocked', reason: (error as Error).message });
      continue;
    }
    const recipe = section.get('recipe')?.value.trim();
    // `recipe =` (empty, often to cancel a macro's) is no recipe, as for the engine.
    if (!recipe) continue;
    if (recipe.includes('${')) {
      result.push({ section: name, recipe, runner: 'blocked', reason: 'the recipe name is a substitution' });
      continue;
    }
    let known;
    try {
      known = knownRecipe(recipe, { section: name, recipes: {}, builtins });
    } catch (error) {
      result.push({ section: name, recipe, runner: 'blocked', reason: (error as Error).message });
      continue;
    }
    const code = PYTHON_CODE_OPTIONS.filter((key) => section.has(key));
    const pyCode = [...section].filter(([, option]) => isPythonCodeValue(option.value)).map(([key]) => key);
    if (!known) result.push({ section: name, recipe, runner: 'blocked', reason: 'not in the engine' });
    else if (isBuildDefault(recipe) && code.length > 0)
      result.push({ section: name, recipe, runner: 'bridge', reason: `Python ${code.join('/')} code` });
    else if (pyCode.length > 0)
      result.push({ section: name, recipe, runner: 'bridge', reason: `!py! code in ${pyCode.join(', ')}` });
    else result.push({ section: name, recipe, runner: 'native' });
  }
  return result;
}

/** A profile's verdict: blocked if any section is, else bridge if any section needs it, else native. */
export function profileRunner(sections: readonly SectionRecipe[]): Runner {
  if (sections.some((s) => s.runner === 'blocked')) return 'blocked';
  if (sections.some((s) => s.runner === 'bridge')) return 'bridge';
  return 'native';
}

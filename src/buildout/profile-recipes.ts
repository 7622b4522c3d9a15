/**
 * The recipes a profile names, found without running it: the profile and its `extends` are loaded,
 * each section's `<=` macros expanded, and its `recipe` read, with `${section:option}` references
 * replaced by the referenced raw values where those need no recipe to be known. Whether the engine
 * runs a recipe natively is the registry's answer (built-in recipes). The node uses it to decide
 * whether an instance profile can run on the native engine (`[slapos] instance_buildout = auto`).
 */
import { SlapError } from '../core/errors.ts';
import { loadRawProfile, type LoadOptions } from './loader.ts';
import type { RawConfig } from './parser.ts';
import { knownRecipe } from './registry.ts';
import { BUILTIN_RECIPES } from './recipes/index.ts';
import { expandMacros } from './resolver.ts';

export interface ProfileRecipe {
  section: string;
  /** The recipe as far as it can be known statically (references replaced when possible). */
  recipe: string;
  /** True if the native engine has this recipe built in. */
  native: boolean;
}

const REFERENCE = /\$\{([^:}]*):([^}]*)\}/g;
const MAX_DEPTH = 8;

/** The raw value of `section:option` with its own references replaced, or undefined if not static. */
function staticValue(raw: RawConfig, section: string, option: string, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const data = raw.get(section);
  if (!data) return undefined;
  let value: string | undefined;
  try {
    value = expandMacros(raw, section, data).get(option)?.value;
  } catch (error) {
    if (error instanceof SlapError) return undefined;
    throw error;
  }
  if (value === undefined || value.includes('$${')) return undefined;
  let unknown = false;
  const replaced = value.replace(REFERENCE, (_whole, refSection: string, refOption: string) => {
    const found = staticValue(raw, refSection || section, refOption, depth + 1);
    if (found === undefined) unknown = true;
    return found ?? '';
  });
  return unknown || replaced.includes('${') ? undefined : replaced;
}

function isBuiltin(recipe: string, section: string): boolean {
  if (recipe.includes('${')) return false;
  try {
    return knownRecipe(recipe, { section, recipes: {}, builtins: BUILTIN_RECIPES }) !== undefined;
  } catch (error) {
    if (error instanceof SlapError) return false; // not a recipe name (two colons…)
    throw error;
  }
}

/** Every section with a `recipe` option, in profile order, and whether the engine runs it natively. */
export function rawProfileRecipes(raw: RawConfig): ProfileRecipe[] {
  const found: ProfileRecipe[] = [];
  for (const [section, data] of raw) {
    if (section === 'buildout') continue;
    let written: string | undefined;
    try {
      written = expandMacros(raw, section, data).get('recipe')?.value;
    } catch (error) {
      if (!(error instanceof SlapError)) throw error;
      found.push({ section, recipe: '', native: false });
      continue;
    }
    if (written === undefined) continue;
    const recipe = (staticValue(raw, section, 'recipe', 0) ?? written).trim();
    if (recipe === '') continue;
    found.push({ section, recipe, native: isBuiltin(recipe, section) });
  }
  return found;
}

/** Loads a profile (with its extends) and lists its recipes; see rawProfileRecipes. */
export async function profileRecipes(options: LoadOptions): Promise<ProfileRecipe[]> {
  return rawProfileRecipes((await loadRawProfile(options)).raw);
}

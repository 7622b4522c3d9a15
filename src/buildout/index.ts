/**
 * The buildout profile engine (profiles.md §1, §3): `runBuildout` installs a profile's parts,
 * `loadProfile` resolves one without installing. See README "Profile engine" and docs/recipes.md.
 */
export { loadProfile, resolveProfile, runBuildout, uninstallAll } from './engine.ts';
export type { BuildoutResult, Profile, ProfileOptions, RunOptions, UninstallAllOptions } from './engine.ts';
export { parseAssignment } from './loader.ts';
export type { Assignment } from './loader.ts';
export type { BuildoutEvent, PartAction, ProgressListener } from './progress.ts';
export type {
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
export { Buildout, Options } from './resolver.ts';
export { BUILTIN_RECIPES } from './recipes/index.ts';
export { PyTuple, deserialise, pyRepr, serialise, type PyValue } from './py-value.ts';
export { parseProfile, type RawConfig, type RawOption, type RawSection, type Source } from './parser.ts';

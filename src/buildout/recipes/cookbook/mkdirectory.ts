/**
 * `slapos.cookbook:mkdirectory` (profiles.md §3.11): every option but `recipe` and `mode` is a
 * directory to create (parents too), in sorted order of the paths; `mode` is octal (default 0777,
 * minus the umask). Directories are never removed (they hold data): the part owns nothing. Update
 * creates the missing ones again.
 */
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { parseMode } from '../common.ts';

const NOT_DIRECTORIES = new Set(['recipe', 'mode', '_profile_base_location_']);

async function createDirectories(ctx: RecipeContext): Promise<string[]> {
  const mode = parseMode(ctx) ?? 0o777;
  const paths = ctx.options
    .keys()
    .filter((key) => !NOT_DIRECTORIES.has(key))
    .map((key) => ctx.options.get(key) ?? '')
    .filter((path) => path !== '')
    .map((path) => resolve(ctx.directories.directory, path))
    .sort();
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined) await mkdir(path, { recursive: true, mode });
    else if (!info.isDirectory()) throw ctx.error(`${path} exists but is not a directory`);
  }
  return [];
}

export const mkdirectory: Recipe = {
  version: '1',
  install: createDirectories,
  update: createDirectories,
};

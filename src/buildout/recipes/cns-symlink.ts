/**
 * `cns.recipe.symlink` (the egg SlapOS profiles use for `symlink = SOURCE = LINK` lines):
 *
 * - `symlink`: one `source = link` per line; `source =` or `source` alone links into
 *   `symlink_target`. A relative source is taken in `symlink_base`, and then a link naming an
 *   existing directory gets the source's last component appended. `~` is expanded (HOME).
 * - `symlink_target`: the common link location, created (with parents) when `autocreate` is set,
 *   else it must exist; `symlink_base` must be an existing directory.
 *
 * A link path that already exists is kept as it is (and recorded when it is a symlink); a missing
 * source is skipped with a warning. The original's bulk modes (`bulk`, `eggs`, `develop`,
 * `ignore`) are refused. No update method, as the original: install runs again, which keeps what exists.
 */
import { existsSync, lstatSync, statSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../recipe.ts';
import { isTrue, withoutNul } from './common.ts';

const BULK_OPTIONS = ['bulk', 'eggs', 'develop', 'ignore'];

function expandUser(ctx: RecipeContext, path: string): string {
  if (path !== '~' && !path.startsWith('~/')) return path;
  return (ctx.env.HOME || homedir()) + path.slice(1);
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** The (source, link) pairs of the `symlink` lines, in order, without duplicates. */
function pairs(ctx: RecipeContext, base: string | undefined, target: string | undefined): [string, string][] {
  const result = new Map<string, [string, string]>();
  for (const line of (ctx.options.get('symlink') ?? '').split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split('=');
    if (fields.length > 2)
      throw ctx.error(`expected "source = link", got ${JSON.stringify(line)}`, {
        option: 'symlink',
        code: 'SLAP_ERR_PROFILE',
      });
    let source = expandUser(ctx, (fields[0] as string).trim());
    let link = fields[1]?.trim() || target;
    if (source === '' || link === undefined)
      throw ctx.error(`${JSON.stringify(line)} names no link and there is no symlink_target`, {
        option: 'symlink',
        code: 'SLAP_ERR_PROFILE',
      });
    if (base !== undefined && !isAbsolute(source)) {
      source = join(base, source);
      if (isDirectory(resolve(ctx.directories.directory, link))) link = join(link, basename(source));
    }
    const absolute = resolve(ctx.directories.directory, link);
    result.set(`${source}\0${absolute}`, [source, absolute]);
  }
  return [...result.values()];
}

async function install(ctx: RecipeContext): Promise<string[]> {
  for (const option of BULK_OPTIONS) {
    if (ctx.options.get(option))
      throw ctx.error(`"${option}" (bulk linking) is not supported`, {
        option,
        code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
        hint: 'List each link in "symlink" as "source = link".',
      });
  }
  for (const option of ['symlink', 'symlink_base', 'symlink_target'])
    withoutNul(ctx, option, ctx.options.get(option) ?? '');
  const baseOption = ctx.options.get('symlink_base');
  const base = baseOption ? resolve(ctx.directories.directory, expandUser(ctx, baseOption)) : undefined;
  if (base !== undefined && !isDirectory(base))
    throw ctx.error(`Source directory ${base} does not exist.`, {
      option: 'symlink_base',
      code: 'SLAP_ERR_PROFILE',
    });
  const targetOption = ctx.options.get('symlink_target');
  const target = targetOption ? resolve(ctx.directories.directory, expandUser(ctx, targetOption)) : undefined;
  if (target !== undefined && !isDirectory(target)) {
    if (!isTrue(ctx.options.get('autocreate')))
      throw ctx.error(`Target directory ${target} does not exist.`, {
        option: 'symlink_target',
        code: 'SLAP_ERR_PROFILE',
        hint: 'Set "autocreate = true" to create it.',
      });
    await mkdir(target, { recursive: true });
  }
  if (!ctx.options.get('symlink')) {
    if (base !== undefined && target === undefined)
      throw ctx.error("Provide at least 'symlink', or 'symlink_target' with 'symlink_base'", {
        option: 'symlink',
        code: 'SLAP_ERR_PROFILE',
      });
    if (base !== undefined)
      throw ctx.error('linking every item of symlink_base (bulk linking) is not supported', {
        option: 'symlink_base',
        code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
      });
  }
  const links: string[] = [];
  for (const [source, link] of pairs(ctx, base, target)) {
    const existing = lstatSync(link, { throwIfNoEntry: false });
    if (existing !== undefined) {
      // Kept as it is; only a symlink is ours to remove at uninstall, never a directory or file.
      if (existing.isSymbolicLink()) links.push(link);
      else ctx.logger.debug({ part: ctx.name, link }, 'symlink target already exists');
    } else if (!existsSync(resolve(ctx.directories.directory, source))) {
      ctx.warn(`Symlink source not found! ${source}`);
    } else {
      ctx.created(link);
      await symlink(source, link);
      links.push(link);
    }
  }
  return links;
}

export const cnsRecipeSymlink: Recipe = { version: '1', install };

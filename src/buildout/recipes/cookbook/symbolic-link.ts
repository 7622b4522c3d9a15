/**
 * `slapos.cookbook:symbolic.link`: for each whitespace-separated path of `link-binary`, a symlink
 * named after its last component in `target-directory`, pointing at the path as written. An
 * existing symlink there is replaced; anything else there is an error. Update does the same.
 */
import { lstat, symlink, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { withoutNul, words } from '../common.ts';

async function link(ctx: RecipeContext): Promise<string[]> {
  const directory = resolve(
    ctx.directories.directory,
    withoutNul(ctx, 'target-directory', ctx.options.require('target-directory')),
  );
  const links: string[] = [];
  for (const target of words(withoutNul(ctx, 'link-binary', ctx.options.require('link-binary')))) {
    const name = basename(target);
    if (name === '' || name === '.' || name === '..' || target.endsWith('/'))
      throw ctx.error(`cannot name a link after ${JSON.stringify(target)}`, {
        option: 'link-binary',
        code: 'SLAP_ERR_PROFILE',
      });
    const path = join(directory, name);
    const existing = await lstat(path).catch(() => undefined);
    if (existing !== undefined) {
      if (!existing.isSymbolicLink())
        throw ctx.error(`Target ${JSON.stringify(path)} already exists but is not a link`, {
          option: 'link-binary',
          code: 'SLAP_ERR_PROFILE',
        });
      await unlink(path);
    }
    ctx.created(path);
    await symlink(target, path);
    ctx.logger.debug({ part: ctx.name, link: path, target }, 'created link');
    links.push(path);
  }
  return links;
}

export const symbolicLink: Recipe = { version: '1', install: link, update: link };

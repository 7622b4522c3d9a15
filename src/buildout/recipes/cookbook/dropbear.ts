/**
 * `slapos.cookbook:dropbear.add_authorized_key`: `<home>/.ssh` (created 0700 if missing) and
 * `<home>/.ssh/authorized_keys` holding exactly `key`, replaced atomically when it differs.
 * Update is install; the part owns the file.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';

async function install(ctx: RecipeContext): Promise<string[]> {
  const ssh = join(resolve(ctx.directories.directory, ctx.options.require('home')), '.ssh');
  await mkdir(ssh, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const file = join(ssh, 'authorized_keys');
  await writeIfChanged(file, ctx.options.require('key'), undefined);
  return [file];
}

export const dropbearAddAuthorizedKey: Recipe = { version: '1', install, update: install };

/**
 * `slapos.cookbook:copyfilelist`: copies each file of `file-list` (whitespace-separated paths)
 * into `target-directory` under its own name, replacing what is there; content and permission
 * bits are copied (Python's `shutil.copy`). The part owns the copies. No update hook: a re-run
 * copies again (the original has none either).
 */
import { chmod, copyFile, rm, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Recipe } from '../../recipe.ts';
import { words } from '../common.ts';

export const copyfilelist: Recipe = {
  version: '1',
  async install(ctx) {
    const target = resolve(ctx.directories.directory, ctx.options.require('target-directory'));
    const copies: string[] = [];
    for (const file of words(ctx.options.require('file-list'))) {
      const source = resolve(ctx.directories.directory, file);
      const destination = resolve(target, basename(source));
      await rm(destination, { force: true });
      ctx.created(destination);
      try {
        await copyFile(source, destination);
        await chmod(destination, (await stat(source)).mode & 0o7777);
      } catch (error) {
        throw ctx.error(`cannot copy ${source} to ${destination}: ${(error as Error).message}`, {
          option: 'file-list',
          code: 'SLAP_ERR_RECIPE_FAILED',
          cause: error,
        });
      }
      copies.push(destination);
    }
    return copies;
  },
};

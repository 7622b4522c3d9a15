/**
 * `slapos.cookbook:readline`: init sets `readline` to the first line of `storage-path` (with its
 * line break, as Python's `readline()`; '' for an empty file), or to `when-absent` when the file
 * does not exist. Without the file and without `when-absent` the option is Python's None and
 * install fails ("Unable to read the file content."). Nothing is owned.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Recipe } from '../../recipe.ts';

/** Python's `f.readline()` in text mode: up to and including the first `\n` (universal newlines). */
export function firstLine(text: string): string {
  const match = /^[^\r\n]*(\r\n|\r|\n)?/.exec(text);
  const line = match?.[0] ?? '';
  return line.replace(/(\r\n|\r)$/, '\n');
}

export const readline: Recipe = {
  version: '1',
  init(ctx) {
    const path = resolve(ctx.directories.directory, ctx.options.require('storage-path'));
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        throw ctx.error(`cannot read ${path}: ${(error as Error).message}`, { option: 'storage-path' });
    }
    const value = text === undefined ? ctx.options.get('when-absent') : firstLine(text);
    ctx.options.set('readline', value ?? null);
    ctx.state.set('readable', value !== undefined);
  },
  install(ctx) {
    if (ctx.state.get('readable') !== true)
      throw ctx.error('Unable to read the file content.', {
        option: 'storage-path',
        code: 'SLAP_ERR_RECIPE_FAILED',
      });
    return [];
  },
  update() {
    return [];
  },
};

/**
 * `slapos.cookbook:equeue`: `wrapper` (0700, librecipe's createWrapper) exec-ing `equeue-binary
 * --database <database> --logfile <log> --lockfile <lockfile without .lock>
 * [--takeover-triggered-file-path <p>] [--loglevel <l>] <socket>`. `lockfile` must end with
 * `.lock` (equeue adds it), checked during init as the original. Update is install; the part
 * owns the wrapper.
 */
import { resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';
import { execWrapperScript } from './shell.ts';

async function install(ctx: RecipeContext): Promise<string[]> {
  const { options } = ctx;
  const args = [
    options.require('equeue-binary'),
    '--database',
    options.require('database'),
    '--logfile',
    options.require('log'),
    '--lockfile',
    options.require('lockfile').slice(0, -'.lock'.length),
  ];
  const takeover = options.get('takeover-triggered-file-path');
  if (takeover !== undefined) args.push('--takeover-triggered-file-path', takeover);
  const loglevel = options.get('loglevel');
  if (loglevel !== undefined) args.push('--loglevel', loglevel);
  args.push(options.require('socket'));
  const path = resolve(ctx.directories.directory, options.require('wrapper'));
  ctx.created(path);
  await writeIfChanged(path, execWrapperScript(args), 0o700);
  return [path];
}

export const equeue: Recipe = {
  version: '1',
  init(ctx) {
    if (!ctx.options.require('lockfile').endsWith('.lock'))
      throw ctx.error('lockfile parameter must end with .lock as equeue process will add .lock suffix', {
        option: 'lockfile',
        code: 'SLAP_ERR_PROFILE',
      });
  },
  install,
  update: install,
};

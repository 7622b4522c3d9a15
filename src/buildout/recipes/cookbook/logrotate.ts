/**
 * `slapos.cookbook:logrotate.d`: `<logrotate-entries>/<name>` (0600), a logrotate entry for
 * `log` (the files, as written), daily, dated, 3650 rotations, compressed (delayed), not when
 * empty, shared scripts, recreated, old files in `backup`, with `post`/`pre` as
 * `postrotate`/`prerotate` scripts. Update rewrites it when it changed; the part owns it.
 *
 * `log` and `backup` are single lines and `name` a plain file name; a `post`/`pre` line that is
 * `endscript` is refused: each would end the entry's structure early.
 */
import { join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';

const LINE_BREAK = /[\r\n\v\f\x1c-\x1e\x85\u2028\u2029\0]/;

export interface LogrotateEntry {
  log: string;
  backup: string;
  post?: string | undefined;
  pre?: string | undefined;
}

/** The entry's text. */
export function logrotateEntry(e: LogrotateEntry): string {
  const conf = [
    'daily',
    'dateext',
    'rotate 3650',
    'compress',
    'delaycompress',
    'notifempty',
    'sharedscripts',
    'create',
    `olddir ${e.backup}`,
  ];
  if (e.post !== undefined) conf.push(`postrotate\n${e.post}\nendscript`);
  if (e.pre !== undefined) conf.push(`prerotate\n${e.pre}\nendscript`);
  return `${e.log} {\n${conf.join('\n')}\n}\n`;
}

function singleLine(ctx: RecipeContext, option: string): string {
  const value = ctx.options.require(option);
  if (LINE_BREAK.test(value) || value.includes('{') || value.includes('}'))
    throw ctx.error(`must be one line without braces: ${JSON.stringify(value)}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  return value;
}

function script(ctx: RecipeContext, option: string): string | undefined {
  const value = ctx.options.get(option);
  if (value !== undefined && value.split(/\r\n|\r|\n/).some((line) => line.trim() === 'endscript'))
    throw ctx.error('a line "endscript" would end the script early', { option, code: 'SLAP_ERR_PROFILE' });
  return value;
}

async function install(ctx: RecipeContext): Promise<string[]> {
  const name = ctx.options.require('name');
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name))
    throw ctx.error(`not a plain file name: ${JSON.stringify(name)}`, {
      option: 'name',
      code: 'SLAP_ERR_PROFILE',
    });
  const path = join(resolve(ctx.directories.directory, ctx.options.require('logrotate-entries')), name);
  const text = logrotateEntry({
    log: singleLine(ctx, 'log'),
    backup: singleLine(ctx, 'backup'),
    post: script(ctx, 'post'),
    pre: script(ctx, 'pre'),
  });
  ctx.created(path);
  await writeIfChanged(path, text, 0o600);
  return [path];
}

export const logrotateD: Recipe = { version: '1', install, update: install };

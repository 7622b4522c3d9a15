/**
 * `slapos.cookbook:simplelogger`: writes `wrapper`, a script (0755) that appends what it reads on
 * its standard input to the file `log`, each line prefixed with the time it started
 * (`%Y-%m-%d.%H:%M.%s:` in local time, `%s` being the epoch seconds, as the original's strftime),
 * then a `------------------------` line with the same prefix. The original writes a Python
 * script calling its module; this one is POSIX shell (sed), with the same output.
 */
import { resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { requirePath, withoutNul, writeIfChanged } from '../common.ts';
import { shellQuote } from './shell.ts';

export function simpleloggerScript(log: string): string {
  return [
    '#!/bin/sh',
    `log=${shellQuote(log)}`,
    "prefix=$(date '+%Y-%m-%d.%H:%M.%s:')",
    // The prefix holds digits and - . : only: safe in a sed replacement.
    '{ sed -e "s/^/$prefix /"; printf \'%s %s\\n\' "$prefix" \'------------------------\'; } >> "$log"',
    '',
  ].join('\n');
}

async function write(ctx: RecipeContext): Promise<string[]> {
  const path = requirePath(ctx, 'wrapper');
  withoutNul(ctx, 'wrapper', path);
  const log = resolve(ctx.directories.directory, withoutNul(ctx, 'log', ctx.options.require('log')));
  ctx.created(path);
  await writeIfChanged(path, simpleloggerScript(log), 0o755);
  return [path];
}

export const simplelogger: Recipe = { version: '1', install: write, update: write };

/**
 * `slapos.cookbook:generic.kumofs`: the three kumofs service scripts (0700, `#!<shell-path>`):
 *
 *   gateway-wrapper: exec <kumo-gateway-binary> -F -E -m <ip>:<manager-port> -t <ip>:<gateway-port> -o <kumo-gateway-log>
 *   manager-wrapper: exec <kumo-manager-binary> -a -l <ip>:<manager-port> -o <kumo-manager-log>
 *   server-wrapper:  exec <kumo-server-binary> -l <ip>:<server-port> -L <server-listen-port>
 *                      -m <ip>:<manager-port> -s <storage> -o <kumo-server-log>
 *
 * `storage` is `data-path`, else `<data-directory>/kumodb.tch`. Ports must be integers (the
 * original's `int()`), words are shell-quoted, `shell-path` must be usable on a `#!` line.
 * Update rewrites what changed; the part owns the three scripts.
 */
import { join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';
import { shellQuote } from './shell.ts';

/** A `shell-path` that can follow `#!` (absolute, no whitespace or control characters). */
export function shebangPath(ctx: RecipeContext, option = 'shell-path'): string {
  const shell = ctx.options.require(option);
  if (!/^\/[^\s\0-\x1f\x7f\x85\u2028\u2029]*$/.test(shell))
    throw ctx.error(`not a path usable on a #! line: ${JSON.stringify(shell)}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  return shell;
}

function port(ctx: RecipeContext, option: string): string {
  const text = ctx.options.require(option).trim();
  if (!/^[+-]?[0-9]+$/.test(text))
    throw ctx.error(`invalid literal for int() with base 10: ${JSON.stringify(text)}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  return String(Number(text));
}

/** `#!<shell>` and `exec <words…>`, each word shell-quoted. */
export function shebangExec(shell: string, words: readonly string[]): string {
  return `#!${shell}\nexec ${words.map(shellQuote).join(' ')}\n`;
}

async function install(ctx: RecipeContext): Promise<string[]> {
  const { options } = ctx;
  const shell = shebangPath(ctx);
  const ip = options.require('ip');
  const manager = `${ip}:${port(ctx, 'manager-port')}`;
  const storage = options.has('data-path')
    ? (options.get('data-path') ?? '')
    : join(options.require('data-directory'), 'kumodb.tch');
  const scripts: [string, string[]][] = [
    [
      'gateway-wrapper',
      [
        options.require('kumo-gateway-binary'),
        '-F',
        '-E',
        '-m',
        manager,
        '-t',
        `${ip}:${port(ctx, 'gateway-port')}`,
        '-o',
        options.require('kumo-gateway-log'),
      ],
    ],
    [
      'manager-wrapper',
      [
        options.require('kumo-manager-binary'),
        '-a',
        '-l',
        manager,
        '-o',
        options.require('kumo-manager-log'),
      ],
    ],
    [
      'server-wrapper',
      [
        options.require('kumo-server-binary'),
        '-l',
        `${ip}:${port(ctx, 'server-port')}`,
        '-L',
        port(ctx, 'server-listen-port'),
        '-m',
        manager,
        '-s',
        storage,
        '-o',
        options.require('kumo-server-log'),
      ],
    ],
  ];
  const paths: string[] = [];
  for (const [option, words] of scripts) {
    const path = resolve(ctx.directories.directory, options.require(option));
    ctx.created(path);
    await writeIfChanged(path, shebangExec(shell, words), 0o700);
    paths.push(path);
  }
  return paths;
}

export const genericKumofs: Recipe = { version: '1', install, update: install };

/**
 * `slapos.cookbook:ipv6toipv4` and `ipv4toipv6` (the original's `6tunnel` recipes): `runner-path`
 * (0700) is a `shell-path` script that execs `6tunnel-path` in the foreground (`-d`):
 *
 *   ipv6toipv4: exec 6tunnel -6 -4 -d -l <ipv6> <ipv6-port> <ipv4> <ipv4-port>
 *   ipv4toipv6: exec 6tunnel -d -l <ipv4> <ipv4-port> <ipv6> <ipv6-port>
 *
 * with the original's "BEWARE" header. The words are shell-quoted; `shell-path` (the `#!` line,
 * which cannot be quoted) must be an absolute path without whitespace or control characters.
 * Update rewrites what changed; the part owns the script.
 */
import { resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';
import { shebangPath } from './kumofs.ts';
import { shellQuote } from './shell.ts';

export interface TunnelOptions {
  shell: string;
  sixtunnel: string;
  ipv4: string;
  ipv4Port: string;
  ipv6: string;
  ipv6Port: string;
}

/** The runner script of one direction. */
export function tunnelScript(direction: '6to4' | '4to6', o: TunnelOptions): string {
  const q = shellQuote;
  const command =
    direction === '6to4'
      ? `exec ${q(o.sixtunnel)} -6 -4 -d -l ${q(o.ipv6)} ${q(o.ipv6Port)} ${q(o.ipv4)} ${q(o.ipv4Port)}`
      : `exec ${q(o.sixtunnel)} -d -l ${q(o.ipv4)} ${q(o.ipv4Port)} ${q(o.ipv6)} ${q(o.ipv6Port)}`;
  return [
    `#!${o.shell}`,
    '# BEWARE: This file is operated by slapos node',
    '# BEWARE: It will be overwritten automatically',
    command,
  ].join('\n');
}

function tunnelRecipe(direction: '6to4' | '4to6'): Recipe {
  const install = async (ctx: RecipeContext): Promise<string[]> => {
    const { options } = ctx;
    const shell = shebangPath(ctx);
    const path = resolve(ctx.directories.directory, options.require('runner-path'));
    const script = tunnelScript(direction, {
      shell,
      sixtunnel: options.require('6tunnel-path'),
      ipv4: options.require('ipv4'),
      ipv4Port: options.require('ipv4-port'),
      ipv6: options.require('ipv6'),
      ipv6Port: options.require('ipv6-port'),
    });
    ctx.created(path);
    await writeIfChanged(path, script, 0o700);
    return [path];
  };
  return { version: '1', install, update: install };
}

export const ipv6toipv4 = tunnelRecipe('6to4');
export const ipv4toipv6 = tunnelRecipe('4to6');

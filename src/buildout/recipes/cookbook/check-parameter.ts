/**
 * `slapos.cookbook:check_parameter`: writes the promise script `path` (0700) checking `value`:
 * with `expected-type = ipv4` or `ipv6`, that it is such an address (`inet_pton`), else that it
 * equals `expected-value` and differs from `expected-not-value` (each when not empty), printing
 * `FAIL: value != expected` / `FAIL: value == not-expected`. Failure exits 127, as the original.
 * The original writes Python scripts; these are POSIX shell. The value is fixed when the script
 * is written, so the address check (node:net, the same rules as inet_pton) is decided then and
 * the script only reports it.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { requirePath, withoutNul, writeIfChanged } from '../common.ts';
import { shellQuote } from './shell.ts';

const HEADER = [
  '#!/bin/sh',
  '# BEWARE: This file is operated by slapos node',
  '# BEWARE: It will be overwritten automatically',
];

function option(ctx: RecipeContext, name: string, fallback = ''): string {
  return withoutNul(ctx, name, ctx.options.get(name) ?? fallback);
}

export function checkParameterScript(ctx: RecipeContext): string {
  const value = withoutNul(ctx, 'value', ctx.options.require('value'));
  const type = ctx.options.get('expected-type');
  const out = [...HEADER, `value=${shellQuote(value)}`];
  if (type === 'ipv4' || type === 'ipv6') {
    // inet_pton takes no IPv6 scope (%eth0), which node:net accepts.
    const valid = type === 'ipv4' ? isIPv4(value) : isIPv6(value) && !value.includes('%');
    out.push(`# ${type === 'ipv4' ? 'IPv4' : 'IPv6'} address: ${valid ? 'valid' : 'invalid'}`);
    out.push(valid ? 'exit 0' : 'exit 127');
  } else {
    out.push(
      `expected=${shellQuote(option(ctx, 'expected-value'))}`,
      `not_expected=${shellQuote(option(ctx, 'expected-not-value'))}`,
      'if [ -n "$expected" ] && [ "$value" != "$expected" ]; then',
      '  printf \'FAIL: %s != %s\\n\' "$value" "$expected"',
      '  exit 127',
      'fi',
      'if [ -n "$not_expected" ] && [ "$value" = "$not_expected" ]; then',
      '  printf \'FAIL: %s == %s\\n\' "$value" "$not_expected"',
      '  exit 127',
      'fi',
    );
  }
  return `${out.join('\n')}\n`;
}

async function write(ctx: RecipeContext): Promise<string[]> {
  const path = withoutNul(ctx, 'path', requirePath(ctx, 'path'));
  const text = checkParameterScript(ctx);
  ctx.created(path);
  await writeIfChanged(path, text, 0o700);
  return [path];
}

export const checkParameter: Recipe = { version: '1', install: write, update: write };

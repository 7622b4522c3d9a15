/**
 * `slapos.cookbook:check_url_available`: writes the promise script `path` (0700, run by
 * `dash_path`) that fetches `url` with `curl_path` (`-g -k -sL`, following redirects, certificate
 * not checked, as the original) and fails unless the HTTP status is `http_code` (default 200):
 * exit 1 when the URL is malformed, the host unreachable or nothing answered, exit 2 on another
 * status, exit 0 on 401 with `check-secure = 1`. The time limit is the integer in
 * `timeout-file-path` (default `etc/promise_timeout` of the buildout directory) when it holds one,
 * else 20 s. With `ca-cert-file`, `cert-file` and `key-file` all set, curl presents that client
 * certificate. Every value is quoted (the original pasted them in the script as they were).
 */
import { join } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { requirePath, withoutNul, writeIfChanged } from '../common.ts';
import { shellQuote } from './shell.ts';

function option(ctx: RecipeContext, name: string, fallback?: string): string {
  const value = ctx.options.get(name) ?? fallback;
  if (value === undefined)
    throw ctx.error(`"${name}" is required`, { option: name, code: 'SLAP_ERR_PROFILE' });
  return withoutNul(ctx, name, value);
}

function integer(ctx: RecipeContext, name: string, fallback: string): string {
  const value = option(ctx, name, fallback).trim();
  if (!/^[0-9]+$/.test(value))
    throw ctx.error(`expected an integer, got ${JSON.stringify(value)}`, {
      option: name,
      code: 'SLAP_ERR_PROFILE',
    });
  return value;
}

export function checkUrlScript(ctx: RecipeContext): string {
  const shell = option(ctx, 'dash_path');
  if (!shell.startsWith('/') || /[\s]/.test(shell))
    throw ctx.error(`the shell must be an absolute path without spaces, got ${JSON.stringify(shell)}`, {
      option: 'dash_path',
      code: 'SLAP_ERR_PROFILE',
    });
  const values: [string, string][] = [
    ['URL', option(ctx, 'url')],
    ['F_TIMEOUT', option(ctx, 'timeout-file-path', join(ctx.directories.directory, 'etc/promise_timeout'))],
    ['CURL', option(ctx, 'curl_path')],
    ['CA_CERT', option(ctx, 'ca-cert-file', '')],
    ['CERT', option(ctx, 'cert-file', '')],
    ['KEY', option(ctx, 'key-file', '')],
    ['HTTP_CODE', String(Number(integer(ctx, 'http_code', '200')))],
    ['CHECK_SECURE', integer(ctx, 'check-secure', '0')],
  ];
  return [
    `#!${shell}`,
    '# BEWARE: This file is operated by slapos node',
    '# BEWARE: It will be overwritten automatically',
    '',
    ...values.map(([name, value]) => `${name}=${shellQuote(value)}`),
    'TIMEOUT=20',
    '',
    'if [ -z "$URL" ]; then',
    '  printf \'%s\\n\' "No URL specified." >&2',
    '  exit 3',
    'fi',
    'if [ -s "$F_TIMEOUT" ]; then',
    '  value=$(cat "$F_TIMEOUT")',
    '  case $value in',
    "    ''|*[!0-9]*) ;;",
    '    *) TIMEOUT=$value ;;',
    '  esac',
    'fi',
    'if [ -z "$CA_CERT" ] || [ -z "$CERT" ] || [ -z "$KEY" ]; then',
    '  set --',
    'else',
    '  set -- --cacert "$CA_CERT" --cert "$CERT" --key "$KEY"',
    'fi',
    'status=0',
    'CODE=$("$CURL" -g -k -sL -w \'%{http_code}\' --max-time "$TIMEOUT" -o /dev/null "$@" --url "$URL") || status=$?',
    'if [ "$status" -eq 3 ]; then',
    '  printf \'%s\\n\' "URL malformed: $URL." >&2',
    '  exit 1',
    'fi',
    'if [ "$status" -eq 7 ]; then',
    '  printf \'%s\\n\' "Failed to connect to host: $URL." >&2',
    '  exit 1',
    'fi',
    'if [ -z "$CODE" ] || [ "$CODE" = 000 ]; then',
    '  printf \'%s\\n\' "$URL is not available (server not reachable)." >&2',
    '  exit 1',
    'fi',
    'if [ "$CHECK_SECURE" -eq 1 ] && [ "$CODE" = 401 ]; then',
    '  printf \'%s\\n\' "$URL is protected (returned $CODE)." >&2',
    '  exit 0',
    'fi',
    'if [ "$CODE" != "$HTTP_CODE" ]; then',
    '  printf \'%s\\n\' "$URL is not available (returned $CODE, expected $HTTP_CODE)." >&2',
    '  exit 2',
    'fi',
    '',
  ].join('\n');
}

async function write(ctx: RecipeContext): Promise<string[]> {
  const path = withoutNul(ctx, 'path', requirePath(ctx, 'path'));
  const text = checkUrlScript(ctx);
  ctx.created(path);
  await writeIfChanged(path, text, 0o700);
  return [path];
}

export const checkUrlAvailable: Recipe = { version: '1', install: write, update: write };

/**
 * `slapos.cookbook:sshkeys_authority` and `sshkeys_authority.request`: SSH key pairs made by a
 * service of the partition on request.
 *
 * sshkeys_authority: `wrapper` (0700) runs the authority service (sshkeys-authority-service.ts,
 * where the original runs a Python function) on `request-directory` with `keygen-binary`
 * (OpenSSH's ssh-keygen or dropbearkey). The part owns the wrapper.
 *
 * sshkeys_authority.request: init sets `name` (default: the part's name) and `public-key-value`
 * (the public key once the service made it, else ''); the pair lives in `keys-directory` under
 * sha256(`name`) (+ `.pub`). Install writes the request `<request-directory>/<name>` (Python's
 * `json.dump` of `private_key`, `public_key`, `size`, `type`), links `public-key` and
 * `private-key` to the pair (an existing non-link there is an error), and writes `wrapper`
 * (0700): wait until both key files exist, then exec `executable`. Update is install; the part
 * owns the request, the links and the wrapper. A `name` that is not a plain file name is refused
 * (the original would write the request elsewhere).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { lstat, mkdir, symlink, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';
import { nodeMainCommand } from './node-main.ts';
import { appendExec, execWrapperScript, shellQuote } from './shell.ts';

function path(ctx: RecipeContext, option: string): string {
  return resolve(ctx.directories.directory, ctx.options.require(option));
}

export const sshkeysAuthority: Recipe = {
  version: '1',
  async install(ctx) {
    const wrapper = path(ctx, 'wrapper');
    const command = [
      ...nodeMainCommand('sshkeys-authority-main'),
      '--request-dir',
      path(ctx, 'request-directory'),
      '--keygen',
      ctx.options.require('keygen-binary'),
    ];
    ctx.created(wrapper);
    await writeIfChanged(wrapper, execWrapperScript(command), 0o700);
    return [wrapper];
  },
};

/** Python's `json.dumps` of a flat object (insertion order, `", "`/`": "` separators, ASCII only). */
export function pyJsonDumps(entries: readonly (readonly [string, string | number])[]): string {
  const body = entries.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(', ');
  return `{${body}}`.replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

interface KeyPair {
  privateKey: string;
  publicKey: string;
}

function keyPair(ctx: RecipeContext): KeyPair {
  const name = ctx.options.require('name');
  const privateKey = join(path(ctx, 'keys-directory'), createHash('sha256').update(name).digest('hex'));
  return { privateKey, publicKey: `${privateKey}.pub` };
}

/** The wrapper: wait for the key files, then exec the executable (librecipe's wait_list). */
export function waitingWrapperScript(executable: string, waitFor: readonly string[]): string {
  const out = [
    '#!/bin/sh -e',
    `for file in ${waitFor.map(shellQuote).join(' ')}; do`,
    '  while [ ! -e "$file" ]; do sleep 1; done',
    'done',
  ];
  appendExec(out, [executable]);
  return `${out.join('\n')}\n`;
}

async function replaceLink(ctx: RecipeContext, link: string, target: string): Promise<void> {
  const info = await lstat(link).catch(() => undefined);
  if (info?.isSymbolicLink()) await unlink(link);
  else if (info)
    throw ctx.error(`${JSON.stringify(link)} should be a symbolic link.`, { code: 'SLAP_ERR_PROFILE' });
  await mkdir(dirname(link), { recursive: true });
  await symlink(target, link);
}

async function installRequest(ctx: RecipeContext): Promise<string[]> {
  const { options } = ctx;
  const name = options.require('name');
  const { privateKey, publicKey } = keyPair(ctx);
  const request: [string, string | number][] = [
    ['private_key', privateKey],
    ['public_key', publicKey],
  ];
  const size = options.get('size');
  if (size !== undefined) {
    if (!/^\s*[+-]?[0-9]+\s*$/.test(size))
      throw ctx.error(`invalid literal for int() with base 10: ${JSON.stringify(size)}`, {
        option: 'size',
        code: 'SLAP_ERR_PROFILE',
      });
    request.push(['size', Number(size.trim())]);
  }
  const type = options.get('type');
  if (type !== undefined) request.push(['type', type]);
  const requestFile = join(path(ctx, 'request-directory'), name);
  await writeIfChanged(requestFile, pyJsonDumps(request), 0o644);
  const publicLink = path(ctx, 'public-key');
  const privateLink = path(ctx, 'private-key');
  await replaceLink(ctx, publicLink, publicKey);
  await replaceLink(ctx, privateLink, privateKey);
  const wrapper = path(ctx, 'wrapper');
  await writeIfChanged(
    wrapper,
    waitingWrapperScript(options.require('executable'), [privateKey, publicKey]),
    0o700,
  );
  return [requestFile, wrapper, publicLink, privateLink];
}

export const sshkeysAuthorityRequest: Recipe = {
  version: '1',
  init(ctx) {
    const { options } = ctx;
    if (!options.has('name')) options.set('name', ctx.name);
    const name = options.require('name');
    if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name))
      throw ctx.error(`not a plain file name: ${JSON.stringify(name)}`, {
        option: 'name',
        code: 'SLAP_ERR_PROFILE',
      });
    const { publicKey } = keyPair(ctx);
    let value = '';
    if (existsSync(publicKey)) value = readFileSync(publicKey, 'utf8');
    options.set('public-key-value', value);
  },
  install: installRequest,
  update: installRequest,
};

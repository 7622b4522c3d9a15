/**
 * `slapos.cookbook:generate.password` and `generate.mac` (profiles.md §3.15).
 *
 * generate.password, during init: `passwd` = the forced `passwd` option, else the one kept in
 * `storage-path` (default `${buildout:parts-directory}/<section>`; empty = not kept), else a new
 * one of `bytes` characters (default 16) of `[A-Za-z0-9]` from the system's secure RNG. `passwd` is
 * volatile: never in the installed record, its change never reinstalls anything. The storage file
 * (mode 0600) is JSON `{"": "<password>"}`; a plain-text file (older format) is read too. Install
 * writes it when needed and owns it only with `create-once = false`.
 *
 * generate.mac: `mac-address` = the given one, else the one stored in `storage-path` (required),
 * else a new locally administered address `fe:xx:xx:xx:xx:xx`; install writes it and owns the file.
 */
import { randomInt } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../../../lib/atomic-write.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { isTrue, writeIfChanged } from '../common.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The password kept in a storage file: JSON `{"": pw}`, or the older plain text. */
function storedPassword(text: string): string | undefined {
  const trimmed = text.replace(/\n+$/, '');
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      if (
        parsed !== null &&
        typeof parsed === 'object' &&
        typeof (parsed as Record<string, unknown>)[''] === 'string'
      )
        return (parsed as Record<string, string>)[''] || undefined;
    } catch {
      // not JSON: a password that starts with "{"
    }
  }
  return trimmed || undefined;
}

function generatePassword(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

function passwordLength(ctx: RecipeContext): number {
  const text = ctx.options.get('bytes') ?? '16';
  const length = Number(text);
  if (!Number.isInteger(length) || length < 1 || length > 4096)
    throw ctx.error(`not a password length: ${JSON.stringify(text)}`, {
      option: 'bytes',
      code: 'SLAP_ERR_PROFILE',
    });
  return length;
}

export const generatePasswordRecipe: Recipe = {
  version: '1',
  async init(ctx) {
    const { options } = ctx;
    if (!options.has('storage-path')) options.set('storage-path', join(ctx.directories.parts, ctx.name));
    const storage = options.get('storage-path') ?? '';
    const forced = options.get('passwd');
    const stored = storage ? await readIfExists(resolve(ctx.directories.directory, storage)) : undefined;
    const kept = stored === undefined ? undefined : storedPassword(stored);
    const passwd = forced || kept || generatePassword(passwordLength(ctx));
    options.set('passwd', passwd);
    options.markVolatile('passwd');
    ctx.state.set('write', storage !== '' && passwd !== kept);
  },
  async install(ctx) {
    const storage = ctx.options.get('storage-path') ?? '';
    if (!storage) return [];
    const path = resolve(ctx.directories.directory, storage);
    const createOnce = isTrue(ctx.options.get('create-once'), true);
    if (ctx.state.get('write') === true || (await readIfExists(path)) === undefined) {
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, JSON.stringify({ '': ctx.options.get('passwd') ?? '' }), { mode: 0o600 });
    }
    return createOnce ? [] : [path];
  },
  async update(ctx) {
    if (ctx.state.get('write') === true) return generatePasswordRecipe.install(ctx);
    return undefined;
  },
};

function randomMac(): string {
  const octets = [0xfe, ...Array.from({ length: 5 }, () => randomInt(256))];
  return octets.map((o) => o.toString(16).padStart(2, '0')).join(':');
}

export const generateMac: Recipe = {
  version: '1',
  async init(ctx) {
    const path = resolve(ctx.directories.directory, ctx.options.require('storage-path'));
    let mac = ctx.options.get('mac-address');
    if (!mac) {
      mac = (await readIfExists(path))?.trim() || undefined;
      ctx.state.set('new', mac === undefined);
      mac ??= randomMac();
      ctx.options.set('mac-address', mac);
    }
  },
  async install(ctx) {
    const path = resolve(ctx.directories.directory, ctx.options.require('storage-path'));
    await writeIfChanged(path, ctx.options.get('mac-address') ?? '', 0o644);
    return [path];
  },
  async update(ctx) {
    if (ctx.state.get('new') === true) return generateMac.install(ctx);
    return undefined;
  },
};

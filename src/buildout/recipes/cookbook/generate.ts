/**
 * `slapos.cookbook:generate.password` and `generate.mac` (profiles.md §3.15).
 *
 * generate.password, during init: `passwd` = the forced `passwd` option, else the one kept in
 * `storage-path` (default `${buildout:parts-directory}/<section>`; empty = not kept), else a new
 * one of `bytes` characters (default 16) of `[A-Za-z0-9]` from the system's secure RNG.
 * `passwd-<scheme>` (e.g. `${pw:passwd-sha512-crypt}`) is the password hashed with that passlib
 * scheme (password-hash.ts), computed when first read. `passwd` and the hashes are volatile: never
 * in the installed record, their change never reinstalls anything. The storage file (mode 0600)
 * is the original's JSON, `{"": "<password>", "passwd-<scheme>": "<hash>", …}` (sorted keys), so a
 * hash keeps its salt from run to run; a plain-text file (older format) is read too. A forced
 * `passwd` different from the stored one drops the stored hashes. Install writes the file when its
 * content changes (update too: unlike the original, a hash first read at update is kept at once);
 * the part owns it only with `create-once = false`.
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
import { hashPassword, SUPPORTED_PASSWORD_SCHEMES } from './password-hash.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HASH_PREFIX = 'passwd-';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The password and hashes kept in a storage file: JSON `{"": pw, …}`, or the older plain text. */
function storedEntries(text: string): Map<string, string> {
  const trimmed = text.replace(/^\n+|\n+$/g, '');
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as unknown;
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const entries = Object.entries(parsed as Record<string, unknown>).filter(
          (entry): entry is [string, string] => typeof entry[1] === 'string',
        );
        return new Map(entries);
      }
    } catch {
      // not JSON: a password that starts with "{"
    }
  }
  return new Map([['', trimmed]]);
}

/** The storage text as the original writes it: Python's `json.dumps(d, sort_keys=True)`. */
export function storageText(entries: ReadonlyMap<string, string>): string {
  const keys = [...entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const body = keys.map((key) => `${JSON.stringify(key)}: ${JSON.stringify(entries.get(key))}`).join(', ');
  // ensure_ascii: every non-ASCII UTF-16 unit as \uXXXX.
  return `{${body}}`.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
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

/** The `passwd-<scheme>` value: the stored hash, else a new one (kept for the storage file). */
function hashOption(ctx: RecipeContext, entries: Map<string, string>, key: string): string | undefined {
  if (!key.startsWith(HASH_PREFIX)) return undefined;
  const stored = entries.get(key);
  if (stored !== undefined) return stored;
  const scheme = key.slice(HASH_PREFIX.length);
  const hashed = hashPassword(scheme, entries.get('') ?? '');
  if (hashed === undefined)
    throw ctx.error(`"${key}": the hashing scheme "${scheme}" is not supported`, {
      option: key,
      code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
      hint: `Supported: ${SUPPORTED_PASSWORD_SCHEMES.map((s) => HASH_PREFIX + s).join(', ')}.`,
    });
  entries.set(key, hashed);
  return hashed;
}

export const generatePasswordRecipe: Recipe = {
  version: '2',
  async init(ctx) {
    const { options } = ctx;
    if (!options.has('storage-path')) options.set('storage-path', join(ctx.directories.parts, ctx.name));
    const storage = options.get('storage-path') ?? '';
    const forced = options.get('passwd');
    const stored = storage ? await readIfExists(resolve(ctx.directories.directory, storage)) : undefined;
    let entries = stored === undefined ? new Map<string, string>() : storedEntries(stored);
    if (forced && entries.get('') !== forced) entries = new Map([['', forced]]);
    if (!entries.get('')) entries.set('', generatePassword(passwordLength(ctx)));
    options.set('passwd', entries.get('') ?? '');
    options.markVolatile('passwd');
    options.provideMissing((key) => hashOption(ctx, entries, key));
    ctx.state.set('entries', entries);
  },
  async install(ctx) {
    const storage = ctx.options.get('storage-path') ?? '';
    if (!storage) return [];
    const path = resolve(ctx.directories.directory, storage);
    const text = storageText(ctx.state.get('entries') as Map<string, string>);
    if ((await readIfExists(path)) !== text) {
      await mkdir(dirname(path), { recursive: true });
      await writeFileAtomic(path, text, { mode: 0o600 });
    }
    return isTrue(ctx.options.get('create-once'), true) ? [] : [path];
  },
  async update(ctx) {
    await generatePasswordRecipe.install(ctx);
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

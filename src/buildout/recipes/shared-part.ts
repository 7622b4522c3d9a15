/**
 * `shared = true` of slapos.recipe.build's download recipes (their `Shared` helper): the part is
 * built once into `<entry>/<part>/<md5 of its options>` of `buildout:shared-part-list`, reused by
 * every buildout whose part has the same options, marked complete by `.buildout-shared.json` (the
 * options it was built from), made read-only, and never owned (so never deleted) by a part. An
 * existing build in any entry is reused; else the first writable entry is used; with no
 * `shared-part-list` (or no writable entry) the part is an ordinary one in the parts directory.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecipeContext } from '../recipe.ts';
import { isTrue, lines } from './common.ts';
import { pathExists } from '../../lib/path-exists.ts';

const COMPLETE_FILE = '.buildout-shared.json';
const BASE_LOCATION = '_profile_base_location_';

export interface SharedPlacement {
  /** `shared = true` was asked (its constraints apply even when nothing is shared). */
  requested: boolean;
  location: string;
  /** The options the shared build is keyed by; undefined when the part is not shared. */
  signature: string | undefined;
}

async function writable(path: string): Promise<boolean> {
  return access(path, constants.W_OK).then(
    () => true,
    () => false,
  );
}

/** The options as the signature of a shared build (the profile's own location made neutral). */
function signatureOf(ctx: RecipeContext): string {
  const base = ctx.options.getText(BASE_LOCATION);
  const entries = ctx.options
    .keys()
    .filter((key) => key !== BASE_LOCATION && key !== 'location' && key !== 'target')
    .sort()
    .map((key) => {
      const value = ctx.options.getText(key) ?? '';
      return [key, base ? value.replaceAll(base, `\${:${BASE_LOCATION}}`) : value];
    });
  return `${JSON.stringify(Object.fromEntries(entries), null, 2)}\n`;
}

/** Where the part goes; call during init, before options such as `location` are set. */
export async function sharedPlacement(ctx: RecipeContext): Promise<SharedPlacement> {
  const ordinary = join(ctx.directories.parts, ctx.name);
  if (!isTrue(ctx.options.get('shared')))
    return { requested: false, location: ordinary, signature: undefined };
  const entries = lines(ctx.buildout.get('shared-part-list')).map((entry) => entry.replace(/\/+$/, ''));
  if (entries.length === 0) return { requested: true, location: ordinary, signature: undefined };
  const signature = signatureOf(ctx);
  const digest = createHash('md5').update(signature).digest('hex');
  for (const entry of entries) {
    const location = join(entry, ctx.name, digest);
    if (await pathExists(location)) return { requested: true, location, signature };
  }
  for (const entry of entries) {
    if (await writable(entry)) return { requested: true, location: join(entry, ctx.name, digest), signature };
  }
  return { requested: true, location: ordinary, signature: undefined };
}

/** The original's `assertNotShared`: an option that cannot go with `shared = true`. */
export function refuseWhenShared(ctx: RecipeContext, placement: SharedPlacement, reason: string): void {
  if (placement.requested)
    throw ctx.error(`When shared=true, ${reason}`, { option: 'shared', code: 'SLAP_ERR_PROFILE' });
}

async function makeReadOnly(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) for (const entry of await readdir(path)) await makeReadOnly(join(path, entry));
  await chmod(path, info.mode & 0o7555);
}

/**
 * Runs `build(location)` into a fresh `location` unless a shared build is already complete there.
 * Returns the paths the part owns: `[location]` for an ordinary part, none for a shared one.
 */
export async function installPlaced(
  ctx: RecipeContext,
  placement: SharedPlacement,
  build: (location: string) => Promise<void>,
): Promise<string[]> {
  const { location, signature } = placement;
  const complete = join(location, COMPLETE_FILE);
  if (signature !== undefined && (await pathExists(complete))) {
    ctx.logger.info({ part: ctx.name, location }, 'shared part is already installed');
    return [];
  }
  ctx.created(location);
  await rm(location, { recursive: true, force: true });
  await mkdir(location, { recursive: true });
  await build(location);
  if (signature === undefined) return [location];
  await writeFile(`${complete}.tmp`, signature);
  await rename(`${complete}.tmp`, complete);
  await makeReadOnly(location);
  return [];
}

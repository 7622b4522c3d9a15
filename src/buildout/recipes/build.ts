/**
 * `slapos.recipe.build` entries (profiles.md §3.3–3.5):
 *
 * - `:download` — `url` (an `#md5` suffix is a checksum), `md5sum`, `sha256sum`, `alternate-url`
 *   (tried when `url` cannot be fetched), `offline` (this part's override of `buildout:offline`),
 *   `filename`, `destination`, `mode`. Init sets `location` (`${buildout:parts-directory}/<part>`,
 *   as the original, whatever the profile says) and `target` (`destination`, else
 *   `location/<filename or part name>`); install downloads there (through
 *   `buildout:download-cache`) and returns `location` (or `destination`).
 * - `:download-unpacked` — same download, unpacked into `location` (or `destination`);
 *   `strip-top-level-dir`: true strips the archive's single top directory, false never strips,
 *   unset strips it when there is exactly one.
 * - Both take `shared = true` (shared-part.ts): built once under `buildout:shared-part-list`,
 *   keyed by the part's options; `destination` is then refused, and `:download` needs `md5sum`.
 * - default entry — its `init`/`install`/`update` options are Python code, run through the run's
 *   Python bridge (python-bridge/): `init` while the part initialises (options it sets are seen by
 *   `${part:option}` elsewhere), `install` when installing — it must create `location` (default
 *   `${buildout:parts-directory}/<part>`), which is recorded and removed on uninstall — and `update`
 *   when updating (and when installing without `install`, then nothing is recorded). Without
 *   python3 on the PATH such a part is refused with an error naming it; without code it does nothing.
 */
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { extractArchive, stripTopLevelDirectory } from '../../lib/archive.ts';
import { pythonUnavailable, runSnippet } from '../python-bridge/snippet.ts';
import type { Recipe, RecipeContext } from '../recipe.ts';
import { isTrue, parseMode, resolveUrl } from './common.ts';
import { installPlaced, refuseWhenShared, sharedPlacement, type SharedPlacement } from './shared-part.ts';

function source(ctx: RecipeContext): {
  url: string;
  md5sum: string | undefined;
  sha256sum: string | undefined;
  alternateUrl: string | undefined;
  offline: boolean | undefined;
} {
  const raw = ctx.options.require('url').trim();
  const hash = raw.lastIndexOf('#');
  const url = hash > 0 ? raw.slice(0, hash) : raw;
  const md5sum = ctx.options.get('md5sum')?.trim() || (hash > 0 ? raw.slice(hash + 1) : undefined);
  const sha256sum = ctx.options.get('sha256sum')?.trim() || undefined;
  const alternate = ctx.options.get('alternate-url')?.trim();
  const offline = ctx.options.get('offline');
  return {
    url: resolveUrl(ctx, url),
    md5sum,
    sha256sum,
    alternateUrl: alternate ? resolveUrl(ctx, alternate) : undefined,
    offline: offline ? isTrue(offline) : undefined,
  };
}

function placement(ctx: RecipeContext): SharedPlacement {
  return ctx.state.get('placement') as SharedPlacement;
}

export const slaposRecipeBuildDownload: Recipe = {
  version: '2',
  async init(ctx) {
    const { options } = ctx;
    const placed = await sharedPlacement(ctx);
    if (!source(ctx).md5sum) refuseWhenShared(ctx, placed, "option 'md5sum' must be set");
    const destination = options.get('destination');
    if (destination) refuseWhenShared(ctx, placed, "option 'destination' can't be set");
    // As the original, `location` is always the part's own (or shared) directory.
    const location = placed.location;
    options.set('location', location);
    options.set(
      'target',
      destination
        ? resolve(ctx.directories.directory, destination)
        : join(location, basename(options.get('filename') || ctx.name)),
    );
    ctx.state.set('placement', placed);
    parseMode(ctx);
  },
  async install(ctx) {
    const { url, alternateUrl, offline, md5sum, sha256sum } = source(ctx);
    const target = ctx.options.require('target');
    const fetch = async (): Promise<void> => {
      await mkdir(dirname(target), { recursive: true });
      await ctx.download(url, { md5sum, sha256sum, alternateUrl, offline, destination: target });
      const mode = parseMode(ctx);
      if (mode !== undefined) await chmod(target, mode);
    };
    if (ctx.options.get('destination')) {
      ctx.created(target);
      await fetch();
      return [target];
    }
    return installPlaced(ctx, placement(ctx), fetch);
  },
  update() {
    return undefined;
  },
};

export const slaposRecipeBuildDownloadUnpacked: Recipe = {
  version: '2',
  async init(ctx) {
    const { options } = ctx;
    const placed = await sharedPlacement(ctx);
    const destination = options.get('destination');
    if (destination) {
      refuseWhenShared(ctx, placed, "option 'destination' can't be set");
      options.set('location', resolve(ctx.directories.directory, destination));
    } else {
      options.set('location', placed.location);
    }
    ctx.state.set('placement', { ...placed, location: options.require('location') });
    source(ctx);
  },
  async install(ctx) {
    const { url, alternateUrl, offline, md5sum, sha256sum } = source(ctx);
    return installPlaced(ctx, placement(ctx), async (location) => {
      const work = `${location}.unpack-${process.pid}`;
      ctx.created(work);
      await rm(work, { recursive: true, force: true });
      await mkdir(work, { recursive: true });
      ctx.step('download');
      const archive = await ctx.download(url, { md5sum, sha256sum, alternateUrl, offline });
      try {
        ctx.step('unpack');
        await extractArchive(archive.path, work, {
          exec: (file, args, options) => ctx.exec(file, args, options),
          signal: ctx.signal,
          nameHint: ctx.options.get('filename') || basename(new URL(url, 'file:///').pathname),
        });
      } finally {
        if (archive.temporary) await rm(archive.path, { force: true });
      }
      const strip = ctx.options.get('strip-top-level-dir');
      if (strip === undefined || strip.trim() === '' ? true : isTrue(strip)) {
        const stripped = await stripTopLevelDirectory(work);
        if (!stripped && strip !== undefined && strip.trim() !== '') {
          throw ctx.error('the archive does not have a single top-level directory to strip', {
            option: 'strip-top-level-dir',
          });
        }
      }
      await rm(location, { recursive: true, force: true });
      await rename(work, location);
    });
  },
  update() {
    return undefined;
  },
};

const CODE_OPTIONS = ['init', 'install', 'update'] as const;

export const slaposRecipeBuild: Recipe = {
  version: '2',
  async init(ctx) {
    const { options } = ctx;
    const present = CODE_OPTIONS.filter((option) => options.has(option));
    if (present.length === 0) return;
    if (!ctx.python()) throw pythonUnavailable(ctx, present[0] as string);
    if (!options.has('location')) options.set('location', join(ctx.directories.parts, ctx.name));
    const init = options.get('init');
    if (init) await runSnippet(ctx, 'init', init, options.get('location'));
  },
  async install(ctx) {
    const { options } = ctx;
    const install = options.get('install');
    if (!install) {
      const update = options.get('update');
      if (update) await runSnippet(ctx, 'update', update, options.get('location'));
      return undefined;
    }
    const location = options.require('location');
    // What a failed install left is not this part's any more (the original removes it too).
    await rm(location, { recursive: true, force: true });
    ctx.created(location);
    await runSnippet(ctx, 'install', install, location);
    return location;
  },
  async update(ctx) {
    const update = ctx.options.get('update');
    if (update) await runSnippet(ctx, 'update', update, ctx.options.get('location'));
    return undefined;
  },
};

/**
 * `slapos.recipe.build` entries (profiles.md §3.3–3.5):
 *
 * - `:download` — `url` (an `#md5` suffix is a checksum), `md5sum`, `sha256sum`, `filename`,
 *   `destination`, `mode`. Init sets `location` (default `${buildout:parts-directory}/<part>`) and
 *   `target` (`destination`, else `location/<filename or part name>`); install downloads there
 *   (through `buildout:download-cache`) and returns `location` (or `destination`).
 * - `:download-unpacked` — same download, unpacked into `location` (or `destination`);
 *   `strip-top-level-dir`: true strips the archive's single top directory, false never strips,
 *   unset strips it when there is exactly one.
 * - default entry — its `init`/`install`/`update` options are Python code: refused with an error
 *   naming the part; without them it does nothing.
 */
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { extractArchive, stripTopLevelDirectory } from '../../lib/archive.ts';
import type { Recipe, RecipeContext } from '../recipe.ts';
import { isTrue, parseMode, resolveUrl } from './common.ts';

function source(ctx: RecipeContext): {
  url: string;
  md5sum: string | undefined;
  sha256sum: string | undefined;
} {
  const raw = ctx.options.require('url').trim();
  const hash = raw.lastIndexOf('#');
  const url = hash > 0 ? raw.slice(0, hash) : raw;
  const md5sum = ctx.options.get('md5sum')?.trim() || (hash > 0 ? raw.slice(hash + 1) : undefined);
  const sha256sum = ctx.options.get('sha256sum')?.trim() || undefined;
  return {
    url: resolveUrl(ctx, url),
    md5sum,
    sha256sum,
  };
}

function refuseShared(ctx: RecipeContext): void {
  if (isTrue(ctx.options.get('shared'))) {
    throw ctx.error('"shared = true" is not supported by this engine for downloads', {
      option: 'shared',
      code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
    });
  }
}

export const slaposRecipeBuildDownload: Recipe = {
  version: '1',
  init(ctx) {
    refuseShared(ctx);
    const { options } = ctx;
    if (!options.get('location')) options.set('location', join(ctx.directories.parts, ctx.name));
    const destination = options.get('destination');
    const location = options.require('location');
    options.set(
      'target',
      destination
        ? resolve(ctx.directories.directory, destination)
        : join(location, options.get('filename') || ctx.name),
    );
    source(ctx);
    parseMode(ctx);
  },
  async install(ctx) {
    const { url, md5sum, sha256sum } = source(ctx);
    const destination = ctx.options.get('destination');
    const location = resolve(ctx.directories.directory, ctx.options.require('location'));
    const target = ctx.options.require('target');
    const owned = destination ? target : location;
    ctx.created(owned);
    await mkdir(dirname(target), { recursive: true });
    await ctx.download(url, { md5sum, sha256sum, destination: target });
    const mode = parseMode(ctx);
    if (mode !== undefined) await chmod(target, mode);
    return [owned];
  },
  update() {
    return undefined;
  },
};

export const slaposRecipeBuildDownloadUnpacked: Recipe = {
  version: '1',
  init(ctx) {
    refuseShared(ctx);
    const { options } = ctx;
    const destination = options.get('destination');
    if (destination) options.set('location', resolve(ctx.directories.directory, destination));
    else if (!options.get('location')) options.set('location', join(ctx.directories.parts, ctx.name));
    source(ctx);
  },
  async install(ctx) {
    const { url, md5sum, sha256sum } = source(ctx);
    const location = resolve(ctx.directories.directory, ctx.options.require('location'));
    const work = `${location}.unpack-${process.pid}`;
    ctx.created(location, work);
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    ctx.step('download');
    const archive = await ctx.download(url, { md5sum, sha256sum });
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
    await mkdir(dirname(location), { recursive: true });
    await rename(work, location);
    return [location];
  },
  update() {
    return undefined;
  },
};

export const slaposRecipeBuild: Recipe = {
  version: '1',
  init(ctx) {
    for (const option of ['init', 'install', 'update']) {
      if (ctx.options.has(option)) {
        throw ctx.error(
          `this option is Python code, which this engine does not run (section [${ctx.name}], recipe ${ctx.recipe})`,
          {
            option,
            code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
            hint: 'Rewrite the part with a supported recipe, or as a custom JavaScript recipe (see "Writing recipes" in the README).',
          },
        );
      }
    }
  },
  install() {
    return undefined;
  },
  update() {
    return undefined;
  },
};

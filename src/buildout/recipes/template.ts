/**
 * `slapos.recipe.template` (default entry, profiles.md §3.1): renders a file with buildout
 * substitution. The template comes from `url` (path, file: or http(s) URL; `md5sum` checked) or
 * `inline` (taken as written; legacy `template`, which may start with `inline:`); it is expanded
 * during init as if it were an option of the part (`$$` is the escape of `$`), and written to `output` (legacy `rendered`)
 * with `mode` at install. Update rewrites the file only if it differs (not at all with `inline`
 * or `md5sum`, as the original leaves an edited output alone).
 */
import { readFile, rm } from 'node:fs/promises';
import type { Recipe, RecipeContext } from '../recipe.ts';
import { parseMode, requirePath, writeIfChanged, resolveUrl } from './common.ts';

interface Source {
  text: string;
  fromFile: string | undefined;
  pinned: boolean;
}

async function templateSource(ctx: RecipeContext): Promise<Source> {
  const { options } = ctx;
  // The template text is expanded once, by the recipe: `inline` is taken as written.
  const inline = options.has('inline') ? (options.rawValue('inline') ?? options.get('inline')) : undefined;
  let url = options.get('url');
  const legacy = options.get('template');
  if (legacy !== undefined && url === undefined && inline === undefined) {
    if (legacy.startsWith('inline:'))
      return { text: legacy.slice('inline:'.length).replace(/^\s+/, ''), fromFile: undefined, pinned: true };
    url = legacy;
  }
  if (inline !== undefined && url !== undefined) {
    throw ctx.error('give either "url" or "inline", not both', {
      option: 'inline',
      code: 'SLAP_ERR_PROFILE',
    });
  }
  if (inline !== undefined) return { text: inline, fromFile: undefined, pinned: true };
  if (url === undefined)
    throw ctx.error('one of "url" or "inline" is required', { option: 'url', code: 'SLAP_ERR_PROFILE' });
  const md5sum = options.get('md5sum') || undefined;
  const target = resolveUrl(ctx, url);
  const file = await ctx.download(target, { md5sum });
  try {
    return { text: await readFile(file.path, 'utf8'), fromFile: url, pinned: md5sum !== undefined };
  } finally {
    if (file.temporary) await rm(file.path, { force: true });
  }
}

export const slaposRecipeTemplate: Recipe = {
  version: '1',
  async init(ctx) {
    requirePath(ctx, 'output', 'rendered');
    parseMode(ctx);
    const source = await templateSource(ctx);
    const rendered = await ctx.expand(
      source.text,
      source.fromFile === undefined ? {} : { file: source.fromFile },
    );
    ctx.state.set('rendered', rendered);
    ctx.state.set('pinned', source.pinned);
  },
  async install(ctx) {
    const output = requirePath(ctx, 'output', 'rendered');
    ctx.created(output);
    await writeIfChanged(output, ctx.state.get('rendered') as string, parseMode(ctx));
    return [output];
  },
  async update(ctx) {
    if (ctx.state.get('pinned') === true) return undefined;
    await writeIfChanged(
      requirePath(ctx, 'output', 'rendered'),
      ctx.state.get('rendered') as string,
      parseMode(ctx),
    );
    return undefined;
  },
};

/**
 * `slapos.recipe.template` (default entry, profiles.md §3.1): renders a file with buildout
 * substitution. The template comes from `url` (path, file: or http(s) URL; `md5sum` checked) or
 * `inline` (taken as written; legacy `template`, which may start with `inline:`); it is expanded
 * during init as if it were an option of the part (`$$` is the escape of `$`), and written to `output` (legacy `rendered`)
 * with `mode` (default 0777 for a `#!` script, else 0666, less the umask) at install. Update rewrites the file only if it differs (not at all with `inline`
 * or `md5sum`, as the original leaves an edited output alone).
 */
import type { Recipe, RecipeContext } from '../recipe.ts';
import { parseMode, renderedMode, requirePath, templateText, writeIfChanged } from './common.ts';

interface Source {
  text: string;
  fromFile: string | undefined;
  pinned: boolean;
}

async function templateSource(ctx: RecipeContext): Promise<Source> {
  const { options } = ctx;
  // The template text is expanded once, by the recipe: `inline` is taken as written.
  const inline = options.has('inline') ? (options.rawValue('inline') ?? options.get('inline')) : undefined;
  const found = await templateText(ctx, inline);
  return {
    text: found.text,
    fromFile: found.url,
    pinned: found.url === undefined || found.md5sum !== undefined,
  };
}

async function writeRendered(ctx: RecipeContext, output: string): Promise<void> {
  const text = ctx.state.get('rendered') as string;
  await writeIfChanged(output, text, await renderedMode(text, parseMode(ctx)));
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
    await writeRendered(ctx, output);
    return [output];
  },
  async update(ctx) {
    if (ctx.state.get('pinned') === true) return undefined;
    await writeRendered(ctx, requirePath(ctx, 'output', 'rendered'));
    return undefined;
  },
};

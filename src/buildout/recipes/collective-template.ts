/**
 * `collective.recipe.template` 2.2 (profiles.md §3.23): `input` (a path, or `inline:` + text) or
 * `url` → `output` (parents created) with `mode`. The text is expanded with buildout substitution
 * where `${name}` (no colon) means `${<this part>:name}`; there is no escape for a literal `${`.
 * Rendered during init; install and update write the file only if its content changed.
 */
import { readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../recipe.ts';
import { parseMode, requirePath, writeIfChanged } from './common.ts';

async function readTemplate(ctx: RecipeContext): Promise<{ text: string; file: string | undefined }> {
  const input = ctx.options.get('input');
  const url = ctx.options.get('url');
  if (input !== undefined && url !== undefined) {
    throw ctx.error('give either "input" or "url", not both', { option: 'input', code: 'SLAP_ERR_PROFILE' });
  }
  if (input !== undefined && input.startsWith('inline:')) {
    return { text: input.slice('inline:'.length).replace(/^\s+/, ''), file: undefined };
  }
  const location = input ?? url;
  if (location === undefined)
    throw ctx.error('one of "input" or "url" is required', { option: 'input', code: 'SLAP_ERR_PROFILE' });
  const target = url !== undefined ? url : resolve(ctx.directories.directory, location);
  const file = await ctx.download(target);
  try {
    return { text: await readFile(file.path, 'utf8'), file: location };
  } finally {
    if (file.temporary) await rm(file.path, { force: true });
  }
}

async function write(ctx: RecipeContext): Promise<string[]> {
  const output = requirePath(ctx, 'output');
  ctx.created(output);
  await writeIfChanged(output, ctx.state.get('rendered') as string, parseMode(ctx));
  return [output];
}

export const collectiveRecipeTemplate: Recipe = {
  version: '1',
  async init(ctx) {
    requirePath(ctx, 'output');
    parseMode(ctx);
    const { text, file } = await readTemplate(ctx);
    const shorthand = text.replace(/\$\{([^:}]+?)\}/g, (_m, name: string) => `\${${ctx.name}:${name}}`);
    ctx.state.set(
      'rendered',
      await ctx.expand(shorthand, { dollarEscape: false, ...(file === undefined ? {} : { file }) }),
    );
  },
  install: write,
  update: write,
};

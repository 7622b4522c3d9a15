/**
 * `plone.recipe.command` 1.1 (profiles.md §3.9): runs `command` with `sh -c` in the buildout
 * directory at install, and `update-command` (only if given) at update. With `stop-on-error`
 * (`yes`/`on`/`true`) a non-zero exit fails the part; otherwise it is only reported. Returns the
 * whitespace-separated `location` paths.
 */
import type { Recipe, RecipeContext } from '../recipe.ts';
import { isTrue, runStep, stepEnvironment, stepFailure } from './common.ts';

async function runCommand(ctx: RecipeContext, option: string): Promise<void> {
  const command = ctx.options.get(option)?.trim();
  if (!command) return;
  const run = await runStep(ctx, option, '/bin/sh', ['-c', command], { env: stepEnvironment() });
  if (run.exitCode === 0) return;
  const message = stepFailure(option, run);
  if (isTrue(ctx.options.get('stop-on-error'))) throw ctx.error(message, { option });
  ctx.warn(message);
}

export const ploneRecipeCommand: Recipe = {
  version: '1',
  async install(ctx) {
    await runCommand(ctx, 'command');
    return (ctx.options.get('location') ?? '').split(/\s+/).filter((p) => p !== '');
  },
  async update(ctx) {
    await runCommand(ctx, 'update-command');
    return undefined;
  },
};

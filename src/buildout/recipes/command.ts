/**
 * `plone.recipe.command` 1.1 (profiles.md §3.9): runs `command` with `sh -c` in the buildout
 * directory at install (an empty or missing `command` is an error, as the original), and
 * `update-command` (only if given) at update, with the run's environment (`ctx.env`). With
 * `stop-on-error` `yes`/`on`/`true` (any case) a non-zero exit fails the part; `no`/`off`/`false`
 * or no option: it is only reported; any other value is an error (the original's exact rule).
 * Returns the whitespace-separated `location` paths.
 */
import type { Recipe, RecipeContext } from '../recipe.ts';
import { runStep, stepEnvironment, stepFailure, words } from './common.ts';

function stopOnError(ctx: RecipeContext): boolean {
  const value = ctx.options.get('stop-on-error');
  if (value === undefined || ['no', 'off', 'false'].includes(value.toLowerCase())) return false;
  if (['yes', 'on', 'true'].includes(value.toLowerCase())) return true;
  throw ctx.error(
    `invalid value ${JSON.stringify(value)} for "stop-on-error": use yes, on, true, no, off or false`,
    { option: 'stop-on-error', code: 'SLAP_ERR_PROFILE' },
  );
}

async function runCommand(ctx: RecipeContext, option: string): Promise<void> {
  const command = ctx.options.get(option);
  if (!command?.trim()) return;
  const run = await runStep(ctx, option, '/bin/sh', ['-c', command], { env: stepEnvironment(ctx) });
  if (run.exitCode === 0) return;
  const message = stepFailure(option, run);
  if (stopOnError(ctx)) throw ctx.error(message, { option });
  ctx.warn(message);
}

export const ploneRecipeCommand: Recipe = {
  version: '1',
  init(ctx) {
    stopOnError(ctx);
  },
  async install(ctx) {
    if (!ctx.options.get('command'))
      throw ctx.error('No command specified', { option: 'command', code: 'SLAP_ERR_PROFILE' });
    await runCommand(ctx, 'command');
    return words(ctx.options.get('location'));
  },
  async update(ctx) {
    await runCommand(ctx, 'update-command');
    return undefined;
  },
};

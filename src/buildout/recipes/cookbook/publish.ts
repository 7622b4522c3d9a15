/**
 * `slapos.cookbook:publish` and `publish.serialised` (profiles.md §3.13): publishes connection
 * parameters of the partition's instance (`put.v0.software_instance_connection_parameter`) — every
 * option of the section but `recipe` and the `-…` ones (or only those listed in `-publish`), plus
 * those of the sections named by `-extends` (transitively). `-slave-reference` publishes for a
 * hosted shared instance instead (the `slave_reference` slapconfiguration gives: its guid).
 * `.serialised` publishes one `_` parameter holding the JSON of the values (objects keep their type).
 * The sections are read during init (they become dependencies); install publishes; update publishes
 * again only with `-extends` (otherwise a change of value changes the options and reinstalls).
 * `publish_failsafe` and `publish.serialised_failsafe` never fail (see `failsafe`).
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import type { Options } from '../../resolver.ts';
import { PyDict, pyStr } from '../../py-value.ts';
import { partitionInstance, slapConnection, withMaster } from './slap.ts';
import { setEntry, wrapSerialised } from './values.ts';

/** Keys that are the engine's, never published. */
function publishable(key: string): boolean {
  return key !== 'recipe' && !key.startsWith('-') && key !== '_profile_base_location_';
}

async function extendedSections(ctx: RecipeContext): Promise<Options[]> {
  const done = new Map<string, Options>([[ctx.name, ctx.options]]);
  const todo = [ctx.name];
  while (todo.length > 0) {
    const section = done.get(todo.pop() as string) as Options;
    for (const name of (section.get('-extends') ?? '').split(/\s+/)) {
      if (name === '' || done.has(name)) continue;
      done.set(name, await ctx.section(name));
      todo.push(name);
    }
  }
  return [...done.values()];
}

function collect(sections: Options[]): PyDict {
  const values = new PyDict();
  for (const section of sections) {
    const explicit = section.get('-publish');
    const keys = explicit === undefined ? section.keys().filter(publishable) : explicit.split(/\s+/);
    for (const key of keys) {
      if (key === '') continue;
      values.set(key, section.getValue(key) ?? section.require(key));
    }
  }
  return values;
}

/**
 * The `_failsafe` variants: a failure to publish never fails the part; with
 * `-error-status-file`, the error is written there (removed after a success, and at uninstall),
 * and an update while it exists publishes again.
 */
async function failsafe(ctx: RecipeContext, publish: (ctx: RecipeContext) => Promise<void>): Promise<void> {
  const statusFile = ctx.options.get('-error-status-file');
  const path = statusFile ? resolve(ctx.directories.directory, statusFile) : undefined;
  try {
    await publish(ctx);
  } catch (error) {
    ctx.warn(`[${ctx.name}] publishing failed: ${(error as Error).message}`);
    if (path) await writeFile(path, `${(error as Error).stack ?? String(error)}\n`);
    return;
  }
  if (path) await rm(path, { force: true });
}

function publishRecipe(serialised: boolean, failsafeMode = false): Recipe {
  const publish = async (ctx: RecipeContext): Promise<void> => {
    const values = collect(ctx.state.get('sections') as Options[]);
    let parameters: Record<string, unknown>;
    if (serialised) {
      parameters = wrapSerialised(values, `[${ctx.name}]`);
    } else {
      parameters = {};
      // Parameter XML holds text: objects are published as Python prints them.
      for (const [key, value] of values.entries()) setEntry(parameters, pyStr(key), pyStr(value));
    }
    const connection = await slapConnection(ctx);
    const sharedReference = ctx.options.get('-slave-reference');
    const instanceGuid = sharedReference || (await partitionInstance(ctx, connection)).instance_guid;
    await withMaster(ctx, connection, (client) =>
      client.setConnectionParameters({ instanceGuid, parameters }, { signal: ctx.signal }),
    );
    ctx.logger.debug({ part: ctx.name, instanceGuid, keys: [...values.keys()] }, 'published');
  };
  const run = (ctx: RecipeContext): Promise<void> => (failsafeMode ? failsafe(ctx, publish) : publish(ctx));
  const recipe: Recipe = {
    version: '1',
    async init(ctx) {
      ctx.state.set('sections', await extendedSections(ctx));
    },
    async install(ctx) {
      await run(ctx);
      return [];
    },
    async update(ctx) {
      const statusFile = failsafeMode ? ctx.options.get('-error-status-file') : undefined;
      const failedBefore = statusFile ? existsSync(resolve(ctx.directories.directory, statusFile)) : false;
      if (failedBefore || ctx.options.get('-extends')) await run(ctx);
      return undefined;
    },
  };
  if (!failsafeMode) return recipe;
  return {
    ...recipe,
    async uninstall(uctx) {
      const statusFile = uctx.options['-error-status-file'];
      if (statusFile) await rm(resolve(uctx.directories.directory, statusFile), { force: true });
    },
  };
}

export const publish = publishRecipe(false);
export const publishSerialised = publishRecipe(true);
export const publishFailsafe = publishRecipe(false, true);
export const publishSerialisedFailsafe = publishRecipe(true, true);

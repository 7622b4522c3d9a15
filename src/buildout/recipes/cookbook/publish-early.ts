/**
 * `slapos.cookbook:publish-early`: publishes values before the rest of the instance is built, and
 * gives them back on later runs. During init, each `-init` line `KEY SECTION:OPTION` (unless the
 * section sets `KEY` itself: a forced value) names an option another recipe generates:
 *
 * 1. the connection parameters already published for the partition's instance are read (json-in-xml
 *    unwrapped);
 * 2. each SECTION (in order of first appearance) is initialised with OPTION preset to the published
 *    `KEY` when there is one — so a generator such as generate.password keeps it — then its value
 *    becomes `KEY` here and OPTION is removed from SECTION (readable only as `${publish-early:KEY}`);
 * 3. if any value differs from what was published, all the `-init` values are published at once as
 *    one json-in-xml `_` parameter (replacing the connection parameters, as the original).
 *
 * The keys are volatile (out of the installed record and the signature). A section read by anyone
 * before this part initialises it is an error, as in the original. `publish` with
 * `-extends = publish-early` publishes them with the rest. Install and update do nothing.
 */
import { serialise, type PyDict, type PyValue } from '../../py-value.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { partitionInstance, slapConnection, withMaster } from './slap.ts';
import { jsonToPy, pyToJson, unwrapSerialised, wrapSerialised } from './values.ts';

/** `-init`: section → (key → option), sections in order of first appearance. */
function initLines(ctx: RecipeContext): Map<string, Map<string, string>> {
  const init = new Map<string, Map<string, string>>();
  for (const line of ctx.options.require('-init').split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.trim().split(/\s+/);
    const [key, reference] = fields as [string, string];
    const parts = (reference ?? '').split(':');
    if (fields.length !== 2 || parts.length !== 2 || parts[0] === '' || parts[1] === '')
      throw ctx.error(`expected "KEY SECTION:OPTION" lines, got ${JSON.stringify(line.trim())}`, {
        option: '-init',
        code: 'SLAP_ERR_PROFILE',
      });
    if (ctx.options.has(key)) continue;
    const [section, option] = parts as [string, string];
    let entries = init.get(section);
    if (!entries) init.set(section, (entries = new Map<string, string>()));
    entries.set(key, option);
  }
  return init;
}

/** An option's text form for a value read from the master (strings as they are, others `!py!`). */
function optionText(value: PyValue): string {
  return typeof value === 'string' ? value : serialise(value);
}

export const publishEarly: Recipe = {
  version: '1',
  async init(ctx) {
    const init = initLines(ctx);
    if (init.size === 0) return;
    const connection = await slapConnection(ctx);
    const instance = await partitionInstance(ctx, connection);
    const unwrapped = unwrapSerialised(jsonToPy(instance.connection_parameters ?? {}), `[${ctx.name}]`);
    const published: PyDict =
      unwrapped !== null && typeof unwrapped === 'object' && !Array.isArray(unwrapped)
        ? (unwrapped as PyDict)
        : {};
    let changed = false;
    const publish: PyDict = {};
    for (const [sectionName, entries] of init) {
      const preset: Record<string, string> = {};
      for (const [key, option] of entries) {
        const value = published[key];
        if (value !== undefined) preset[option] = optionText(value);
      }
      const section = await ctx.sectionWith(sectionName, preset);
      const generated: Record<string, string> = {};
      for (const [key, option] of entries) {
        if (!section.has(option)) continue;
        const value = section.getValue(option) as PyValue;
        ctx.options.set(key, value);
        publish[key] = value;
        generated[option] = optionText(value);
        section.delete(option);
      }
      const same =
        Object.keys(generated).length === Object.keys(preset).length &&
        Object.entries(generated).every(([option, text]) => preset[option] === text);
      if (!same) changed = true;
    }
    if (changed) {
      const parameters = wrapSerialised(pyToJson(publish, `[${ctx.name}]`, { pythonNumbers: true }));
      await withMaster(ctx, connection, (client) =>
        client.setConnectionParameters(
          { instanceGuid: instance.instance_guid, parameters },
          { signal: ctx.signal },
        ),
      );
      ctx.logger.debug({ part: ctx.name, keys: Object.keys(publish) }, 'published early');
    }
    for (const key of Object.keys(publish)) ctx.options.markVolatile(key);
  },
  install() {
    return [];
  },
  update() {
    return undefined;
  },
};

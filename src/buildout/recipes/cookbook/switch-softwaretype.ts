/**
 * `slapos.cookbook:switch-softwaretype` (profiles.md §3.21): runs the instance profile of the
 * partition's software type as a nested buildout in the same directory. Options: one
 * `<software type> = <section>:<option>` per type (a reference string, not `${…}`: the option holds
 * the path of the rendered profile; reading it during init renders it first), and optionally
 * `override`, a dict `{type: profile}` whose profile is run extending the mapped one.
 * The type is `[slap-configuration]`'s `slap-software-type` (`RootSoftwareInstance` falls back to
 * `default`). The nested run keeps its own record `.installed-<section>.cfg`, inherits `offline`,
 * `newest`, `verbosity`, `directory`, `eggs-directory`, `develop-eggs-directory`, every
 * `[slap-connection]` option, and a `[slap-configuration]` holding every option of this run's one
 * with the no-op recipe `switch-softwaretype.noop` (the master is not asked twice). Install and
 * update run it (a nested run where nothing changed does nothing).
 */
import { resolve } from 'node:path';
import type { Assignment } from '../../loader.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import type { Options } from '../../resolver.ts';
import { PyDict } from '../../py-value.ts';

export const NOOP_RECIPE = 'slapos.cookbook:switch-softwaretype.noop';

interface Selection {
  profile: string;
  extends: string | undefined;
  connection: Options;
  configuration: Options;
}

/** A value in the escaped form a profile holds: a literal `${` becomes `$${`. */
function asRaw(value: string): string {
  return value.replace(/(?<!\$)\$\{/g, '$${');
}

function sectionAssignments(section: Options): Assignment[] {
  return Object.entries(section.snapshot()).map(([option, value]) => ({
    section: section.name,
    option,
    value: asRaw(value),
  }));
}

async function select(ctx: RecipeContext): Promise<Selection> {
  let configuration: Options;
  let softwareType: string | undefined;
  try {
    configuration = await ctx.section('slap-configuration');
    softwareType = configuration.get('slap-software-type');
  } catch (error) {
    throw ctx.error(
      'the section to retrieve slap partition parameters (with slapos.cookbook:slapconfiguration or a variant) must be named [slap-configuration]',
      { code: 'SLAP_ERR_PROFILE', cause: error },
    );
  }
  if (softwareType === undefined) {
    throw ctx.error(
      '[slap-configuration] has no slap-software-type: is its recipe slapos.cookbook:slapconfiguration?',
      {
        code: 'SLAP_ERR_PROFILE',
      },
    );
  }
  let type = softwareType;
  if (!ctx.options.has(type) && type === 'RootSoftwareInstance' && ctx.options.has('default')) {
    ctx.warn("the software type 'RootSoftwareInstance' is deprecated: 'default' is used instead");
    type = 'default';
  }
  const mapping = ctx.options.get(type);
  if (mapping === undefined) {
    throw ctx.error(`this software type (${type}) isn't mapped; 'default' is the default software type`, {
      option: type,
      code: 'SLAP_ERR_PROFILE',
    });
  }
  const parts = mapping.trim().split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw ctx.error(
      `the software types in the section [${ctx.name}] must be "section:option" (usually section:output), not ${JSON.stringify(mapping)}; don't use \${section:option}`,
      { option: type, code: 'SLAP_ERR_PROFILE' },
    );
  }
  const base = (await ctx.section(parts[0])).require(parts[1]);
  const override = ctx.options.has('override') ? ctx.options.getValue('override') : undefined;
  const overridden = override instanceof PyDict ? override.get(type) : undefined;
  if (typeof overridden === 'string' && overridden !== '') {
    return {
      profile: resolve(ctx.directories.directory, overridden),
      extends: resolve(ctx.directories.directory, base),
      connection: await ctx.section('slap-connection'),
      configuration,
    };
  }
  return {
    profile: resolve(ctx.directories.directory, base),
    extends: undefined,
    connection: await ctx.section('slap-connection'),
    configuration,
  };
}

async function runSelected(ctx: RecipeContext): Promise<undefined> {
  const selection = ctx.state.get('selection') as Selection;
  const assignments: Assignment[] = [];
  for (const option of ['verbosity', 'eggs-directory', 'develop-eggs-directory']) {
    const value = ctx.buildout.get(option);
    if (value !== undefined) assignments.push({ section: 'buildout', option, value: asRaw(value) });
  }
  if (selection.extends !== undefined)
    assignments.push({ section: 'buildout', option: 'extends', value: selection.extends });
  assignments.push(...sectionAssignments(selection.connection));
  assignments.push(...sectionAssignments(selection.configuration));
  assignments.push({ section: 'slap-configuration', option: 'recipe', value: NOOP_RECIPE });
  await ctx.runBuildout({
    configFile: selection.profile,
    assignments,
    installedFile: `.installed-${ctx.name}.cfg`,
  });
  return undefined;
}

export const switchSoftwareType: Recipe = {
  version: '1',
  async init(ctx) {
    ctx.state.set('selection', await select(ctx));
  },
  install: runSelected,
  update: runSelected,
};

/** The `[slap-configuration]` of a nested run: its options were injected; nothing to do. */
export const switchSoftwareTypeNoop: Recipe = {
  version: '1',
  install: () => [],
  update: () => undefined,
};

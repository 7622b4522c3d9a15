/**
 * Renders the instance profiles of one software release as the release's own buildout would, with
 * nothing built: the software profile is loaded by the engine (extends, macros, substitutions),
 * its template parts (`slapos.recipe.template`, `:jinja2`) and local `slapos.recipe.build:download`
 * parts run for real into a scratch directory, and every other recipe is replaced by a stub that
 * runs no code: its init sets `location` (`parts/<section>`, as most recipes do) and any option
 * read but not written in the profile (one a built part's recipe would set) gets a placeholder
 * path under PLACEHOLDER_ROOT, recorded so the report can say which were used.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProfile, runBuildout } from '../buildout/engine.ts';
import { loadRawProfile } from '../buildout/loader.ts';
import type { RawConfig } from '../buildout/parser.ts';
import type { Recipe } from '../buildout/recipe.ts';
import { slaposRecipeBuildDownload } from '../buildout/recipes/build.ts';
import { slaposRecipeTemplate } from '../buildout/recipes/template.ts';
import { slaposRecipeTemplateJinja2 } from '../buildout/recipes/template-jinja2.ts';
import { normaliseDist, parseRecipeSpec } from '../buildout/registry.ts';
import { Buildout, expandMacros, type Options } from '../buildout/resolver.ts';
import { schemaDefaultedParameters } from '../buildout/recipes/cookbook/jsonschema.ts';
import { setConfiguration } from '../buildout/recipes/cookbook/slapconfiguration.ts';
import { PyDict, PySet, fromJs } from '../buildout/py-value.ts';

export const PLACEHOLDER_ROOT = '/compat-placeholder';

/** What a part of the software profile makes of one file of the checkout. */
export interface RenderingPart {
  /** The software profile's section. */
  section: string;
  kind: 'template' | 'jinja2' | 'download';
  /** The absolute path of the template (or downloaded file) in the checkout. */
  source: string;
  /** The file written in the scratch directory (undefined if the part failed before knowing it). */
  output?: string;
}

export interface SoftwareRendering {
  /** Parts whose source is a file of the checkout. */
  parts: RenderingPart[];
  /** Errors met while initialising a part, by section (its source is then unknown). */
  partErrors: Map<string, string>;
  /** `section:option` given a placeholder path, in the order they were asked for. */
  placeholders: string[];
  /** Set when the software profile itself could not be loaded. */
  error?: string;
}

const RENDERING_KINDS: Record<string, RenderingPart['kind']> = {
  'slapos-recipe-template:default': 'template',
  'slapos-recipe-template:jinja2': 'jinja2',
  'slapos-recipe-build:download': 'download',
};

function recipeKind(recipe: string): RenderingPart['kind'] | undefined {
  try {
    const spec = parseRecipeSpec(recipe, '');
    return RENDERING_KINDS[`${normaliseDist(spec.dist)}:${spec.entry}`];
  } catch {
    return undefined;
  }
}

/**
 * What a stub's init does to its section: `location`, the options templates read with
 * `key`/`jsonkey` (`wanted`, by section) and any other missing option get placeholders.
 */
function stubOptions(
  options: Options,
  partsDirectory: string,
  placeholders: string[],
  wanted: ReadonlyMap<string, ReadonlySet<string>> = new Map(),
): void {
  if (!options.has('location')) options.set('location', join(partsDirectory, options.name));
  for (const key of wanted.get(options.name) ?? []) {
    if (options.has(key)) continue;
    placeholders.push(`${options.name}:${key}`);
    options.set(key, join(PLACEHOLDER_ROOT, options.name, key));
  }
  options.provideMissing((key) => {
    placeholders.push(`${options.name}:${key}`);
    return join(PLACEHOLDER_ROOT, options.name, key);
  });
}

/** `section:option` read by `key`/`jsonkey` lines of the `context` options of `raw`, by section. */
function contextReferences(raw: RawConfig): Map<string, Set<string>> {
  const wanted = new Map<string, Set<string>>();
  for (const section of raw.values()) {
    for (const line of (section.get('context')?.value ?? '').split('\n')) {
      const match = /^\s*(?:key|jsonkey)\s+\S+\s+([^\s:]+):(\S+)\s*$/.exec(line);
      if (!match) continue;
      const set = wanted.get(match[1] as string) ?? new Set<string>();
      set.add(match[2] as string);
      wanted.set(match[1] as string, set);
    }
  }
  return wanted;
}

function stubRecipe(placeholders: string[], wanted: ReadonlyMap<string, ReadonlySet<string>>): Recipe {
  return {
    version: 'compat-stub',
    init: (ctx) => stubOptions(ctx.options, ctx.directories.parts, placeholders, wanted),
    install: () => undefined,
  };
}

/**
 * The source of a part whose init failed (a template that does not compile, a context naming a
 * missing option): its `url`/`template` resolved with every recipe stubbed, so that the failure
 * is reported against the profile it renders.
 */
async function sourceAfterFailure(
  raw: RawConfig,
  section: string,
  kind: RenderingPart['kind'],
  scratch: string,
): Promise<string | undefined> {
  const placeholders: string[] = [];
  const buildout = new Buildout({
    raw,
    initRecipe: async (options) => {
      const parts = (await buildout.lookup('buildout', 'parts-directory')) ?? 'parts';
      stubOptions(options, resolve(scratch, parts), placeholders);
    },
  });
  try {
    const options = await buildout.section(section);
    const value = kind === 'download' ? options.get('url') : (options.get('url') ?? options.get('template'));
    return localSource(value, scratch);
  } catch {
    return undefined;
  }
}

/** A local path for a `url`/`template` value, or undefined if it is remote or inline. */
function localSource(value: string | undefined, directory: string): string | undefined {
  if (value === undefined || value.startsWith('inline:')) return undefined;
  const url = value.trim().replace(/#[0-9a-f]{32}$/, '');
  if (url.startsWith('file://')) return fileURLToPath(url);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return undefined;
  return resolve(directory, url);
}

/** Downloads of remote files are stubbed too: only files of the checkout are copied. */
function localDownload(stub: Recipe): Recipe {
  return {
    version: 'compat-download',
    async init(ctx) {
      if (localSource(ctx.options.get('url'), ctx.directories.directory) === undefined) {
        await stub.init?.(ctx);
        ctx.state.set('stub', true);
        return;
      }
      await slaposRecipeBuildDownload.init?.(ctx);
    },
    install: (ctx) => (ctx.state.get('stub') ? undefined : slaposRecipeBuildDownload.install(ctx)),
  };
}

/** Every section's recipe name (macros expanded), for the stub map. */
function recipeNames(raw: RawConfig): Map<string, string> {
  const names = new Map<string, string>();
  for (const name of raw.keys()) {
    try {
      const recipe = expandMacros(raw, name).get('recipe')?.value.trim();
      if (recipe && !recipe.includes('${')) names.set(name, recipe);
    } catch {
      // reported when the section is initialised
    }
  }
  return names;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Builds the stub of one recipe of the profile, or undefined for the generic stub. */
type StubFactory = (
  recipe: string,
  placeholders: string[],
  wanted: ReadonlyMap<string, ReadonlySet<string>>,
) => Recipe | undefined;

/**
 * slapconfiguration as for a partition with no instance parameter: `configuration` an empty dict
 * (with `.jsonschema`, the defaults of the release's schema for the section's software type, as
 * the recipe's `set-default` fills them), no shared instance, loopback addresses; every other
 * option a placeholder.
 */
function slapconfigurationStub(
  placeholders: string[],
  wanted: ReadonlyMap<string, ReadonlySet<string>>,
  withSchemaDefaults: boolean,
): Recipe {
  return {
    version: 'compat-slapconfiguration',
    async init(ctx) {
      const { options } = ctx;
      let configuration = new PyDict();
      if (withSchemaDefaults) {
        try {
          const defaulted = fromJs(await schemaDefaultedParameters(ctx, {}));
          if (defaulted instanceof PyDict) configuration = defaulted;
        } catch (error) {
          ctx.warn(`no schema defaults, the parameters stay empty: ${message(error)}`);
        }
      }
      setConfiguration(ctx, configuration, configuration);
      options.set('slave-instance-list', []);
      options.set('ipv4', new PySet(['127.0.0.1']));
      options.set('ipv6', new PySet(['::1']));
      options.set('ipv4-random', '127.0.0.1');
      options.set('ipv6-random', '::1');
      options.set('storage-dict', new PyDict());
      options.set('instance-state', 'started');
      options.set('slap-software-type', 'default');
      options.set('slap-computer-partition-id', 'slappart0');
      options.set('slap-computer-id', 'COMP-compat');
      options.set('instance-title', 'compat');
      options.set('root-instance-title', 'compat');
      stubOptions(options, ctx.directories.parts, placeholders, wanted);
    },
    install: () => undefined,
  };
}

/** request as if the requested instance had published a placeholder for each `return` name. */
function requestStub(placeholders: string[], wanted: ReadonlyMap<string, ReadonlySet<string>>): Recipe {
  return {
    version: 'compat-request',
    init(ctx) {
      const { options } = ctx;
      for (const name of (options.get('return') ?? '').split(/\s+/).filter(Boolean)) {
        if (!options.has(`connection-${name}`))
          options.set(`connection-${name}`, `compat-connection-${name}`);
      }
      options.set('instance-state', 'started');
      stubOptions(options, ctx.directories.parts, placeholders, wanted);
    },
    install: () => undefined,
  };
}

/** Stubs of the instance stage: parameters and requested instances answer with defaults. */
const instanceStubs: StubFactory = (recipe, placeholders, wanted) => {
  let name: string;
  try {
    const spec = parseRecipeSpec(recipe, '');
    name = `${normaliseDist(spec.dist)}:${spec.entry}`;
  } catch {
    return undefined;
  }
  if (name.startsWith('slapos-cookbook:slapconfiguration'))
    return slapconfigurationStub(
      placeholders,
      wanted,
      name === 'slapos-cookbook:slapconfiguration.jsonschema',
    );
  if (name.startsWith('slapos-cookbook:request')) return requestStub(placeholders, wanted);
  return undefined;
};

/**
 * Loads `softwareProfile` with the stubs and runs the parts that render files of the checkout
 * into `scratch` (the release's `buildout:directory`).
 */
export function renderSoftware(softwareProfile: string, scratch: string): Promise<SoftwareRendering> {
  return renderParts(softwareProfile, scratch, () => undefined);
}

/**
 * The second stage: runs an instance profile (a rendered one, with the partition tail) as the
 * instance buildout would with no instance parameter, so that its template parts render the
 * instance-time templates the release downloaded (`source`s are then files of the scratch tree).
 */
export function renderInstance(instanceProfile: string, scratch: string): Promise<SoftwareRendering> {
  return renderParts(instanceProfile, scratch, instanceStubs);
}

async function renderParts(
  softwareProfile: string,
  scratch: string,
  stubFor: StubFactory,
): Promise<SoftwareRendering> {
  const rendering: SoftwareRendering = { parts: [], partErrors: new Map(), placeholders: [] };
  // As the node's software pass: offline here, and no shared parts.
  const assignments = [
    `buildout:directory=${scratch}`,
    'buildout:offline=true',
    'buildout:shared-part-list=',
  ];
  let names: Map<string, string>;
  let wanted: Map<string, Set<string>>;
  try {
    const loaded = await loadRawProfile({ configFile: softwareProfile, assignments: [] });
    names = recipeNames(loaded.raw);
    wanted = contextReferences(loaded.raw);
  } catch (error) {
    rendering.error = message(error);
    return rendering;
  }
  const stub = stubRecipe(rendering.placeholders, wanted);
  const recipes: Record<string, Recipe> = {};
  for (const recipe of names.values())
    recipes[recipe] = stubFor(recipe, rendering.placeholders, wanted) ?? stub;
  for (const recipe of names.values()) {
    const kind = recipeKind(recipe);
    if (kind === 'template') recipes[recipe] = slaposRecipeTemplate;
    else if (kind === 'jinja2') recipes[recipe] = slaposRecipeTemplateJinja2;
    else if (kind === 'download') recipes[recipe] = localDownload(stub);
  }
  const common = { configFile: softwareProfile, cwd: scratch, assignments, offline: true, recipes };
  let profile;
  try {
    profile = await loadProfile(common);
  } catch (error) {
    rendering.error = message(error);
    return rendering;
  }
  for (const [section, recipe] of names) {
    const kind = recipeKind(recipe);
    if (!kind) continue;
    try {
      const options = await profile.section(section);
      const value =
        kind === 'download' ? options.get('url') : (options.get('url') ?? options.get('template'));
      const source = localSource(value, scratch);
      if (source === undefined) continue;
      const output =
        kind === 'download' ? options.get('target') : (options.get('output') ?? options.get('rendered'));
      rendering.parts.push({
        section,
        kind,
        source,
        ...(output ? { output: resolve(scratch, output) } : {}),
      });
    } catch (error) {
      rendering.partErrors.set(section, message(error));
      const source = await sourceAfterFailure(profile.raw, section, kind, scratch);
      if (source !== undefined) rendering.parts.push({ section, kind, source });
    }
  }
  // One run renders them all; when one fails, each is run alone to know which.
  const pending = rendering.parts.filter((part) => part.output !== undefined);
  try {
    await runBuildout({ ...common, parts: pending.map((part) => part.section) });
  } catch {
    for (const part of pending) {
      if (existsSync(part.output as string)) continue;
      try {
        await runBuildout({ ...common, parts: [part.section] });
      } catch (error) {
        rendering.partErrors.set(part.section, message(error));
      }
    }
  }
  return rendering;
}

/**
 * Runs one Python snippet of a part (slapos.recipe.build's `init`/`install`/`update`) on the run's
 * bridge, answering its questions from the engine: `self.buildout[section]` is `ctx.section`
 * (initialising it, recording the dependency), options are read and set as the engine's
 * (`!py!` values cross as Python objects through py-value.ts), `self.download` is `ctx.download`,
 * `self.extract` the engine's safe archive extraction.
 */
import { SlapError } from '../../core/errors.ts';
import { extractArchive } from '../../lib/archive.ts';
import type { RecipeContext } from '../recipe.ts';
import { resolveUrl } from '../recipes/common.ts';
import { isSerialised, serialise, type PyValue } from '../py-value.ts';
import type { Options } from '../resolver.ts';
import { MissingKeyError, SnippetError, type SnippetHost } from './bridge.ts';

export type Phase = 'init' | 'install' | 'update';

/**
 * The engine form of a str set by Python: `${` escaped (the engine unescapes `$${` when reading),
 * and a str that would read back as a `!py!` object stored serialised, so it reads back as itself.
 */
function storedText(value: string): string {
  return isSerialised(value) ? serialise(value) : value.replaceAll('${', () => '$${');
}

function text(value: PyValue | undefined, what: string): string {
  if (typeof value !== 'string') throw new SlapError('SLAP_ERR_RECIPE_FAILED', `${what} must be a str`);
  return value;
}

async function sectionOf(ctx: RecipeContext, name: string): Promise<Options | undefined> {
  if (name === ctx.name) return ctx.options;
  try {
    return await ctx.section(name);
  } catch (error) {
    if (error instanceof SlapError && error.details?.missingSection === name) return undefined;
    throw error;
  }
}

async function requireSection(ctx: RecipeContext, name: string): Promise<Options> {
  const options = await sectionOf(ctx, name);
  if (!options) throw new MissingKeyError(`No section named [${name}]`);
  return options;
}

/** The answers to a snippet's questions for part `ctx`. */
export function snippetHost(ctx: RecipeContext): SnippetHost {
  const methods: Record<string, (args: PyValue[]) => Promise<PyValue>> = {
    async section([name]) {
      return (await sectionOf(ctx, text(name, 'a section name'))) !== undefined;
    },
    async has_section([name]) {
      return (await sectionOf(ctx, text(name, 'a section name'))) !== undefined;
    },
    async get([section, key]) {
      const options = await requireSection(ctx, text(section, 'a section name'));
      const name = text(key, 'an option name');
      const raw = options.getText(name);
      if (raw === undefined) return [false, null];
      return [true, isSerialised(raw) ? (options.getValue(name) ?? null) : raw];
    },
    async set([section, key, value]) {
      const options = await requireSection(ctx, text(section, 'a section name'));
      const name = text(key, 'an option name');
      options.set(name, typeof value === 'string' ? storedText(value) : (value ?? null));
      return null;
    },
    async delete([section, key]) {
      const options = await requireSection(ctx, text(section, 'a section name'));
      const name = text(key, 'an option name');
      if (!options.has(name)) throw new MissingKeyError(name);
      options.delete(name);
      return null;
    },
    async keys([section]) {
      return (await requireSection(ctx, text(section, 'a section name'))).keys();
    },
    async download([url, md5sum]) {
      const offline = ctx.buildout.get('offline');
      const result = await ctx.download(resolveUrl(ctx, text(url, 'the URL')), {
        md5sum: typeof md5sum === 'string' ? md5sum : undefined,
        ...(offline === undefined ? {} : { offline: offline === 'true' }),
      });
      return [result.path, result.temporary];
    },
    async extract([path, directory]) {
      await extractArchive(text(path, 'the archive path'), text(directory, 'the directory'), {
        exec: (file, args, options) => ctx.exec(file, args, options),
        signal: ctx.signal,
      });
      return null;
    },
  };
  return {
    call(method, args) {
      const handler = methods[method];
      if (!handler) return Promise.reject(new Error(`unknown bridge method ${method}`));
      return handler(args);
    },
    output(stream, line) {
      ctx.output(stream, line);
    },
  };
}

/** The error every engine gives when profile code cannot run here (no python3). */
export function pythonUnavailable(ctx: RecipeContext, option: string): SlapError {
  return ctx.error(
    `this option is Python code, which this engine runs only where python3 is on the PATH (section [${ctx.name}], recipe ${ctx.recipe})`,
    {
      option,
      code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
      hint: 'Install python3 on the node, or rewrite the part with a supported recipe or a custom JavaScript recipe (docs/recipes.md).',
    },
  );
}

/** Runs the `phase` snippet `code` of part `ctx`; a Python exception becomes a SlapError naming the part. */
export async function runSnippet(
  ctx: RecipeContext,
  phase: Phase,
  code: string,
  location: string | undefined,
): Promise<void> {
  const bridge = ctx.python();
  if (!bridge) throw pythonUnavailable(ctx, phase);
  try {
    await bridge.run(ctx.name, phase, code, location, snippetHost(ctx));
  } catch (error) {
    if (!(error instanceof SnippetError)) throw error;
    const where = error.line === undefined ? '' : ` (line ${error.line} of ${phase})`;
    const message =
      error.type === 'UserError' ? error.pythonMessage : `${error.type}: ${error.pythonMessage}`;
    throw ctx.error(`${message}${where}`, { option: phase });
  }
}

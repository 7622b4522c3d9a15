/**
 * `slapos.recipe.template:jinja2` (profiles.md §3.2, §4): renders a Jinja2 template (src/template)
 * into `output` (legacy `rendered`) with `mode`. The template comes from `url` (path, file: or
 * http(s) URL; `md5sum` checked; legacy `template`, which may start with `inline:`) or `inline`
 * (the option's value), read with `encoding` (default utf-8). Undefined names are errors
 * (StrictUndefined), `extensions` may enable `jinja2.ext.do` and `jinja2.ext.loopcontrols`.
 *
 * `context`, one variable per line, `TYPE NAME VALUE`:
 *   raw NAME text…           the rest of the line
 *   key NAME section:option  the option's value (`!py!` objects as objects; `:option` = this section)
 *   jsonkey NAME sec:opt     the option's value parsed as JSON
 *   json NAME literal        the literal parsed as JSON
 *   section NAME section     a dict of every option of the section
 *   import NAME module       a stand-in of a Python module (json, os, re, urllib.parse, netaddr…)
 * Python's builtins and `dumps` (buildout's `!py!` serialiser) are context variables too.
 * `import-list` makes templates importable: `file NAME sec:opt` / `rawfile NAME path` (one file) and
 * `folder NAME sec:opt` / `rawfolder NAME path` (`NAME/sub/file`), names split on
 * `import-delimiter` (default `/`). With `once = PATH`, nothing is rendered once PATH exists; after
 * rendering, PATH is created (empty) and the output is not owned by the part. Without `mode`, the
 * output is 0777 (a `#!` script) or 0666, less the umask.
 *
 * Referenced sections are read during init (they become dependencies, installed first); the
 * template is downloaded and compiled during init too (errors show before anything is installed);
 * it is rendered at install and at update (the output is rewritten only if it changed).
 */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TextDecoder } from 'node:util';
import { SlapError } from '../../core/errors.ts';
import {
  Environment,
  PyDict,
  PyError,
  PyFunction,
  jsonLoads,
  pythonBuiltins,
  pythonModule,
  prefixLoader,
  SUPPORTED_MODULES,
  type ImportEntry,
  type PyValue as TemplateValue,
  type Template,
} from '../../template/index.ts';
import { serialise } from '../py-value.ts';
import type { Recipe, RecipeContext } from '../recipe.ts';
import type { Options } from '../resolver.ts';
import {
  lines,
  parseMode,
  renderedMode,
  requirePath,
  templateText,
  words,
  writeIfChanged,
} from './common.ts';

const DUMPS = new PyFunction('dumps', (args) => {
  if (args.length !== 1)
    throw new PyError('TypeError', `dumps() takes exactly one argument (${args.length} given)`);
  try {
    return serialise(args[0] as TemplateValue);
  } catch (error) {
    if (error instanceof PyError) throw new PyError(error.pyType, `dumps() ${error.message}`);
    throw error;
  }
});

/** `section:option` (`:option` = this part) → the section's options and the option name. */
async function reference(ctx: RecipeContext, text: string, option: string): Promise<[Options, string]> {
  const parts = text.trim().split(':');
  if (parts.length !== 2 || !parts[1]) {
    throw ctx.error(`expected section:option, got ${JSON.stringify(text)}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  }
  const section = parts[0] ? await ctx.section(parts[0]) : ctx.options;
  if (!section.has(parts[1])) {
    throw ctx.error(
      `${text.trim()} refers to an option that does not exist (section [${section.name}] has no option "${parts[1]}")`,
      {
        option,
        code: 'SLAP_ERR_PROFILE',
      },
    );
  }
  return [section, parts[1]];
}

function parseJson(ctx: RecipeContext, text: string, what: string): TemplateValue {
  try {
    return jsonLoads(text);
  } catch (error) {
    throw ctx.error(`${what} is not valid JSON: ${(error as Error).message}`, {
      option: 'context',
      code: 'SLAP_ERR_PROFILE',
    });
  }
}

/** Splits `TYPE NAME REST` on the first two runs of whitespace. */
function splitLine(line: string): [string, string, string] {
  const match = /^(\S+)\s+(\S+)(?:\s+([\s\S]*))?$/.exec(line);
  return match ? [match[1] as string, match[2] as string, match[3] ?? ''] : [line, '', ''];
}

async function contextValues(ctx: RecipeContext): Promise<Map<string, TemplateValue>> {
  const values = new Map<string, TemplateValue>();
  for (const line of lines(ctx.options.get('context'))) {
    const [type, name, rest] = splitLine(line);
    if (!name)
      throw ctx.error(`expected "TYPE NAME VALUE", got ${JSON.stringify(line)}`, {
        option: 'context',
        code: 'SLAP_ERR_PROFILE',
      });
    switch (type) {
      case 'raw':
        values.set(name, rest);
        break;
      case 'key': {
        const [section, option] = await reference(ctx, rest, 'context');
        values.set(name, section.getValue(option) ?? null);
        break;
      }
      case 'jsonkey': {
        const [section, option] = await reference(ctx, rest, 'context');
        values.set(name, parseJson(ctx, section.get(option) ?? '', rest.trim()));
        break;
      }
      case 'json':
        values.set(name, parseJson(ctx, rest, `the value of ${name}`));
        break;
      case 'section': {
        const section = await ctx.section(rest.trim());
        const dict = new PyDict();
        for (const key of section.keys()) dict.set(key, section.getValue(key) ?? null);
        values.set(name, dict);
        break;
      }
      case 'import': {
        const module = pythonModule(rest.trim());
        if (!module) {
          throw ctx.error(`Python module ${JSON.stringify(rest.trim())} is not available to templates`, {
            option: 'context',
            code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
            hint: `Available: ${SUPPORTED_MODULES.join(', ')}.`,
          });
        }
        values.set(name, module);
        break;
      }
      default:
        throw ctx.error(
          `unknown context type ${JSON.stringify(type)} (raw, key, jsonkey, json, section, import)`,
          {
            option: 'context',
            code: 'SLAP_ERR_PROFILE',
          },
        );
    }
  }
  return values;
}

async function importEntries(ctx: RecipeContext): Promise<Record<string, ImportEntry>> {
  const entries: Record<string, ImportEntry> = {};
  for (const line of lines(ctx.options.get('import-list'))) {
    const [type, name, rest] = splitLine(line);
    let path: string;
    if (type === 'file' || type === 'folder') {
      const [section, option] = await reference(ctx, rest, 'import-list');
      path = section.get(option) ?? '';
    } else if (type === 'rawfile' || type === 'rawfolder') {
      path = rest.trim();
    } else {
      throw ctx.error(`unknown import-list type ${JSON.stringify(type)} (file, rawfile, folder, rawfolder)`, {
        option: 'import-list',
        code: 'SLAP_ERR_PROFILE',
      });
    }
    if (!name || !path)
      throw ctx.error(`expected "TYPE NAME PATH", got ${JSON.stringify(line)}`, {
        option: 'import-list',
        code: 'SLAP_ERR_PROFILE',
      });
    entries[name] = {
      kind: type.endsWith('folder') ? 'folder' : 'file',
      path: resolve(ctx.directories.directory, path),
    };
  }
  return entries;
}

function decode(ctx: RecipeContext, data: Buffer): string {
  const encoding = ctx.options.get('encoding') || 'utf-8';
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    throw ctx.error(`unknown encoding ${JSON.stringify(encoding)}`, {
      option: 'encoding',
      code: 'SLAP_ERR_PROFILE',
    });
  }
  try {
    return decoder.decode(data);
  } catch (error) {
    throw ctx.error(`the template is not valid ${encoding}`, {
      option: 'encoding',
      code: 'SLAP_ERR_PROFILE',
      cause: error,
    });
  }
}

/** The template text and its name in error messages. */
async function templateSource(ctx: RecipeContext): Promise<{ text: string; name: string }> {
  const found = await templateText(ctx, ctx.options.get('inline'), (data) => decode(ctx, data));
  return { text: found.text, name: found.url ?? `[${ctx.name}]` };
}

/** The `once` marker file, if the option is set. */
function oncePath(ctx: RecipeContext): string | undefined {
  const once = ctx.options.get('once');
  return once ? resolve(ctx.directories.directory, once) : undefined;
}

async function render(ctx: RecipeContext): Promise<string[]> {
  const once = oncePath(ctx);
  if (once !== undefined && existsSync(once)) return [];
  const output = requirePath(ctx, 'output', 'rendered');
  const template = ctx.state.get('template') as Template;
  const context = new Map<string, TemplateValue>(pythonBuiltins());
  context.set('dumps', DUMPS);
  for (const [name, value] of ctx.state.get('context') as Map<string, TemplateValue>)
    context.set(name, value);
  let text: string;
  try {
    text = template.render(context, { signal: ctx.signal });
  } catch (error) {
    if (error instanceof SlapError) throw error;
    throw ctx.error(`rendering failed: ${(error as Error).message}`, { cause: error });
  }
  if (once === undefined) ctx.created(output);
  await writeIfChanged(output, text, await renderedMode(text, parseMode(ctx)));
  if (once === undefined) return [output];
  // As the original: the marker is created (never truncated) after rendering, and not owned.
  await (await open(once, 'a')).close();
  return [];
}

export const slaposRecipeTemplateJinja2: Recipe = {
  version: '1',
  async init(ctx) {
    requirePath(ctx, 'output', 'rendered');
    parseMode(ctx);
    const source = await templateSource(ctx);
    ctx.state.set('context', await contextValues(ctx));
    const environment = new Environment({
      undefined: 'strict',
      extensions: words(ctx.options.get('extensions')),
      loader: prefixLoader(await importEntries(ctx), {
        delimiter: ctx.options.get('import-delimiter') || '/',
      }),
    });
    ctx.state.set('template', environment.fromString(source.text, { name: source.name }));
  },
  install: render,
  update: async (ctx) => {
    await render(ctx);
    return undefined;
  },
};

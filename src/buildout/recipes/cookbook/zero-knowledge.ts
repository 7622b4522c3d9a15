/**
 * `slapos.cookbook:zero-knowledge.write` and `zero-knowledge.read`: parameters kept in an INI
 * file of the instance, in Python's `configparser` format, so that a value changed by hand in
 * the file survives the next runs.
 *
 * Both take `filename` (relative to `buildout:directory`) or `file-path` (as given); one of them
 * is required. write: the section named as the part holds every other option of the part (not
 * `recipe`, `filename`, `file-path`); install/update add the options missing from an existing
 * section and keep the values there; without that section (or file) the section is written
 * anew. The file is not owned by the part. read, during init: every option of every section of
 * the file (`configparser` semantics: lower-cased keys, `%(key)s` interpolation, `%%`) is set on
 * the part; nothing is installed.
 *
 * Written values are `configparser` values: each line break (`\n`, `\r`, `\r\n`: the ones
 * Python's text files split on) starts an indented continuation line, so no value can add a
 * section or a key; a `%` that is not `%%` or `%(name)s` is refused, as `configparser.set` does.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';

/** An INI file: sections in order, each a map of lower-cased keys to raw (uninterpolated) values. */
export type IniFile = Map<string, Map<string, string>>;

const SECTION = /^\[([^\]]+)\]/s;
const PY_SPACE =
  '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const OPTION = new RegExp(`^(.*?)${PY_SPACE}*[=:]${PY_SPACE}*(.*)$`, 's');
const LEADING = new RegExp(`^${PY_SPACE}+`);
const TRAILING = new RegExp(`${PY_SPACE}+$`);

/** Python's `str.strip()` (its whitespace set, which is not JavaScript's). */
export function pyStrip(text: string): string {
  return text.replace(LEADING, '').replace(TRAILING, '');
}
const DEFAULT_SECTION = 'DEFAULT';

/** Parses text as Python's `configparser` (default settings) reads it. */
export function parseIni(text: string): IniFile {
  const ini: IniFile = new Map();
  let section: Map<string, string> | undefined;
  let key: string | undefined;
  let indent = 0;
  for (const line of text.split(/\r\n|\r|\n/)) {
    const stripped = pyStrip(line);
    const lineIndent = line.length - line.replace(LEADING, '').length;
    if (stripped.startsWith('#') || stripped.startsWith(';')) continue;
    if (stripped === '') {
      if (section && key !== undefined) section.set(key, `${section.get(key)}\n`);
      continue;
    }
    if (section && key !== undefined && lineIndent > indent) {
      section.set(key, `${section.get(key)}\n${stripped}`);
      continue;
    }
    const header = SECTION.exec(stripped);
    if (header) {
      const name = header[1] as string;
      section = ini.get(name) ?? new Map<string, string>();
      ini.set(name, section);
      key = undefined;
      continue;
    }
    const option = OPTION.exec(stripped);
    if (!section || !option) continue; // configparser raises here; a foreign line is skipped
    key = pyStrip(option[1] as string).toLowerCase();
    indent = lineIndent;
    section.set(key, pyStrip(option[2] as string));
  }
  for (const values of ini.values()) for (const [k, v] of values) values.set(k, v.replace(TRAILING, ''));
  return ini;
}

/** `configparser`'s BasicInterpolation of `value` in `section` (with the DEFAULT section). */
export function interpolate(ini: IniFile, section: string, value: string, depth = 0): string {
  if (depth > 10) throw new Error(`interpolation too deep in [${section}]`);
  return value.replace(/%(%|\(([^)]*)\)s|.?)/gs, (whole, _m: string, name: string | undefined) => {
    if (whole === '%%') return '%';
    if (name === undefined) throw new Error(`'%' must be followed by '%' or '(': ${JSON.stringify(value)}`);
    const key = name.toLowerCase();
    const raw = ini.get(section)?.get(key) ?? ini.get(DEFAULT_SECTION)?.get(key);
    if (raw === undefined)
      throw new Error(`bad interpolation variable reference %(${name})s in [${section}]`);
    return interpolate(ini, section, raw, depth + 1);
  });
}

/** Whether `configparser.set` accepts `value` (every `%` is `%%` or `%(name)s`). */
function validInterpolation(value: string): boolean {
  return !/%/.test(value.replace(/%%|%\([^)]*\)s/g, ''));
}

/** The text `configparser.write` gives for `ini`, every line break of a value a continuation line. */
export function formatIni(ini: IniFile): string {
  let out = '';
  for (const [name, values] of ini) {
    out += `[${name}]\n`;
    for (const [key, value] of values) out += `${key} = ${value.replace(/\r\n|\r|\n/g, '\n\t')}\n`;
    out += '\n';
  }
  return out;
}

function iniPath(ctx: RecipeContext): string {
  const filename = ctx.options.get('filename');
  if (filename) return resolve(ctx.directories.directory, filename.trim());
  const path = ctx.options.get('file-path');
  if (path === undefined)
    throw ctx.error('You have to provide the parameter either "filename" or "file-path"', {
      option: 'filename',
      code: 'SLAP_ERR_PROFILE',
    });
  return resolve(ctx.directories.directory, path.trim());
}

async function readIni(ctx: RecipeContext, path: string): Promise<IniFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ctx.error(`cannot read ${path}: ${(error as Error).message}`, { code: 'SLAP_ERR_RECIPE_FAILED' });
  }
  return parseIni(text);
}

const NOT_SAVED = new Set(['recipe', 'filename', 'file-path']);

async function write(ctx: RecipeContext): Promise<undefined> {
  const path = iniPath(ctx);
  const wanted = new Map<string, string>();
  for (const key of ctx.options.keys()) {
    if (NOT_SAVED.has(key) || key.startsWith('__buildout')) continue;
    const value = ctx.options.get(key) ?? '';
    if (!validInterpolation(value))
      throw ctx.error(`invalid interpolation syntax in ${JSON.stringify(value)}`, {
        option: key,
        code: 'SLAP_ERR_PROFILE',
        hint: 'Write a literal % as %%.',
      });
    wanted.set(key.toLowerCase(), value);
  }
  const ini = (await readIni(ctx, path)) ?? new Map<string, Map<string, string>>();
  const existing = ini.get(ctx.name);
  if (existing) {
    for (const [key, value] of wanted) if (!existing.has(key)) existing.set(key, value);
  } else {
    ini.set(ctx.name, wanted);
  }
  await writeIfChanged(path, formatIni(ini), undefined);
  return undefined;
}

export const zeroKnowledgeWrite: Recipe = {
  version: '1',
  init(ctx) {
    iniPath(ctx);
  },
  install: write,
  update: write,
};

export const zeroKnowledgeRead: Recipe = {
  version: '1',
  async init(ctx) {
    const path = iniPath(ctx);
    const ini = await readIni(ctx, path);
    if (!ini) return;
    for (const [section, values] of ini) {
      const keys = new Set([...(ini.get(DEFAULT_SECTION)?.keys() ?? []), ...values.keys()]);
      if (section === DEFAULT_SECTION) continue;
      for (const key of keys) {
        const raw = values.get(key) ?? ini.get(DEFAULT_SECTION)?.get(key) ?? '';
        try {
          ctx.options.set(key, interpolate(ini, section, raw));
        } catch (error) {
          throw ctx.error(`${path}: ${(error as Error).message}`, { code: 'SLAP_ERR_PROFILE' });
        }
      }
    }
  },
  install() {
    return [];
  },
  update() {
    return [];
  },
};

/**
 * Loaders shaped like slapos.recipe.template:jinja2's `import-list`: each alias maps to one file
 * (`file`/`rawfile` entries: only the bare alias resolves) or to a folder (`folder`/`rawfolder`:
 * `alias/sub/name` resolves inside it, never outside). A name without the delimiter is looked up
 * as `name` + delimiter, as the recipe's RelaxedPrefixLoader does.
 */
import { readFileSync } from 'node:fs';
import { join, normalize, sep } from 'node:path';
import type { TemplateLoader, TemplateSource } from './environment.ts';

export interface ImportEntry {
  kind: 'file' | 'folder';
  /** Absolute path of the file or folder. */
  path: string;
}

export interface PrefixLoaderOptions {
  /** `import-delimiter` (default `/`). */
  delimiter?: string;
  /** Reads a template file; null when absent (default: UTF-8 from the filesystem). */
  readFile?: (path: string) => string | null;
}

function readUtf8(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR')
      return null;
    throw e;
  }
}

/** A loader for `{% import "alias" %}` / `{% include "alias/sub/file" %}` over import-list entries. */
export function prefixLoader(
  entries: Record<string, ImportEntry>,
  options: PrefixLoaderOptions = {},
): TemplateLoader {
  const delimiter = options.delimiter ?? '/';
  const read = options.readFile ?? readUtf8;
  return (name: string): TemplateSource | null => {
    const full = name.includes(delimiter) ? name : name + delimiter;
    const cut = full.indexOf(delimiter);
    const alias = full.slice(0, cut);
    const rest = full.slice(cut + delimiter.length);
    if (!Object.hasOwn(entries, alias)) return null;
    const entry = entries[alias]!;
    let path: string;
    if (entry.kind === 'file') {
      if (rest) return null;
      path = normalize(entry.path);
    } else {
      const base = normalize(entry.path);
      path = normalize(join(base, ...rest.split(delimiter)));
      if (path !== base && !path.startsWith(base.endsWith(sep) ? base : base + sep)) return null;
    }
    const source = read(path);
    return source === null ? null : { source, filename: path };
  };
}

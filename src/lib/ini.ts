/**
 * INI files as Python's ConfigParser reads them (used for slapos.cfg): `[section]` headers,
 * `key = value` or `key: value`, keys lower-cased, indented continuation lines, full-line comments
 * (`#`, `;`), a `[DEFAULT]` section whose keys every section inherits, and `%(name)s` interpolation
 * (`%%` is a literal percent). This is not the buildout dialect (see src/buildout).
 */
import { SlapError } from '../core/errors.ts';

export type IniSections = Map<string, Map<string, string>>;

export interface IniDocument {
  /** Section names in file order (DEFAULT excluded). */
  sections(): string[];
  has(section: string, key?: string): boolean;
  /** The interpolated value, or undefined. */
  get(section: string, key: string): string | undefined;
  /** Every key of a section (with DEFAULT's), interpolated. */
  items(section: string): Record<string, string>;
}

const SECTION_RE = /^\[([^\]]+)\]\s*$/;
const OPTION_RE = /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/;

export function parseIni(text: string, source = '<string>'): IniDocument {
  const raw: IniSections = new Map();
  const defaults = new Map<string, string>();
  let current: Map<string, string> | undefined;
  let lastKey: string | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const lineNo = index + 1;
    if (/^\s*[#;]/.test(line) && !/^\s/.test(line)) return;
    if (line.trim() === '') {
      // A blank line inside a value is kept by ConfigParser only if more continuation follows; we end the value.
      lastKey = undefined;
      return;
    }
    if (/^\s/.test(line)) {
      if (current && lastKey !== undefined) {
        const stripped = line.trim();
        if (stripped.startsWith('#') || stripped.startsWith(';')) return;
        current.set(lastKey, `${current.get(lastKey) ?? ''}\n${stripped}`);
        return;
      }
      throw new SlapError('SLAP_ERR_CONFIG', `${source}:${lineNo}: unexpected indented line`);
    }
    const header = SECTION_RE.exec(line);
    if (header) {
      const name = (header[1] ?? '').trim();
      if (name === 'DEFAULT') current = defaults;
      else {
        current = raw.get(name) ?? new Map();
        raw.set(name, current);
      }
      lastKey = undefined;
      return;
    }
    const option = OPTION_RE.exec(line);
    if (!option)
      throw new SlapError('SLAP_ERR_CONFIG', `${source}:${lineNo}: cannot parse line: ${line.trim()}`);
    if (!current)
      throw new SlapError('SLAP_ERR_CONFIG', `${source}:${lineNo}: option outside of any section`);
    lastKey = (option[1] ?? '').trim().toLowerCase();
    current.set(lastKey, (option[2] ?? '').trim());
  });

  const lookupRaw = (section: string, key: string): string | undefined =>
    raw.get(section)?.get(key) ?? defaults.get(key);

  const interpolate = (section: string, value: string, depth: number): string => {
    if (depth > 10)
      throw new SlapError('SLAP_ERR_CONFIG', `${source}: interpolation too deep in [${section}]`);
    return value.replace(/%(%|\(([^)]+)\)s)/g, (_match, what: string, name: string | undefined) => {
      if (what === '%') return '%';
      const key = (name ?? '').toLowerCase();
      const ref = lookupRaw(section, key);
      if (ref === undefined)
        throw new SlapError('SLAP_ERR_CONFIG', `${source}: [${section}] refers to unknown option %(${key})s`);
      return interpolate(section, ref, depth + 1);
    });
  };

  return {
    sections: () => [...raw.keys()],
    has: (section, key) =>
      key === undefined ? raw.has(section) : lookupRaw(section, key.toLowerCase()) !== undefined,
    get: (section, key) => {
      if (!raw.has(section) && section !== 'DEFAULT') return undefined;
      const value = lookupRaw(section, key.toLowerCase());
      return value === undefined ? undefined : interpolate(section, value, 0);
    },
    items: (section) => {
      const out: Record<string, string> = {};
      const keys = new Set([...defaults.keys(), ...(raw.get(section)?.keys() ?? [])]);
      for (const key of keys) {
        const value = lookupRaw(section, key);
        if (value !== undefined) out[key] = interpolate(section, value, 0);
      }
      return out;
    },
  };
}

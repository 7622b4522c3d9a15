/**
 * The installed-parts record (`.installed.cfg`, profiles.md §1.10), in buildout's own format so
 * that tools reading it (e.g. slapos.cookbook's free_port) keep working: `[buildout] parts = …`,
 * then one section per installed part with every option (sorted), `__buildout_installed__` (the
 * owned paths) and `__buildout_signature__`. Whitespace a parser would lose is written as
 * `%(__buildout_space…__)s` escapes; multi-line values continue on tab-indented lines.
 */
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { parseProfile } from './parser.ts';

export const INSTALLED_PATHS = '__buildout_installed__';
export const SIGNATURE = '__buildout_signature__';

export interface InstalledRecord {
  /** Installed parts in install order. */
  parts: string[];
  /** Options of each installed part (including INSTALLED_PATHS and SIGNATURE). */
  options: Map<string, Record<string, string>>;
  /** Other `[buildout]` keys of the record (kept as they are). */
  extra: Record<string, string>;
}

const SPACES: [string, string][] = [
  ['%(__buildout_space__)s', ' '],
  ['%(__buildout_space_n__)s', '\n'],
  ['%(__buildout_space_r__)s', '\r'],
  ['%(__buildout_space_f__)s', '\f'],
  ['%(__buildout_space_v__)s', '\v'],
  // Not in buildout: tabs next to line ends would otherwise be lost.
  ['%(__buildout_space_t__)s', '\t'],
];

const SPACEY = /[ \t\r\f\v]*\n[ \t\r\f\v\n]*|^[ \t\r\f\v]+|[ \t\r\f\v]+$/g;

function quoteSpaces(text: string): string {
  return text
    .replaceAll(' ', '%(__buildout_space__)s')
    .replaceAll('\t', '%(__buildout_space_t__)s')
    .replaceAll('\r', '%(__buildout_space_r__)s')
    .replaceAll('\f', '%(__buildout_space_f__)s')
    .replaceAll('\v', '%(__buildout_space_v__)s')
    .replaceAll('\n', '%(__buildout_space_n__)s');
}

/** One `key = value` line (plus continuation lines), buildout's `_save_option`. */
export function formatOption(key: string, value: string): string {
  let text = value.replace(SPACEY, (match) => {
    const newline = match.indexOf('\n');
    if (newline < 0) return quoteSpaces(match);
    return `${quoteSpaces(match.slice(0, newline))}\n\t${quoteSpaces(match.slice(newline + 1))}`;
  });
  if (text.startsWith('\n\t')) text = `%(__buildout_space_n__)s${text.slice(2)}`;
  if (text.endsWith('\n\t')) text = `${text.slice(0, -2)}%(__buildout_space_n__)s`;
  return `${key} = ${text}\n`;
}

function formatSection(name: string, options: Record<string, string>): string {
  const keys = Object.keys(options).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `[${name}]\n${keys.map((key) => formatOption(key, options[key] ?? '')).join('')}`;
}

export function formatInstalled(record: InstalledRecord): string {
  const buildout = {
    ...record.extra,
    installed_develop_eggs: record.extra.installed_develop_eggs ?? '',
    parts: record.parts.join(' '),
  };
  let text = formatSection('buildout', buildout);
  for (const part of record.parts) text += `\n${formatSection(part, record.options.get(part) ?? {})}`;
  return text;
}

function unquote(value: string): string {
  if (!value.includes('%(')) return value;
  let result = value;
  for (const [token, char] of SPACES) result = result.replaceAll(token, char);
  return result;
}

export function parseInstalled(text: string, file: string): InstalledRecord {
  const sections = parseProfile(text, file, { evaluateCondition: () => true });
  const options = new Map<string, Record<string, string>>();
  for (const [name, section] of sections) {
    const record: Record<string, string> = {};
    for (const [key, option] of section) record[key] = unquote(option.value);
    options.set(name, record);
  }
  const buildout = options.get('buildout') ?? {};
  options.delete('buildout');
  const parts = (buildout.parts ?? '').split(/\s+/).filter((p) => p !== '' && options.has(p));
  const { parts: _parts, ...extra } = buildout;
  return { parts, options, extra };
}

export function emptyRecord(): InstalledRecord {
  return { parts: [], options: new Map(), extra: {} };
}

/** The record file and its text as last read or written (to skip rewriting identical content). */
export class InstalledFile {
  private lastText: string | undefined;

  constructor(readonly path: string) {}

  async read(): Promise<InstalledRecord> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyRecord();
      throw error;
    }
    this.lastText = text;
    return parseInstalled(text, this.path);
  }

  /** Writes the record atomically, only if its content changed; removes the file when nothing is installed. */
  async write(record: InstalledRecord): Promise<void> {
    if (record.parts.length === 0 && !record.extra.installed_develop_eggs) {
      if (this.lastText !== undefined) await rm(this.path, { force: true });
      this.lastText = undefined;
      return;
    }
    const text = formatInstalled(record);
    if (text === this.lastText) return;
    await writeFileAtomic(this.path, text, { mode: 0o644 });
    this.lastText = text;
  }
}

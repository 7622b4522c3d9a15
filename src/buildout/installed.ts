/**
 * The installed-parts record (`.installed.cfg`, profiles.md §1.10), in buildout's own format so
 * that tools reading it (e.g. slapos.cookbook's free_port) keep working: `[buildout] parts = …`,
 * then one section per installed part with every option (sorted), `__buildout_installed__` (the
 * owned paths) and `__buildout_signature__`.
 *
 * Values, option keys and part names come partly from requesters (instance parameters become
 * options), so every string is written such that reading it back gives exactly what was written
 * (docs/buildout.md, "The installed-parts record"). Ordinary values are written as buildout writes
 * them: a newline starts a tab-indented continuation line, whitespace a parser would lose (at the
 * ends of the value or next to a newline) becomes buildout's `%(__buildout_space…__)s` escapes.
 * On top of that, anywhere in the text: `\r`, `\f`, `\v` become buildout's escapes, and the
 * `%` of `%(`, control characters, U+2028/U+2029 and lone surrogates become
 * `%(__slapos_uHEX__)s` (the code point in hexadecimal). Keys and part names escape the same way
 * every character their syntax does not allow.
 */
import { readFile, rm } from 'node:fs/promises';
import { SlapError } from '../core/errors.ts';
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

const BUILDOUT_ESCAPES: Readonly<Record<string, string>> = {
  ' ': '%(__buildout_space__)s',
  '\n': '%(__buildout_space_n__)s',
  '\r': '%(__buildout_space_r__)s',
  '\f': '%(__buildout_space_f__)s',
  '\v': '%(__buildout_space_v__)s',
  // Not in buildout: tabs next to line ends would otherwise be lost.
  '\t': '%(__buildout_space_t__)s',
};

const BUILDOUT_TOKENS = new Map(Object.entries(BUILDOUT_ESCAPES).map(([char, token]) => [token, char]));

/** The escape of any one character (a UTF-16 code unit for a lone surrogate). */
function escapeChar(char: string): string {
  return BUILDOUT_ESCAPES[char] ?? `%(__slapos_u${(char.codePointAt(0) as number).toString(16)}__)s`;
}

function escapeAll(text: string): string {
  return [...text].map(escapeChar).join('');
}

/**
 * Whitespace that a parser trims (JavaScript's `\s` and Python's `str.isspace`), except `\n`.
 * The control characters among them are escaped everywhere anyway.
 */
const SPACE = String.raw`[^\S\n]|[\x1c-\x1f\x85]`;
/** Characters escaped wherever they are: line breaks for some reader, controls, lone surrogates. */
const ALWAYS = String.raw`[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]|%(?=\()|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]`;
const VALUE_ESCAPES = new RegExp(
  String.raw`(?:${SPACE})*\n(?:${SPACE}|\n)*|^(?:${SPACE})+|(?:${SPACE})+$|${ALWAYS}`,
  'g',
);

/** The text of a value on the right of `key = `: see the module comment. */
export function formatValue(value: string): string {
  let text = value.replace(VALUE_ESCAPES, (match) => {
    const newline = match.indexOf('\n');
    if (newline < 0) return escapeAll(match);
    return `${escapeAll(match.slice(0, newline))}\n\t${escapeAll(match.slice(newline + 1))}`;
  });
  if (text.startsWith('\n\t')) text = `${BUILDOUT_ESCAPES['\n']}${text.slice(2)}`;
  if (text.endsWith('\n\t')) text = `${text.slice(0, -2)}${BUILDOUT_ESCAPES['\n']}`;
  return text;
}

/** Characters an option key cannot hold (option syntax), plus a leading comment mark or a trailing operator. */
const KEY_ESCAPES = new RegExp(String.raw`[\s{}[\]=:]|${ALWAYS}|^[#;]|[+-]$`, 'g');
/** Characters a section name cannot hold (header syntax, and the space-separated `parts` list). */
const NAME_ESCAPES = new RegExp(String.raw`[\s#[\]:;{}]|${ALWAYS}`, 'g');
const EMPTY = '%(__slapos_empty__)s';

function escapeName(name: string, pattern: RegExp): string {
  if (name === '') return EMPTY;
  return name.replace(pattern, (char) => escapeChar(char));
}

/** An option key as written in the record. */
export function formatKey(key: string): string {
  return escapeName(key, KEY_ESCAPES);
}

/** A part (section) name as written in the record. */
export function formatSectionName(name: string): string {
  return escapeName(name, NAME_ESCAPES);
}

const TOKEN =
  /%\(__buildout_space(?:_[nrfvt])?__\)s|%\(__slapos_u([0-9a-f]{1,6})__\)s|%\(__slapos_empty__\)s/g;

/** Reverses any of the escapes above (text without them, e.g. from older records, is unchanged). */
export function unescapeRecordText(text: string): string {
  if (!text.includes('%(')) return text;
  return text.replace(TOKEN, (token, hex: string | undefined) => {
    if (hex === undefined) return BUILDOUT_TOKENS.get(token) ?? '';
    const code = Number.parseInt(hex, 16);
    return code <= 0x10ffff ? String.fromCodePoint(code) : token;
  });
}

/** One `key = value` line (plus continuation lines), buildout's `_save_option`. */
export function formatOption(key: string, value: string): string {
  return `${formatKey(key)} = ${formatValue(value)}\n`;
}

/** A section; `written` holds values already in their written form (the `parts` list). */
function formatSection(
  name: string,
  options: Record<string, string>,
  written: Record<string, string> = {},
): string {
  const keys = [...Object.keys(options), ...Object.keys(written)].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const lines = keys.map((key) =>
    Object.hasOwn(written, key)
      ? `${formatKey(key)} = ${written[key]}\n`
      : formatOption(key, options[key] ?? ''),
  );
  return `[${formatSectionName(name)}]\n${lines.join('')}`;
}

export function formatInstalled(record: InstalledRecord): string {
  const { parts: _parts, ...extra } = record.extra;
  const buildout = { ...extra, installed_develop_eggs: record.extra.installed_develop_eggs ?? '' };
  // Each name is escaped alone (no whitespace left in it), then they are separated by spaces.
  let text = formatSection('buildout', buildout, { parts: record.parts.map(formatSectionName).join(' ') });
  for (const part of record.parts) text += `\n${formatSection(part, record.options.get(part) ?? {})}`;
  return text;
}

export function parseInstalled(text: string, file: string): InstalledRecord {
  const sections = parseProfile(text, file, { evaluateCondition: () => true });
  const options = new Map<string, Record<string, string>>();
  let buildout: Record<string, string> = {};
  for (const [name, section] of sections) {
    // fromEntries defines own properties: a key such as `__proto__` stays a key.
    const record = Object.fromEntries(
      [...section].map(([key, option]) => [unescapeRecordText(key), unescapeRecordText(option.value)]),
    );
    if (name === 'buildout') buildout = record;
    else options.set(unescapeRecordText(name), record);
  }
  // `parts` is read before unescaping: its names are escaped one by one.
  const rawParts = sections.get('buildout')?.get('parts')?.value ?? '';
  const parts = rawParts
    .split(/[ \t\n]+/)
    .filter((p) => p !== '')
    .map(unescapeRecordText)
    .filter((p) => options.has(p));
  const { parts: _parts, ...extra } = buildout;
  return { parts, options, extra };
}

export function emptyRecord(): InstalledRecord {
  return { parts: [], options: new Map(), extra: {} };
}

/** The record file and its text as last read or written (to skip rewriting identical content). */
export class InstalledFile {
  private lastText: string | undefined;

  constructor(
    readonly path: string,
    private readonly options: { onUnreadable?: (error: SlapError) => void } = {},
  ) {}

  /**
   * The record, or an empty one if there is none. A record that does not parse (older versions
   * wrote some values that do not read back) is treated as lost: `onUnreadable` is told, nothing
   * recorded in it is trusted or uninstalled, the parts are installed again and the next write
   * replaces it.
   */
  async read(): Promise<InstalledRecord> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyRecord();
      throw error;
    }
    this.lastText = text;
    try {
      return parseInstalled(text, this.path);
    } catch (error) {
      if (!(error instanceof SlapError) || error.code !== 'SLAP_ERR_PROFILE_SYNTAX') throw error;
      this.options.onUnreadable?.(error);
      return emptyRecord();
    }
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

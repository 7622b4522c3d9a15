/**
 * shadir entries as slapos.libnetworkcache writes and reads them: a directory key holds a JSON list
 * of `[entry_json, signature]` pairs, `entry_json` being a string of JSON (a flat object) signed as
 * it is. Everything read from a shadir is hostile: the listing and each entry are checked here, and
 * what does not fit is reported with a reason, never half-used.
 */
import { createHash } from 'node:crypto';

/** One `[entry_json, signature]` pair as served. */
export interface DirectoryPair {
  readonly entryJson: string;
  readonly signature: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A listing over this many pairs is refused (a hostile server cannot make us verify forever). */
export const MAX_DIRECTORY_PAIRS = 10_000;
const MAX_ENTRY_JSON = 64 * 1024;
const MAX_SIGNATURE = 8 * 1024;
const SHA512_HEX = /^[0-9a-f]{128}$/;

/** The shadir key of a binary software release: md5 of its URL, as its directory name. */
export function binaryEntryKey(softwareUrl: string): string {
  return createHash('md5').update(softwareUrl, 'utf8').digest('hex');
}

/** The shadir key of a downloaded source file (libnetworkcache `file-urlmd5:`). */
export function sourceEntryKey(url: string): string {
  return `file-urlmd5:${createHash('md5').update(url, 'utf8').digest('hex')}`;
}

export function isSha512Hex(text: string): boolean {
  return SHA512_HEX.test(text);
}

/**
 * Parses a shadir answer. The listing itself must be a JSON array (else it is refused whole); each
 * item that is not a pair of strings within size limits is skipped with its reason.
 */
export function parseDirectoryListing(body: string): Parsed<{ pairs: DirectoryPair[]; skipped: string[] }> {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the shadir answer is not JSON' };
  }
  if (!Array.isArray(data)) return { ok: false, reason: 'the shadir answer is not a JSON list' };
  if (data.length > MAX_DIRECTORY_PAIRS)
    return { ok: false, reason: `the shadir answer lists over ${MAX_DIRECTORY_PAIRS} entries` };
  const pairs: DirectoryPair[] = [];
  const skipped: string[] = [];
  data.forEach((item: unknown, index) => {
    if (
      !Array.isArray(item) ||
      item.length !== 2 ||
      typeof item[0] !== 'string' ||
      typeof item[1] !== 'string'
    ) {
      skipped.push(`entry ${index}: not a [entry, signature] pair of strings`);
    } else if (item[0].length > MAX_ENTRY_JSON || item[1].length > MAX_SIGNATURE) {
      skipped.push(`entry ${index}: over the size limit`);
    } else {
      pairs.push({ entryJson: item[0], signature: item[1] });
    }
  });
  return { ok: true, value: { pairs, skipped } };
}

/** An entry's JSON as a flat object of its own fields (no prototype), or the reason it is not one. */
export function parseEntryObject(entryJson: string): Parsed<Readonly<Record<string, unknown>>> {
  let data: unknown;
  try {
    data = JSON.parse(entryJson);
  } catch {
    return { ok: false, reason: 'the entry is not JSON' };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    return { ok: false, reason: 'the entry is not a JSON object' };
  const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of Object.entries(data)) fields[name] = value;
  return { ok: true, value: fields };
}

/** `[distro id, version, codename]`, as slapos.core's distribution_tuple(). */
export type OsTriple = readonly [string, string, string];

export interface BinaryEntry {
  readonly sha512: string;
  readonly softwareUrl: string | undefined;
  readonly softwareRoot: string | undefined;
  readonly multiarch: string;
  readonly os: OsTriple;
}

function isOsTriple(value: unknown): value is OsTriple {
  return Array.isArray(value) && value.length === 3 && value.every((part) => typeof part === 'string');
}

/**
 * The Python repr of a tuple of three str, as legacy entries stored `os` (`"('debian', '8.0', '')"`):
 * only plain quoted strings without escapes are understood; anything else is refused.
 */
export function parseLegacyOsRepr(text: string): OsTriple | undefined {
  const match =
    /^\(\s*('[^'\\]*'|"[^"\\]*")\s*,\s*('[^'\\]*'|"[^"\\]*")\s*,\s*('[^'\\]*'|"[^"\\]*")\s*,?\s*\)$/.exec(
      text,
    );
  if (!match) return undefined;
  const unquote = (quoted: string | undefined): string => (quoted ?? '').slice(1, -1);
  return [unquote(match[1]), unquote(match[2]), unquote(match[3])];
}

/**
 * A binary software release entry (slapgrid's upload: sha512, software_url, software_root,
 * multiarch, os). Legacy entries without `multiarch` but with `machine: "x86_64"` are read as
 * `x86_64-linux-gnu` with `os` given as a Python tuple repr, as slapos.core does.
 */
export function parseBinaryEntry(entryJson: string): Parsed<BinaryEntry> {
  const object = parseEntryObject(entryJson);
  if (!object.ok) return object;
  const fields = object.value;
  const sha512 = fields.sha512;
  if (typeof sha512 !== 'string' || !isSha512Hex(sha512))
    return { ok: false, reason: 'the entry has no valid sha512 (128 lower-case hex digits)' };
  let multiarch = fields.multiarch;
  let os = fields.os;
  if (multiarch === undefined && fields.machine === 'x86_64') {
    multiarch = 'x86_64-linux-gnu';
    os = typeof os === 'string' ? parseLegacyOsRepr(os) : undefined;
  }
  if (typeof multiarch !== 'string') return { ok: false, reason: 'the entry has no multiarch' };
  if (!isOsTriple(os)) return { ok: false, reason: 'the entry has no os [id, version, codename]' };
  const optionalString = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : undefined;
  return {
    ok: true,
    value: {
      sha512,
      softwareUrl: optionalString(fields.software_url),
      softwareRoot: optionalString(fields.software_root),
      multiarch,
      os: [os[0], os[1], os[2]],
    },
  };
}

/** A source download entry (`file-urlmd5:` key): its sha512 and the URL it was downloaded from. */
export function parseSourceEntry(entryJson: string): Parsed<{ sha512: string; url: string | undefined }> {
  const object = parseEntryObject(entryJson);
  if (!object.ok) return object;
  const { sha512, url } = object.value;
  if (typeof sha512 !== 'string' || !isSha512Hex(sha512))
    return { ok: false, reason: 'the entry has no valid sha512 (128 lower-case hex digits)' };
  return { ok: true, value: { sha512, url: typeof url === 'string' ? url : undefined } };
}

export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * JSON text exactly as Python's `json.dumps` writes it by default (`", "` and `": "` separators,
 * every character outside space..~ escaped as `\uXXXX`), so that entries we sign read as the original's.
 */
export function pythonJsonDumps(value: JsonValue): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError('only integers are written in entries');
    return String(value);
  }
  if (typeof value === 'string')
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  if (Array.isArray(value)) return `[${(value as readonly JsonValue[]).map(pythonJsonDumps).join(', ')}]`;
  const object = value as { readonly [key: string]: JsonValue };
  return `{${Object.keys(object)
    .map((key) => `${pythonJsonDumps(key)}: ${pythonJsonDumps(object[key] as JsonValue)}`)
    .join(', ')}}`;
}

/** The metadata slapgrid indexes a built software release with, in the original's key order. */
export function binaryEntryJson(entry: {
  sha512: string;
  softwareUrl: string;
  softwareRoot: string;
  multiarch: string;
  os: OsTriple;
}): string {
  return pythonJsonDumps({
    sha512: entry.sha512,
    software_url: entry.softwareUrl,
    software_root: entry.softwareRoot,
    multiarch: entry.multiarch,
    os: [...entry.os],
  });
}

/** The body of a shadir PUT: `[entry_json, signature]` as Python writes it. */
export function directoryPutBody(entryJson: string, signature: string): string {
  return pythonJsonDumps([entryJson, signature]);
}

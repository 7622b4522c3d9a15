/**
 * What an instance says about its data (issue 12): which paths of its partition hold it, how to make
 * them consistent before a snapshot, how to put a restored copy in place and check it, how often and
 * how many backups to keep. The recipe `slapos.cookbook:backup` writes one declaration per section as
 * `<partition>/.slapos-backup/<section>.json`; the node reads them (the partition's user wrote them:
 * they are hostile) and merges them into one plan per partition.
 *
 * Paths and exclude patterns are partition-relative and normalised; commands are absolute paths of
 * executables run without a shell. Anything else — `..`, an absolute path, NUL, control characters,
 * line terminators, unpaired surrogates — is refused with SLAP_ERR_INVALID_INPUT naming the field.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SlapError } from './errors.ts';

/** In the partition root; one file per section: `<section>.json`. */
export const DECLARATION_DIRECTORY = '.slapos-backup';

export interface BackupRetention {
  last: number;
  hourly: number;
  daily: number;
}

export interface BackupDeclaration {
  /** The buildout section name (the file is `<name>.json`). */
  name: string;
  /** Partition-relative, normalised, no `..`, not absolute; a non-empty list. */
  paths: string[];
  /** restic `--exclude` patterns, partition-relative. */
  exclude: string[];
  /** Absolute path of an executable run before the snapshot (cwd = partition root). */
  backupCommand: string | null;
  /** Run after the files are restored into place (services stopped). */
  restoreCommand: string | null;
  /** Checks a restored copy (exit 0 = good); run after restoreCommand. */
  checkCommand: string | null;
  /** 1 ≤ periodSeconds ≤ MAX_PERIOD_SECONDS. */
  periodSeconds: number;
  keep: BackupRetention;
}

/** One plan per partition: what the node runs for all its declarations together. */
export interface PartitionBackupPlan {
  paths: string[];
  exclude: string[];
  /** In declaration name order. */
  backupCommands: string[];
  restoreCommands: string[];
  checkCommands: string[];
  periodSeconds: number;
  keep: BackupRetention;
}

export const DECLARATION_VERSION = 1;
export const MAX_PERIOD_SECONDS = 86400 * 31;
export const DEFAULT_PERIOD_SECONDS = 3600;
export const DEFAULT_KEEP: Readonly<BackupRetention> = { last: 10, hourly: 24, daily: 7 };
/** Bound of each retention count (restic takes any; more is surely a mistake). */
export const MAX_KEEP = 100_000;
/** A declaration file larger than this is refused unread. */
export const MAX_DECLARATION_BYTES = 1024 * 1024;
const MAX_NAME_LENGTH = 200;
const MAX_PATH_LENGTH = 4096;
const MAX_LIST_LENGTH = 1000;

// C0 and C1 controls, DEL and every Unicode line terminator (\x1c-\x1e, \x85 are among the controls).
const CONTROL_OR_LINE_BREAK = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const UNPAIRED_SURROGATE = /\p{Cs}/u;

function invalid(where: string, message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', `${where}: ${message}`);
}

/** Why `text` cannot be a name, path or pattern written in a declaration, or undefined. */
function textProblem(text: string, maxLength: number): string | undefined {
  if (text === '') return 'is empty';
  if (text.length > maxLength) return `is longer than ${maxLength} characters`;
  if (text.includes('\0')) return 'contains a NUL character';
  if (CONTROL_OR_LINE_BREAK.test(text)) return 'contains a control character or a line terminator';
  if (UNPAIRED_SURROGATE.test(text)) return 'contains an unpaired surrogate (not Unicode text)';
  return undefined;
}

/** Why `name` cannot name a declaration (and its file `<name>.json`), or undefined. */
export function declarationNameProblem(name: string): string | undefined {
  const problem = textProblem(name, MAX_NAME_LENGTH);
  if (problem) return problem;
  if (name.includes('/')) return 'contains "/" (it names a file)';
  if (name.startsWith('.')) return 'starts with "." (hidden and temporary files are not declarations)';
  return undefined;
}

/**
 * Why `path` is not a normalised partition-relative path, or undefined. `..`, absolute paths, `.`
 * (the whole partition) and paths not in normal form (`a//b`, `a/./b`, `a/`) are refused.
 */
export function relativePathProblem(path: string): string | undefined {
  const problem = textProblem(path, MAX_PATH_LENGTH);
  if (problem) return problem;
  if (path.startsWith('/')) return 'is absolute (paths are relative to the partition)';
  if (path.split('/').includes('..')) return 'contains ".." (paths stay inside the partition)';
  if (path === '.') return 'is the whole partition (name what holds the data)';
  if (posix.normalize(path) !== path || path.endsWith('/'))
    return `is not in normal form (${JSON.stringify(posix.normalize(path).replace(/\/$/, ''))})`;
  return undefined;
}

/** Why `command` is not the absolute, normalised path of an executable, or undefined. */
export function commandPathProblem(command: string): string | undefined {
  const problem = textProblem(command, MAX_PATH_LENGTH);
  if (problem) return problem;
  if (!command.startsWith('/')) return 'is not an absolute path';
  if (command.split('/').includes('..')) return 'contains ".."';
  if (posix.normalize(command) !== command || command.endsWith('/')) return 'is not in normal form';
  return undefined;
}

function checkText(where: string, value: unknown, problemOf: (text: string) => string | undefined): string {
  if (typeof value !== 'string') throw invalid(where, 'must be a string');
  const problem = problemOf(value);
  if (problem) throw invalid(where, `${JSON.stringify(value)} ${problem}`);
  return value;
}

function checkList(where: string, value: unknown, problemOf: (text: string) => string | undefined): string[] {
  if (!Array.isArray(value)) throw invalid(where, 'must be a list of strings');
  if (value.length > MAX_LIST_LENGTH) throw invalid(where, `has more than ${MAX_LIST_LENGTH} entries`);
  const seen = new Set<string>();
  return value.map((item, index) => {
    const text = checkText(`${where}[${index}]`, item, problemOf);
    if (seen.has(text)) throw invalid(`${where}[${index}]`, `${JSON.stringify(text)} is listed twice`);
    seen.add(text);
    return text;
  });
}

function checkInteger(where: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(
      where,
      `must be an integer from ${min} to ${max}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  return value;
}

function checkCommand(where: string, value: unknown): string | null {
  return value === null ? null : checkText(where, value, commandPathProblem);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(where: string, value: Record<string, unknown>, keys: readonly string[]): void {
  for (const key of Object.keys(value))
    if (!keys.includes(key)) throw invalid(where, `unknown field ${JSON.stringify(key)}`);
  for (const key of keys) if (!Object.hasOwn(value, key)) throw invalid(where, `missing field "${key}"`);
}

/** A declaration's fields, in the order it is written. */
export const DECLARATION_FIELDS = [
  'version',
  'name',
  'paths',
  'exclude',
  'backupCommand',
  'restoreCommand',
  'checkCommand',
  'periodSeconds',
  'keep',
] as const;

/** Validates a declaration given as plain data; the declaration, copied. */
function checkDeclaration(value: Record<string, unknown>, where: string): BackupDeclaration {
  const name = checkText(`${where}: name`, value.name, declarationNameProblem);
  const paths = checkList(`${where}: paths`, value.paths, relativePathProblem);
  if (paths.length === 0) throw invalid(`${where}: paths`, 'must list at least one path');
  const keep = value.keep;
  if (!isRecord(keep)) throw invalid(`${where}: keep`, 'must be an object {last, hourly, daily}');
  checkKeys(`${where}: keep`, keep, ['last', 'hourly', 'daily']);
  return {
    name,
    paths,
    exclude: checkList(`${where}: exclude`, value.exclude, relativePathProblem),
    backupCommand: checkCommand(`${where}: backupCommand`, value.backupCommand),
    restoreCommand: checkCommand(`${where}: restoreCommand`, value.restoreCommand),
    checkCommand: checkCommand(`${where}: checkCommand`, value.checkCommand),
    periodSeconds: checkInteger(`${where}: periodSeconds`, value.periodSeconds, 1, MAX_PERIOD_SECONDS),
    keep: {
      last: checkInteger(`${where}: keep.last`, keep.last, 1, MAX_KEEP),
      hourly: checkInteger(`${where}: keep.hourly`, keep.hourly, 0, MAX_KEEP),
      daily: checkInteger(`${where}: keep.daily`, keep.daily, 0, MAX_KEEP),
    },
  };
}

/** The declaration as the JSON file holds it (`{"version":1,…}`); an invalid one is refused. */
export function serializeDeclaration(d: BackupDeclaration): string {
  const checked = checkDeclaration({ ...d }, `backup declaration ${JSON.stringify(d.name)}`);
  return `${JSON.stringify({ version: DECLARATION_VERSION, ...checked }, null, 2)}\n`;
}

/** Reads a declaration file's text; `where` (its path) prefixes every error. */
export function parseDeclaration(text: string, where: string): BackupDeclaration {
  if (text.length > MAX_DECLARATION_BYTES) throw invalid(where, `larger than ${MAX_DECLARATION_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(where, `not JSON (${(error as Error).message})`);
  }
  if (!isRecord(value)) throw invalid(where, 'not a JSON object');
  checkKeys(where, value, DECLARATION_FIELDS);
  if (value.version !== DECLARATION_VERSION)
    throw invalid(
      where,
      `unknown version ${JSON.stringify(value.version)} (this node reads version ${DECLARATION_VERSION})`,
    );
  return checkDeclaration(value, where);
}

/**
 * The declarations of a partition, sorted by name; [] when it has none. The directory and its
 * `*.json` entries must be a plain directory and plain files (a symlink could make the node, which
 * may run as root, read or back up what the partition's user may not); other entries are ignored.
 * Each file must be named after its declaration.
 */
export async function readDeclarations(partitionRoot: string): Promise<BackupDeclaration[]> {
  const directory = join(partitionRoot, DECLARATION_DIRECTORY);
  const before = await lstat(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw invalid(directory, `cannot be read (${error.code ?? error.message})`);
  });
  if (before === undefined) return [];
  if (!before.isDirectory()) throw invalid(directory, 'is not a directory (a symlink is refused)');
  const names = (await readdir(directory)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  const declarations: BackupDeclaration[] = [];
  for (const file of names) {
    const path = join(directory, file);
    const text = await readPlainFile(path);
    const declaration = parseDeclaration(text, path);
    if (`${declaration.name}.json` !== file)
      throw invalid(path, `declares ${JSON.stringify(declaration.name)}: the file must be named after it`);
    declarations.push(declaration);
  }
  const after = await lstat(directory);
  if (!after.isDirectory() || after.ino !== before.ino || after.dev !== before.dev)
    throw invalid(directory, 'was replaced while it was read');
  return declarations.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A regular file's text, opened without following a symlink, bounded in size. */
async function readPlainFile(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalid(path, code === 'ELOOP' ? 'is a symlink (refused)' : `cannot be read (${code ?? 'error'})`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw invalid(path, 'is not a regular file');
    if (info.size > MAX_DECLARATION_BYTES) throw invalid(path, `larger than ${MAX_DECLARATION_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_DECLARATION_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_DECLARATION_BYTES) throw invalid(path, `larger than ${MAX_DECLARATION_BYTES} bytes`);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, bytesRead));
    } catch {
      throw invalid(path, 'is not UTF-8 text');
    }
  } finally {
    await handle.close();
  }
}

function isInside(path: string, parent: string): boolean {
  return path.startsWith(`${parent}/`);
}

/**
 * One plan for a partition's declarations (undefined for none): the union of their paths (a path
 * inside another listed one is dropped: it is backed up with it) and exclude patterns, their
 * commands in name order, the smallest period and the largest of each retention count.
 */
export function mergeDeclarations(list: BackupDeclaration[]): PartitionBackupPlan | undefined {
  if (list.length === 0) return undefined;
  const sorted = [...list].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const allPaths = [...new Set(sorted.flatMap((d) => d.paths))];
  const commands = (pick: (d: BackupDeclaration) => string | null): string[] =>
    sorted.map(pick).filter((command): command is string => command !== null);
  return {
    paths: allPaths.filter((path) => !allPaths.some((other) => isInside(path, other))),
    exclude: [...new Set(sorted.flatMap((d) => d.exclude))],
    backupCommands: commands((d) => d.backupCommand),
    restoreCommands: commands((d) => d.restoreCommand),
    checkCommands: commands((d) => d.checkCommand),
    periodSeconds: Math.min(...sorted.map((d) => d.periodSeconds)),
    keep: {
      last: Math.max(...sorted.map((d) => d.keep.last)),
      hourly: Math.max(...sorted.map((d) => d.keep.hourly)),
      daily: Math.max(...sorted.map((d) => d.keep.daily)),
    },
  };
}

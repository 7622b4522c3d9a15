/**
 * Which promises a partition has:
 * - legacy promises: every executable regular file in `<partition>/etc/promise/` (exit 0 = ok);
 * - declarative promises: `<partition>/etc/promise.d/<title>.json`, one check each (docs/promises.md);
 * - `<partition>/etc/plugin/<title>.py` (Python plugin promises of the original) cannot run here; each
 *   one without a declarative translation of the same title is reported as a failing promise.
 * A definition that cannot be read or validated is itself a failing promise, naming the problem.
 */
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';

export type PromiseCheck =
  | { readonly kind: 'executable'; readonly path: string }
  | { readonly kind: 'socket'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix-socket'; readonly path: string }
  | {
      readonly kind: 'url';
      readonly url: string;
      readonly status: number;
      readonly contains: string | undefined;
      readonly verifyTls: boolean;
    }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly exists: boolean;
      readonly minSize: number | undefined;
      readonly maxSize: number | undefined;
    }
  | { readonly kind: 'command'; readonly argv: readonly string[] }
  /** A definition that is wrong or cannot run here: always fails with `reason`. */
  | { readonly kind: 'invalid'; readonly reason: string };

export interface PromiseDefinition {
  /** Name of the result (`<title>.status.json`): the file name, without `.json`/`.py`. */
  readonly title: string;
  /** File name of the definition. */
  readonly name: string;
  /** Absolute path of the definition. */
  readonly path: string;
  readonly legacy: boolean;
  readonly check: PromiseCheck;
  /** Seconds between two runs when not forced. */
  readonly periodicity: number;
  /** Seconds; undefined = the node's promise_timeout. */
  readonly timeout: number | undefined;
  /** Anomaly mode: the promise is in anomaly when this many latest runs all failed. */
  readonly failureAmount: number;
  /** Run in test mode (after a deployment). */
  readonly test: boolean;
  /** Run in anomaly mode (up-to-date partitions). */
  readonly anomaly: boolean;
  /** A failure in anomaly mode may bang the instance (never for legacy promises). */
  readonly bangOnFailure: boolean;
}

/** Default periodicity of every promise (the original: 2 minutes). */
export const DEFAULT_PERIODICITY = 120;
/** Legacy promises are in anomaly after 3 failed runs in a row, as the original. */
const LEGACY_FAILURE_AMOUNT = 3;
/** Failure amounts of the original's plugins that the declarative kinds replace. */
const DEFAULT_FAILURE_AMOUNT: Record<string, number> = { socket: 3, url: 3, command: 3, file: 1 };

export const LEGACY_DIR = join('etc', 'promise');
export const DECLARATIVE_DIR = join('etc', 'promise.d');
export const PLUGIN_DIR = join('etc', 'plugin');

/**
 * The partition's promises. `onIgnored` hears of each non-executable file in etc/promise (the
 * original warns "Bad promise file" and skips them).
 */
export async function listPromises(
  partitionDir: string,
  options: { onIgnored?: (name: string) => void } = {},
): Promise<PromiseDefinition[]> {
  const definitions: PromiseDefinition[] = [];
  const declarative = new Set<string>();
  for (const name of await sortedEntries(join(partitionDir, DECLARATIVE_DIR))) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    const path = join(partitionDir, DECLARATIVE_DIR, name);
    const title = name.slice(0, -'.json'.length);
    declarative.add(title);
    definitions.push(await readDeclarative(path, title, name));
  }
  for (const name of await sortedEntries(join(partitionDir, PLUGIN_DIR))) {
    if (!name.endsWith('.py') || name.startsWith('__init__')) continue;
    const title = name.slice(0, -'.py'.length);
    if (declarative.has(title)) continue;
    definitions.push(
      invalid(
        join(partitionDir, PLUGIN_DIR, name),
        title,
        name,
        'Python plugin promises cannot run on this node; the profile must declare this check in etc/promise.d',
      ),
    );
  }
  for (const name of await sortedEntries(join(partitionDir, LEGACY_DIR))) {
    const path = join(partitionDir, LEGACY_DIR, name);
    if (!(await isExecutableFile(path))) {
      options.onIgnored?.(name);
      continue;
    }
    definitions.push({
      title: name,
      name,
      path,
      legacy: true,
      check: { kind: 'executable', path },
      periodicity: DEFAULT_PERIODICITY,
      timeout: undefined,
      failureAmount: LEGACY_FAILURE_AMOUNT,
      test: true,
      anomaly: true,
      bangOnFailure: false,
    });
  }
  const seen = new Set<string>();
  return definitions.map((definition) => {
    if (!seen.has(definition.title)) {
      seen.add(definition.title);
      return definition;
    }
    return invalid(
      definition.path,
      `${definition.title}@${definition.name}`,
      definition.name,
      `another promise is already titled ${definition.title}`,
    );
  });
}

const COMMON_KEYS = [
  'kind',
  'periodicity',
  'timeout',
  'failure-amount',
  'test',
  'anomaly',
  'bang-on-failure',
  'description',
];
const KIND_KEYS: Record<string, string[]> = {
  socket: ['host', 'port', 'path'],
  url: ['url', 'status', 'contains', 'verify-tls'],
  file: ['path', 'exists', 'min-size', 'max-size'],
  command: ['command'],
};

async function readDeclarative(path: string, title: string, name: string): Promise<PromiseDefinition> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    return invalid(path, title, name, `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return parseDeclarative(value, { path, title, name });
  } catch (error) {
    return invalid(path, title, name, `${path}: ${(error as Error).message}`);
  }
}

/** Validates one declarative promise (the JSON object of `etc/promise.d/<title>.json`). */
export function parseDeclarative(
  value: unknown,
  where: { path: string; title: string; name: string },
): PromiseDefinition {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('must be a JSON object');
  const object = value as Record<string, unknown>;
  const kind = object.kind;
  if (typeof kind !== 'string' || !(kind in KIND_KEYS))
    throw new Error(`"kind" must be one of ${Object.keys(KIND_KEYS).join(', ')}`);
  const allowed = new Set([...COMMON_KEYS, ...(KIND_KEYS[kind] ?? [])]);
  const unknown = Object.keys(object).filter((key) => !allowed.has(key));
  if (unknown.length > 0)
    throw new Error(`unknown key${unknown.length > 1 ? 's' : ''} for kind ${kind}: ${unknown.join(', ')}`);

  const str = (key: string): string | undefined => {
    const v = object[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`"${key}" must be a non-empty string`);
    return v;
  };
  const int = (key: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
    const v = object[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new Error(`"${key}" must be an integer from ${min} to ${max}`);
    return v;
  };
  const num = (key: string, min: number): number | undefined => {
    const v = object[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
      throw new Error(`"${key}" must be a number ≥ ${min}`);
    return v;
  };
  const bool = (key: string): boolean | undefined => {
    const v = object[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw new Error(`"${key}" must be true or false`);
    return v;
  };
  const required = <T>(key: string, v: T | undefined): T => {
    if (v === undefined) throw new Error(`"${key}" is required for kind ${kind}`);
    return v;
  };

  let check: PromiseCheck;
  switch (kind) {
    case 'socket': {
      const socketPath = str('path');
      const host = str('host');
      const port = int('port', 1, 65535);
      if (socketPath !== undefined) {
        if (host !== undefined || port !== undefined)
          throw new Error('give either "path" or "host" and "port", not both');
        check = { kind: 'unix-socket', path: socketPath };
      } else check = { kind: 'socket', host: required('host', host), port: required('port', port) };
      break;
    }
    case 'url': {
      const url = required('url', str('url'));
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new Error(`"url" ${JSON.stringify(url)} is not a URL`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
        throw new Error('"url" must be http:// or https://');
      check = {
        kind: 'url',
        url,
        status: int('status', 100, 599) ?? 200,
        contains: object.contains === undefined ? undefined : required('contains', str('contains')),
        verifyTls: bool('verify-tls') ?? false,
      };
      break;
    }
    case 'file': {
      const exists = bool('exists') ?? true;
      const minSize = int('min-size', 0);
      const maxSize = int('max-size', 0);
      if (!exists && (minSize !== undefined || maxSize !== undefined))
        throw new Error('"min-size" and "max-size" make no sense with "exists": false');
      check = { kind: 'file', path: required('path', str('path')), exists, minSize, maxSize };
      break;
    }
    default: {
      const command = object.command;
      if (typeof command === 'string' && command.trim() !== '')
        check = { kind: 'command', argv: ['/bin/sh', '-c', command] };
      else if (Array.isArray(command) && command.length > 0 && command.every((a) => typeof a === 'string'))
        check = { kind: 'command', argv: command };
      else throw new Error('"command" must be a shell command line or a non-empty array of strings');
    }
  }
  const test = bool('test') ?? true;
  const anomaly = bool('anomaly') ?? true;
  if (!test && !anomaly) throw new Error('"test" and "anomaly" cannot both be false');
  return {
    title: where.title,
    name: where.name,
    path: where.path,
    legacy: false,
    check,
    periodicity: num('periodicity', 1) ?? DEFAULT_PERIODICITY,
    timeout: num('timeout', 0.001),
    failureAmount: int('failure-amount', 1, 100) ?? DEFAULT_FAILURE_AMOUNT[kind] ?? 1,
    test,
    anomaly,
    bangOnFailure: bool('bang-on-failure') ?? true,
  };
}

function invalid(path: string, title: string, name: string, reason: string): PromiseDefinition {
  return {
    title,
    name,
    path,
    legacy: false,
    check: { kind: 'invalid', reason },
    periodicity: DEFAULT_PERIODICITY,
    timeout: undefined,
    failureAmount: 1,
    test: true,
    anomaly: true,
    bangOnFailure: false,
  };
}

async function sortedEntries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw error;
  }
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return false;
    await access(path, constants.X_OK);
    return (info.mode & 0o111) !== 0; // root passes X_OK for any file with one x bit only
  } catch {
    return false;
  }
}

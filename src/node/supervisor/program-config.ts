/**
 * Program configuration at the edge: validates what callers (the node agent, the socket API) give,
 * fills supervisord's defaults in, and hashes the result so a changed program can be told apart.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { STOP_SIGNALS, type ProgramConfig, type StopSignal } from './types.ts';

/** Group and program names: what SlapOS uses (slappart0, apache-on-watch, slappart3-socat). */
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$/;

export const PROGRAM_DEFAULTS = {
  autostart: true,
  autorestart: 'unexpected',
  startsecs: 1,
  startretries: 3,
  exitcodes: [0],
  stopsignal: 'TERM',
  stopwaitsecs: 10,
  logMaxBytes: 1024 * 1024,
  logBackups: 1,
} as const;

export function assertName(value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME_RE.test(value))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `${what}: invalid name ${JSON.stringify(value)}`, {
      hint: 'names are 1 to 128 characters among letters, digits and _ . @ + - (not starting with . @ + -)',
    });
  return value;
}

/** Splits `group:name`; throws a clear error for anything else. */
export function splitFullName(fullName: unknown): { group: string; name: string } {
  if (typeof fullName !== 'string' || !fullName.includes(':'))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `invalid process name ${JSON.stringify(fullName)}`, {
      hint: 'address a process as group:name, e.g. slappart0:apache-on-watch',
    });
  const index = fullName.indexOf(':');
  return {
    group: assertName(fullName.slice(0, index), 'group'),
    name: assertName(fullName.slice(index + 1), 'program'),
  };
}

type Raw = Record<string, unknown>;

function fail(path: string, message: string): never {
  throw new SlapError('SLAP_ERR_INVALID_INPUT', `${path}: ${message}`);
}

function optionalNumber(raw: Raw, key: string, path: string, fallback: number, integer: boolean): number {
  const value = raw[key];
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (integer && !Number.isInteger(value))
  )
    fail(`${path}.${key}`, `must be a ${integer ? 'non-negative integer' : 'number ≥ 0'}`);
  return value;
}

function optionalBoolean(raw: Raw, key: string, path: string, fallback: boolean): boolean {
  const value = raw[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(`${path}.${key}`, 'must be true or false');
  return value;
}

function optionalId(raw: Raw, key: string, path: string): number | null {
  const value = raw[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff)
    fail(`${path}.${key}`, 'must be a numeric id');
  return value;
}

function stringList(value: unknown, path: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
    fail(path, 'must be a list of strings');
  return [...value];
}

function environment(value: unknown, path: string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'must be an object');
  const env: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === '' || key.includes('=') || key.includes('\0')) fail(path, `invalid variable name ${key}`);
    if (typeof item !== 'string') fail(`${path}.${key}`, 'must be a string');
    env[key] = item;
  }
  return env;
}

export interface NormalizeOptions {
  group: string;
  /** Where the log goes when the spec names none: `<logDir>/<group>_<name>.log`. */
  logDir: string;
  /** Where the error message says the value came from (e.g. `programs[2]`). */
  path?: string;
}

/** Validates one program spec (anything: it may come from a socket) and fills the defaults in. */
export function normalizeProgram(spec: unknown, options: NormalizeOptions): ProgramConfig {
  const path = options.path ?? 'program';
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) fail(path, 'must be an object');
  const raw = spec as Raw;
  const known = new Set([
    'name',
    'command',
    'args',
    'cwd',
    'env',
    'uid',
    'gid',
    'autostart',
    'autorestart',
    'startsecs',
    'startretries',
    'exitcodes',
    'stopsignal',
    'stopwaitsecs',
    'logFile',
    'logMaxBytes',
    'logBackups',
  ]);
  for (const key of Object.keys(raw)) if (!known.has(key)) fail(`${path}.${key}`, 'unknown option');
  const name = assertName(raw.name, `${path}.name`);
  if (typeof raw.command !== 'string' || raw.command === '' || raw.command.includes('\0'))
    fail(`${path}.command`, 'must be a non-empty string');
  const cwd = raw.cwd;
  if (cwd !== undefined && cwd !== null && (typeof cwd !== 'string' || !isAbsolute(cwd)))
    fail(`${path}.cwd`, 'must be an absolute path');
  const autorestart = raw.autorestart ?? PROGRAM_DEFAULTS.autorestart;
  if (autorestart !== true && autorestart !== false && autorestart !== 'unexpected')
    fail(`${path}.autorestart`, 'must be true, false or "unexpected"');
  const exitcodes = raw.exitcodes ?? PROGRAM_DEFAULTS.exitcodes;
  if (
    !Array.isArray(exitcodes) ||
    !exitcodes.every((code) => Number.isInteger(code) && (code as number) >= 0 && (code as number) < 256)
  )
    fail(`${path}.exitcodes`, 'must be a list of exit statuses (0-255)');
  const stopsignal = raw.stopsignal ?? PROGRAM_DEFAULTS.stopsignal;
  if (typeof stopsignal !== 'string' || !(STOP_SIGNALS as readonly string[]).includes(stopsignal))
    fail(`${path}.stopsignal`, `must be one of ${STOP_SIGNALS.join(', ')}`);
  const logFile = raw.logFile ?? join(options.logDir, `${options.group}_${name}.log`);
  if (typeof logFile !== 'string' || !isAbsolute(logFile))
    fail(`${path}.logFile`, 'must be an absolute path');
  const logMaxBytes = optionalNumber(raw, 'logMaxBytes', path, PROGRAM_DEFAULTS.logMaxBytes, true);
  if (logMaxBytes < 1024) fail(`${path}.logMaxBytes`, 'must be at least 1024');
  return {
    name,
    command: raw.command,
    args: stringList(raw.args, `${path}.args`),
    cwd: typeof cwd === 'string' ? cwd : null,
    env: environment(raw.env, `${path}.env`),
    uid: optionalId(raw, 'uid', path),
    gid: optionalId(raw, 'gid', path),
    autostart: optionalBoolean(raw, 'autostart', path, PROGRAM_DEFAULTS.autostart),
    autorestart,
    startsecs: optionalNumber(raw, 'startsecs', path, PROGRAM_DEFAULTS.startsecs, false),
    startretries: optionalNumber(raw, 'startretries', path, PROGRAM_DEFAULTS.startretries, true),
    exitcodes: [...(exitcodes as number[])],
    stopsignal: stopsignal as StopSignal,
    stopwaitsecs: optionalNumber(raw, 'stopwaitsecs', path, PROGRAM_DEFAULTS.stopwaitsecs, false),
    logFile,
    logMaxBytes,
    logBackups: optionalNumber(raw, 'logBackups', path, PROGRAM_DEFAULTS.logBackups, true),
  };
}

/** Validates the program list of a group: an array of specs with distinct names. */
export function normalizeGroup(programs: unknown, options: Omit<NormalizeOptions, 'path'>): ProgramConfig[] {
  if (!Array.isArray(programs)) fail('programs', 'must be a list');
  const seen = new Set<string>();
  return programs.map((spec, index) => {
    const config = normalizeProgram(spec, { ...options, path: `programs[${index}]` });
    if (seen.has(config.name)) fail(`programs[${index}].name`, `duplicate program ${config.name}`);
    seen.add(config.name);
    return config;
  });
}

/** A stable digest of everything that affects how the program runs. */
export function hashProgram(config: ProgramConfig): string {
  const byKey = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : a > b ? 1 : 0);
  const env = Object.entries(config.env).sort(byKey);
  const canonical = Object.entries({ ...config, env }).sort(byKey);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}

/**
 * Loading a profile (profiles.md §1.3–1.5): the root file and everything it `extends` (relative
 * paths, http(s) and file URLs, several and nested, cycles detected, diamonds allowed), remote
 * profiles cached in `extends-cache`, `_profile_base_location_` injection, the `[buildout]`
 * defaults, user defaults and command-line assignments. The result is the merged raw configuration
 * (nothing substituted yet: that is `resolver.ts`'s job).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { SlapError } from '../core/errors.ts';
import { download, isUrl, localPath } from '../lib/download.ts';
import type { Logger } from '../lib/logger.ts';
import { copySection, injectBaseLocation, operatorTarget, updateConfig, updateSection } from './merge.ts';
import { parseProfile, type RawConfig, type RawOption, type RawSection, type Source } from './parser.ts';
import type { BuildoutEvent } from './progress.ts';

/** A `section:option=value` command-line assignment (section defaults to `buildout`). */
export interface Assignment {
  section: string;
  option: string;
  value: string;
}

export const DEFAULT_SOURCE: Source = { file: '<default>', line: 0 };
export const COMPUTED_SOURCE: Source = { file: '<computed>', line: 0 };
export const COMMAND_LINE_SOURCE: Source = { file: '<command line>', line: 0 };

function isPseudoSource(source: Source): boolean {
  return source.file.startsWith('<');
}

/** Parses `section:option=value` / `option=value` as buildout's command line does. */
export function parseAssignment(text: string): Assignment {
  const eq = text.indexOf('=');
  if (eq < 0) throw new SlapError('SLAP_ERR_USAGE', `Not an assignment (section:option=value): ${text}`);
  const name = text.slice(0, eq).split(':');
  const value = text.slice(eq + 1).trim();
  if (name.length === 1) return { section: 'buildout', option: (name[0] ?? '').trim(), value };
  if (name.length !== 2 || !(name[0] ?? '').trim() || !(name[1] ?? '').trim()) {
    throw new SlapError(
      'SLAP_ERR_USAGE',
      `Invalid assignment ${JSON.stringify(text)}: expected section:option=value`,
    );
  }
  return { section: (name[0] ?? '').trim(), option: (name[1] ?? '').trim(), value };
}

function buildoutDefaults(): RawSection {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const defaults: Record<string, string> = {
    'allow-hosts': '*',
    'allow-picked-versions': 'true',
    'bin-directory': 'bin',
    'develop-eggs-directory': 'develop-eggs',
    'eggs-directory': 'eggs',
    executable: python,
    'find-links': '',
    'install-from-cache': 'false',
    installed: '.installed.cfg',
    'log-format': '',
    'log-level': 'INFO',
    newest: 'true',
    offline: 'false',
    'parts-directory': 'parts',
    'prefer-final': 'true',
    python: 'buildout',
    'show-picked-versions': 'false',
    'socket-timeout': '',
    'update-versions-file': '',
    'use-dependency-links': 'true',
    'allow-unknown-extras': 'false',
  };
  const section: RawSection = new Map();
  for (const [key, value] of Object.entries(defaults)) section.set(key, { value, source: DEFAULT_SOURCE });
  return section;
}

export interface LoadOptions {
  /** Root profile: a path (relative to `cwd`) or an http(s)/file URL. */
  configFile: string;
  /** Working directory for a relative `configFile` (default process.cwd()). */
  cwd?: string;
  assignments?: readonly Assignment[];
  /** Load `$BUILDOUT_HOME/default.cfg` or `~/.buildout/default.cfg` (buildout does unless -U). Default false. */
  userDefaults?: boolean;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  logger?: Logger | undefined;
  onProgress?: ((event: BuildoutEvent) => void) | undefined;
  dispatcher?: Dispatcher | undefined;
}

export interface LoadedProfile {
  /** The merged raw configuration: defaults, every file, user defaults and assignments. */
  raw: RawConfig;
  /** The root profile as given, made absolute. */
  configFile: string;
  /** Every file or URL read, in reading order. */
  files: string[];
}

interface LoadContext {
  options: LoadOptions;
  files: string[];
  /** Profiles fetched during this load (the fork memoises remote extends per run). */
  memo: Map<string, string>;
  downloaded: Set<string>;
}

/** `../` at the start of `name` drops trailing components of `base` (the fork's rule, for URLs too). */
function stripParents(base: string, name: string): [string, string] {
  let b = base;
  let n = name;
  while (n.startsWith('../')) {
    n = n.slice(3);
    const cut = b.lastIndexOf('/');
    if (cut > 0 && !/^[a-zA-Z0-9+.-]+:\/\/?$/.test(b.slice(0, cut + 1))) b = b.slice(0, cut);
  }
  return [b, n];
}

function urlBase(url: string): string {
  return url.slice(0, url.lastIndexOf('/'));
}

function flag(section: RawSection, key: string, fallback: boolean): boolean {
  const value = section.get(key)?.value;
  return value === undefined ? fallback : value === 'true';
}

async function readProfileText(
  ctx: LoadContext,
  location: string,
  dl: RawSection,
  from: Source | undefined,
): Promise<string> {
  const local = localPath(location);
  const where = from ? ` (extended from ${from.file}:${from.line})` : '';
  if (local !== undefined && !isUrl(location)) {
    try {
      // Synchronous: a profile is a few kilobytes, and the promise API costs a millisecond per
      // file in round trips through the thread pool (5 levels of extends: most of the load).
      return readFileSync(local, 'utf8');
    } catch (error) {
      throw new SlapError(
        'SLAP_ERR_PROFILE',
        `Couldn't open profile ${local}${where}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        {
          details: { file: local },
          cause: error,
        },
      );
    }
  }
  const memo = ctx.memo.get(location);
  if (memo !== undefined) return memo;
  const directory = dl.get('directory')?.value ?? '';
  const cache = dl.get('extends-cache')?.value;
  const offline = flag(dl, 'offline', false) || flag(dl, 'install-from-cache', false);
  const newest = flag(dl, 'newest', false);
  ctx.options.onProgress?.({ type: 'profile', url: location });
  let result;
  try {
    result = await download(location, {
      cacheDir: cache ? resolve(directory, cache) : undefined,
      refresh: newest && !ctx.downloaded.has(location),
      offline,
      signal: ctx.options.signal,
      dispatcher: ctx.options.dispatcher,
      onProgress: ctx.options.onProgress
        ? (p) =>
            ctx.options.onProgress?.({
              type: 'download',
              url: p.url,
              received: p.received,
              total: p.total,
              done: p.done,
            })
        : undefined,
    });
  } catch (error) {
    if (error instanceof SlapError) {
      throw new SlapError(error.code, `${error.message}${where}`, {
        cause: error,
        details: { url: location },
      });
    }
    throw error;
  }
  try {
    const text = await readFile(result.path, 'utf8');
    ctx.memo.set(location, text);
    return text;
  } finally {
    if (result.temporary) await rm(result.path, { force: true });
  }
}

async function openProfile(
  ctx: LoadContext,
  base: string,
  name: string,
  seen: string[],
  dl: RawSection,
  override: RawSection,
  from?: Source,
): Promise<RawConfig> {
  ctx.options.signal?.throwIfAborted();
  updateSection(dl, override);
  let location: string;
  let newBase: string;
  const [strippedBase, strippedName] = isUrl(base) ? stripParents(base, name) : [base, name];
  if (isUrl(name)) {
    location = name;
    newBase = urlBase(name);
  } else if (isUrl(base)) {
    if (isAbsolute(name)) {
      location = name;
      newBase = dirname(name);
    } else {
      location = `${strippedBase}/${strippedName}`;
      newBase = urlBase(location);
    }
  } else {
    location = resolve(base, name);
    newBase = dirname(location);
  }
  if (seen.includes(location)) {
    throw new SlapError('SLAP_ERR_PROFILE', `Recursive file include: ${[...seen, location].join(' -> ')}`, {
      details: { stack: [...seen], file: location },
      hint: 'A profile extends itself through this chain of `extends`.',
    });
  }
  const text = await readProfileText(ctx, location, dl, from);
  ctx.downloaded.add(location);
  ctx.files.push(location);
  const root = seen.length === 0;
  seen.push(location);
  const parsed = parseProfile(text, location, { onWarning: (message) => warn(ctx.options, message) });
  injectBaseLocation(parsed, newBase, location);
  const buildout = parsed.get('buildout');
  const extendsOption = buildout?.get('extends');
  buildout?.delete('extends');
  if (buildout?.has('extended-by')) {
    throw new SlapError('SLAP_ERR_PROFILE', `${location}: the "extended-by" option is no longer supported`);
  }
  if (root && buildout) updateSection(dl, buildout);
  let result = parsed;
  if (extendsOption) {
    const names = extendsOption.value.split(/\s+/).filter((n) => n !== '');
    let merged: RawConfig | undefined;
    for (const extendName of names) {
      const next = await openProfile(ctx, newBase, extendName, seen, dl, override, extendsOption.source);
      merged = merged ? updateConfig(merged, next) : next;
    }
    if (merged) result = updateConfig(merged, parsed);
  }
  seen.pop();
  return result;
}

function makeDirectoryAbsolute(raw: RawConfig, cwd: string): void {
  const buildout = raw.get('buildout') as RawSection;
  const directory = buildout.get('directory')?.value ?? cwd;
  for (const name of ['download-cache', 'eggs-directory', 'extends-cache']) {
    const option = buildout.get(name);
    if (!option || option.value.includes('${') || option.value === '') continue;
    let path = option.value;
    if (path.startsWith('~')) path = join(homedir(), path.slice(1));
    if (isAbsolute(path)) {
      option.value = resolve(path);
      continue;
    }
    let baseDir: string;
    if (isPseudoSource(option.source)) baseDir = directory;
    else if (isUrl(option.source.file)) {
      throw new SlapError(
        'SLAP_ERR_PROFILE',
        `Setting "${name}" to a non absolute location ("${option.value}") within a remote configuration file (${option.source.file}) is ambiguous`,
      );
    } else baseDir = dirname(option.source.file);
    buildout.set(name, { value: resolve(baseDir, path), source: option.source });
  }
}

/** Loads and merges a profile; see the module comment. */
function warn(options: LoadOptions, message: string): void {
  options.logger?.warn(message);
  options.onProgress?.({ type: 'warning', message });
}

/**
 * `k +=` / `k -=` keys left after merging (their section was new when their file was merged, so
 * there was no value to add to): buildout keeps them as options named `k +` that nothing can
 * reference. Sections using a `<=` macro are skipped: the macro expansion applies them later.
 */
function warnStrayOperators(options: LoadOptions, raw: RawConfig): void {
  for (const [name, section] of raw) {
    if (section.has('<')) continue;
    for (const [key, option] of section) {
      const operator = operatorTarget(key);
      if (!operator || operator.target === '') continue;
      const where = option.source.line > 0 ? `${option.source.file}:${option.source.line}: ` : '';
      warn(
        options,
        `${where}[${name}] "${operator.target} ${operator.op}=" was not applied: no earlier value of ${operator.target} existed when its file was merged, so it stays an option named "${key}"`,
      );
    }
  }
}

export async function loadRawProfile(options: LoadOptions): Promise<LoadedProfile> {
  const cwd = options.cwd ?? process.cwd();
  const ctx: LoadContext = { options, files: [], memo: new Map(), downloaded: new Set() };
  const raw: RawConfig = new Map([['buildout', buildoutDefaults()]]);
  let configFile = options.configFile;
  if (!isUrl(configFile)) {
    configFile = resolve(cwd, localPath(configFile) ?? configFile);
    if (!existsSync(configFile)) {
      throw new SlapError('SLAP_ERR_PROFILE', `Couldn't open ${configFile}: no such file`, {
        details: { file: configFile },
        hint: 'Give the profile with -c FILE (default: buildout.cfg in the current directory).',
      });
    }
    (raw.get('buildout') as RawSection).set('directory', {
      value: dirname(configFile),
      source: COMPUTED_SOURCE,
    });
  } else {
    // A remote root profile: the working directory is the buildout directory.
    (raw.get('buildout') as RawSection).set('directory', { value: resolve(cwd), source: COMPUTED_SOURCE });
  }

  const assignments: RawConfig = new Map();
  for (const { section, option, value } of options.assignments ?? []) {
    let target = assignments.get(section);
    if (!target) assignments.set(section, (target = new Map<string, RawOption>()));
    target.set(option, { value, source: COMMAND_LINE_SOURCE });
  }
  const override = copySection(assignments.get('buildout') ?? new Map<string, RawOption>());
  const commandLineExtends = override.get('extends');
  override.delete('extends');

  if (options.userDefaults) {
    const env = options.env ?? process.env;
    const home = env.BUILDOUT_HOME ? env.BUILDOUT_HOME : join(env.HOME ?? homedir(), '.buildout');
    const userConfig = join(home, 'default.cfg');
    if (existsSync(userConfig)) {
      const dl = copySection(raw.get('buildout') as RawSection);
      updateConfig(raw, await openProfile(ctx, dirname(userConfig), userConfig, [], dl, override));
    }
  }

  const rootBase = isUrl(configFile) ? urlBase(configFile) : dirname(configFile);
  const dl = copySection(raw.get('buildout') as RawSection);
  updateConfig(raw, await openProfile(ctx, rootBase, configFile, [], dl, override));
  if (commandLineExtends) {
    for (const name of commandLineExtends.value.split(/\s+/).filter((n) => n !== '')) {
      updateConfig(raw, await openProfile(ctx, cwd, name, [], dl, override, COMMAND_LINE_SOURCE));
    }
  }
  assignments.get('buildout')?.delete('extends');
  updateConfig(raw, assignments);

  const buildout = raw.get('buildout') as RawSection;
  if (!buildout.has('versions')) {
    buildout.set('versions', { value: 'versions', source: DEFAULT_SOURCE });
    if (!raw.has('versions')) raw.set('versions', new Map());
  }
  makeDirectoryAbsolute(raw, cwd);
  warnStrayOperators(options, raw);
  options.logger?.debug({ files: ctx.files }, 'profile loaded');
  return { raw, configFile, files: ctx.files };
}

/** Small helpers shared by the built-in recipes. */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { lineSplitter } from '../lines.ts';
import type { RecipeContext } from '../recipe.ts';

/** Recipe-style booleans (slapos.cookbook): `y yes 1 true on` / `n no 0 false off`, any case. */
export function isTrue(value: string | undefined, fallback = false): boolean {
  if (value === undefined || value.trim() === '') return fallback;
  return ['y', 'yes', '1', 'true', 'on'].includes(value.trim().toLowerCase());
}

/** Parses an octal `mode` option (`755`, `0o644`, `0644`); undefined if absent. */
export function parseMode(ctx: RecipeContext, option = 'mode'): number | undefined {
  const text = ctx.options.get(option)?.trim();
  if (text === undefined || text === '') return undefined;
  const digits = text.replace(/^0o/i, '');
  if (!/^[0-7]{1,4}$/.test(digits))
    throw ctx.error(`not an octal file mode: ${JSON.stringify(text)}`, { option, code: 'SLAP_ERR_PROFILE' });
  return parseInt(digits, 8);
}

/**
 * The absolute path given by the first of `names` that is set (relative to the buildout
 * directory); an error naming the first option if none is.
 */
export function requirePath(ctx: RecipeContext, ...names: [string, ...string[]]): string {
  for (const name of names) {
    const value = ctx.options.get(name);
    if (value) return resolve(ctx.directories.directory, value);
  }
  throw ctx.error(`"${names[0]}" is required`, { option: names[0], code: 'SLAP_ERR_PROFILE' });
}

/** A URL as it is, or a path made absolute against the buildout directory. */
export function resolveUrl(ctx: RecipeContext, url: string): string {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(url) ? url : resolve(ctx.directories.directory, url);
}

/** The non-empty lines of an option (trimmed). */
export function lines(value: string | undefined): string[] {
  return (value ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The whitespace-separated words of an option (none when unset). */
export function words(value: string | undefined): string[] {
  return (value ?? '').split(/\s+/).filter((word) => word !== '');
}

/**
 * Writes `content` to `path` (atomically, parents created) unless it already holds exactly that
 * content with that mode: a re-run with nothing changed writes nothing. Returns true if written.
 */
export async function writeIfChanged(
  path: string,
  content: string,
  mode: number | undefined,
): Promise<boolean> {
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === content) {
    if (mode !== undefined) {
      const info = await stat(path);
      if ((info.mode & 0o7777) !== mode) await chmod(path, mode);
    }
    return false;
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, content, { mode: mode ?? 0o644 });
  return true;
}

let umaskProbe: Promise<number> | undefined;

/** The process umask, found as slapos.recipe.template does: the mode of a file created 0777. */
function currentUmask(): Promise<number> {
  umaskProbe ??= (async () => {
    const probe = join(tmpdir(), `.umask-${process.pid}-${randomBytes(6).toString('hex')}`);
    const handle = await open(probe, 'wx', 0o777);
    try {
      return 0o777 & ~(await handle.stat()).mode;
    } finally {
      await handle.close();
      await rm(probe, { force: true });
    }
  })().catch(() => 0o022); // no writable temporary directory: the usual umask
  return umaskProbe;
}

/**
 * The mode of a template recipe's output (slapos.recipe.template): `mode` if given, else 0777 for
 * a text starting with `#!` (an executable script) and 0666 otherwise, less the umask.
 */
export async function renderedMode(text: string, mode: number | undefined): Promise<number> {
  if (mode !== undefined) return mode;
  return (text.startsWith('#!') ? 0o777 : 0o666) & ~(await currentUmask());
}

/** Splits `K=V` lines (an `environment` option); whitespace around `=` is trimmed. */
export function parseEnvironment(ctx: RecipeContext, option = 'environment'): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines(ctx.options.get(option))) {
    const eq = line.indexOf('=');
    if (eq <= 0)
      throw ctx.error(`expected NAME=value lines, got ${JSON.stringify(line)}`, {
        option,
        code: 'SLAP_ERR_PROFILE',
      });
    env[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return env;
}

export interface LoggedRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last output lines (stdout and stderr interleaved). */
  tail: string[];
}

/**
 * Runs a build step or command through `ctx.exec`: announces the step, reports every output line
 * as progress, and keeps the last `tailLines` lines for the error message.
 */
export async function runStep(
  ctx: RecipeContext,
  step: string,
  file: string,
  args: readonly string[],
  options: {
    cwd?: string;
    env?: Record<string, string | undefined>;
    input?: string;
    tailLines?: number;
  } = {},
): Promise<LoggedRun> {
  ctx.step(step);
  const max = options.tailLines ?? 30;
  const tail: string[] = [];
  const splitter = lineSplitter((stream, line) => {
    ctx.output(stream, line);
    tail.push(line);
    if (tail.length > max) tail.shift();
  });
  const result = await ctx.exec(file, args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.input === undefined ? {} : { input: options.input }),
    onOutput: (stream, chunk) => splitter.onOutput(stream, chunk),
  });
  splitter.flush();
  return { exitCode: result.exitCode, signal: result.signal, tail };
}

/** The message of a failed step: exit status and the tail of its output. */
export function stepFailure(step: string, run: LoggedRun): string {
  const status =
    run.exitCode === null ? `was killed by ${run.signal ?? 'a signal'}` : `exited with ${run.exitCode}`;
  return `${step} ${status}${run.tail.length > 0 ? `; last output:\n  ${run.tail.join('\n  ')}` : ''}`;
}

/**
 * The environment of build steps and commands: the run's (`ctx.env`) plus `extra`, with a PATH
 * and LANG if it has none.
 */
export function stepEnvironment(
  ctx: RecipeContext,
  extra: Record<string, string> = {},
): Record<string, string | undefined> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    ...ctx.env,
    ...extra,
  };
}

export interface TemplateText {
  text: string;
  /** The `url` (or legacy `template`) it was read from; undefined for inline text. */
  url: string | undefined;
  md5sum: string | undefined;
}

/**
 * The template of a template recipe: `inline` (given by the caller, which decides whether it is
 * the raw or the substituted value), the legacy `template` (`inline:` text, or a URL), or `url`
 * (path, file: or http(s) URL; downloaded with the run's cache, `md5sum` checked), decoded by `decode`.
 */
export async function templateText(
  ctx: RecipeContext,
  inline: string | undefined,
  decode: (data: Buffer) => string = (data) => data.toString('utf8'),
): Promise<TemplateText> {
  const { options } = ctx;
  let url = options.get('url');
  const legacy = options.get('template');
  if (legacy !== undefined && url === undefined && inline === undefined) {
    if (legacy.startsWith('inline:'))
      return { text: legacy.slice('inline:'.length).replace(/^\s+/, ''), url: undefined, md5sum: undefined };
    url = legacy;
  }
  if (inline !== undefined && url !== undefined) {
    throw ctx.error('give either "url" or "inline", not both', {
      option: 'inline',
      code: 'SLAP_ERR_PROFILE',
    });
  }
  if (inline !== undefined) return { text: inline, url: undefined, md5sum: undefined };
  if (url === undefined)
    throw ctx.error('one of "url" or "inline" is required', { option: 'url', code: 'SLAP_ERR_PROFILE' });
  const md5sum = options.get('md5sum') || undefined;
  const file = await ctx.download(resolveUrl(ctx, url), { md5sum });
  try {
    return { text: decode(await readFile(file.path)), url, md5sum };
  } finally {
    if (file.temporary) await rm(file.path, { force: true });
  }
}

/**
 * `value` (of `option`), refused when it holds a NUL: no shell script, file name or program argument
 * can carry one, so writing it would cut or reshape what is written.
 */
export function withoutNul(ctx: RecipeContext, option: string, value: string): string {
  if (value.includes('\0'))
    throw ctx.error('a NUL character cannot be written here', { option, code: 'SLAP_ERR_PROFILE' });
  return value;
}

/**
 * `slapos.cookbook:backup` (ours; upstream's cookbook has no entry point of that name): declares what
 * data of the partition the node backs up, and how (src/core/backup-declaration.ts, issue 12).
 *
 * Options: `paths` (one per line, absolute under `buildout:directory` — the partition — or relative
 * to it; required), `exclude` (restic patterns, one per line, same rules), `backup-command`,
 * `restore-command`, `check-command` (paths of executables, usually wrappers other sections make),
 * `period` (seconds, or `30s`/`5m`/`1h`/`1d`; default 3600), `keep-last` (default 10), `keep-hourly`
 * (24), `keep-daily` (7). Options are checked at init, so a bad one fails the run before anything is
 * installed; the commands must exist and be executable at install. Writes
 * `<partition>/.slapos-backup/<section>.json` (0644, atomically, only when it changed) and owns it.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import {
  DECLARATION_DIRECTORY,
  DEFAULT_KEEP,
  DEFAULT_PERIOD_SECONDS,
  MAX_KEEP,
  MAX_PERIOD_SECONDS,
  commandPathProblem,
  declarationNameProblem,
  relativePathProblem,
  serializeDeclaration,
  type BackupDeclaration,
} from '../../../core/backup-declaration.ts';
import type { Recipe, RecipeContext } from '../../recipe.ts';
import { writeIfChanged } from '../common.ts';

const COMMAND_OPTIONS = {
  backupCommand: 'backup-command',
  restoreCommand: 'restore-command',
  checkCommand: 'check-command',
} as const;

const PERIOD_UNITS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

function profileError(ctx: RecipeContext, option: string, message: string): Error {
  return ctx.error(message, { option, code: 'SLAP_ERR_PROFILE' });
}

/**
 * The entries of a one-per-line option. Only spaces and tabs are trimmed: any other line terminator
 * or control character stays in the entry, which is then refused rather than silently cut.
 */
function entries(value: string | undefined): string[] {
  return (value ?? '')
    .split('\n')
    .map((line) => line.replace(/^[ \t]+|[ \t]+$/g, ''))
    .filter((line) => line !== '');
}

/** `entry` (absolute under the partition, or relative to it) as a normalised partition-relative path. */
function partitionRelative(ctx: RecipeContext, option: string, entry: string): string {
  const shown = JSON.stringify(entry);
  if (entry.split('/').includes('..'))
    throw profileError(ctx, option, `${shown} contains ".." (paths stay inside the partition)`);
  let relative = entry;
  if (entry.startsWith('/')) {
    const partition = posix.normalize(ctx.directories.directory).replace(/\/$/, '');
    const absolute = posix.normalize(entry).replace(/\/$/, '');
    if (absolute === partition)
      throw profileError(ctx, option, `${shown} is the whole partition (name what holds the data)`);
    if (!absolute.startsWith(`${partition}/`))
      throw profileError(ctx, option, `${shown} is not inside the partition (${partition})`);
    relative = absolute.slice(partition.length + 1);
  }
  relative = posix.normalize(relative).replace(/\/$/, '');
  const problem = relativePathProblem(relative);
  if (problem) throw profileError(ctx, option, `${shown} ${problem}`);
  return relative;
}

function pathList(ctx: RecipeContext, option: string): string[] {
  return [...new Set(entries(ctx.options.get(option)).map((e) => partitionRelative(ctx, option, e)))];
}

function command(ctx: RecipeContext, option: string): string | null {
  const value = ctx.options.get(option)?.replace(/^[ \t\n]+|[ \t\n]+$/g, '') ?? '';
  if (value === '') return null;
  const absolute = value.startsWith('/') ? value : `${ctx.directories.directory}/${value}`;
  const normalised = value.split('/').includes('..') ? absolute : posix.normalize(absolute);
  const problem = commandPathProblem(normalised);
  if (problem) throw profileError(ctx, option, `${JSON.stringify(value)} ${problem}`);
  return normalised;
}

function period(ctx: RecipeContext): number {
  const text = (ctx.options.get('period') ?? '').trim();
  if (text === '') return DEFAULT_PERIOD_SECONDS;
  const match = /^([0-9]{1,10})([smhd]?)$/.exec(text);
  const seconds = match ? Number(match[1]) * (PERIOD_UNITS[match[2] ?? ''] ?? 1) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_PERIOD_SECONDS))
    throw profileError(
      ctx,
      'period',
      `expected seconds (e.g. 600) or a number with s, m, h or d (e.g. 30s, 5m, 1h), from 1 s to ${MAX_PERIOD_SECONDS / 86400} days, got ${JSON.stringify(text)}`,
    );
  return seconds;
}

function count(ctx: RecipeContext, option: string, fallback: number, min: number): number {
  const text = (ctx.options.get(option) ?? '').trim();
  if (text === '') return fallback;
  const value = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= MAX_KEEP))
    throw profileError(
      ctx,
      option,
      `expected an integer from ${min} to ${MAX_KEEP}, got ${JSON.stringify(text)}`,
    );
  return value;
}

/** The declaration the section's options make; a clear error naming the option otherwise. */
function declaration(ctx: RecipeContext): BackupDeclaration {
  const nameProblem = declarationNameProblem(ctx.name);
  if (nameProblem)
    throw ctx.error(
      `the section name ${JSON.stringify(ctx.name)} ${nameProblem}: it names the declaration file`,
      {
        code: 'SLAP_ERR_PROFILE',
      },
    );
  const paths = pathList(ctx, 'paths');
  if (paths.length === 0) throw profileError(ctx, 'paths', 'at least one path is required');
  return {
    name: ctx.name,
    paths,
    exclude: pathList(ctx, 'exclude'),
    backupCommand: command(ctx, COMMAND_OPTIONS.backupCommand),
    restoreCommand: command(ctx, COMMAND_OPTIONS.restoreCommand),
    checkCommand: command(ctx, COMMAND_OPTIONS.checkCommand),
    periodSeconds: period(ctx),
    keep: {
      last: count(ctx, 'keep-last', DEFAULT_KEEP.last, 1),
      hourly: count(ctx, 'keep-hourly', DEFAULT_KEEP.hourly, 0),
      daily: count(ctx, 'keep-daily', DEFAULT_KEEP.daily, 0),
    },
  };
}

async function checkExecutable(ctx: RecipeContext, option: string, path: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  const executable =
    info?.isFile() &&
    (await access(path, constants.X_OK).then(
      () => true,
      () => false,
    ));
  if (!executable)
    throw profileError(
      ctx,
      option,
      `${path} is not an executable file (refer to the option of the section that makes it, so that it is installed first)`,
    );
}

async function install(ctx: RecipeContext): Promise<string[]> {
  const declared = (ctx.state.get('declaration') as BackupDeclaration | undefined) ?? declaration(ctx);
  for (const [field, option] of Object.entries(COMMAND_OPTIONS)) {
    const path = declared[field as keyof typeof COMMAND_OPTIONS];
    if (path !== null) await checkExecutable(ctx, option, path);
  }
  const file = join(ctx.directories.directory, DECLARATION_DIRECTORY, `${declared.name}.json`);
  ctx.created(file);
  await writeIfChanged(file, serializeDeclaration(declared), 0o644);
  return [file];
}

export const backup: Recipe = {
  version: '1',
  init(ctx) {
    ctx.state.set('declaration', declaration(ctx));
  },
  install,
  update: install,
};

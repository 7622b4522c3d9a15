/**
 * `slapos.recipe.build:gitclone`: a git working copy at `location` (default
 * `${buildout:parts-directory}/<part>`, set during init).
 *
 * Options as the original: `repository` (required), `branch`, `revision` (has priority over
 * `branch`, which is then ignored with a warning; empty values count as absent), `git-executable`
 * (default `git` from PATH), `develop` (the working copy is the developer's: an existing one is
 * kept at install, update leaves it alone, uninstall keeps it), `ignore-ssl-certificate`
 * (`--config http.sslVerify=false`), `ignore-cloning-submodules` (submodules are cloned unless
 * true), `depth` (`--depth`), `shared` (`--shared`), `sparse-checkout` (patterns written to
 * `.git/info/sparse-checkout`, working tree populated sparsely).
 *
 * Install removes an existing non-develop `location`, clones, checks out `revision` (fetching it
 * when a shallow clone lacks it) and the submodules. Update deletes `*.pyc`/`*.pyo` files, fetches
 * unless `revision` is already there, and resets to `revision` (only when HEAD is elsewhere) or to
 * the branch's upstream. Uninstall keeps the working copy when it has uncommitted changes or
 * commits not pushed, unless `develop` is explicitly false (the original's rule).
 *
 * `use-cache` (the original's fallback to a networkcache copy when cloning fails) is accepted and
 * warned about: the clone is always direct. Values starting with `-` in `branch`, `revision` and
 * `repository` are refused: git would read them as options.
 */
import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Recipe, RecipeContext, UninstallContext } from '../recipe.ts';
import { isTrue, runStep, stepEnvironment, stepFailure } from './common.ts';

interface GitClone {
  git: string;
  repository: string;
  branch: string | undefined;
  revision: string | undefined;
  location: string;
  develop: boolean;
  depth: string | undefined;
  sparseCheckout: string | undefined;
  args: string[];
  submodules: boolean;
}

/** The original's booleans for this recipe: only `y yes 1 true` (any case) are true. */
function gitTrue(value: string | undefined): boolean {
  return ['y', 'yes', '1', 'true'].includes((value ?? '').trim().toLowerCase());
}

function optional(ctx: RecipeContext, option: string): string | undefined {
  const value = ctx.options.get(option)?.trim() ?? '';
  if (value === '') return undefined;
  if (option !== 'sparse-checkout' && value.startsWith('-'))
    throw ctx.error(`must not start with "-": ${JSON.stringify(value)}`, {
      option,
      code: 'SLAP_ERR_PROFILE',
    });
  return value;
}

function readOptions(ctx: RecipeContext): GitClone {
  const repository = optional(ctx, 'repository');
  if (repository === undefined)
    throw ctx.error('repository parameter is mandatory.', { option: 'repository', code: 'SLAP_ERR_PROFILE' });
  const revision = optional(ctx, 'revision');
  const branch = revision === undefined ? optional(ctx, 'branch') : undefined;
  const depth = optional(ctx, 'depth');
  if (depth !== undefined && !/^[1-9][0-9]{0,8}$/.test(depth))
    throw ctx.error(`not a positive number: ${JSON.stringify(depth)}`, {
      option: 'depth',
      code: 'SLAP_ERR_PROFILE',
    });
  const submodules = !gitTrue(ctx.options.get('ignore-cloning-submodules'));
  const args: string[] = [];
  if (branch !== undefined) args.push('--branch', branch);
  if (depth !== undefined) args.push('--depth', depth);
  if (gitTrue(ctx.options.get('shared'))) args.push('--shared');
  if (gitTrue(ctx.options.get('ignore-ssl-certificate'))) args.push('--config', 'http.sslVerify=false');
  if (submodules) args.push('--recursive');
  const sparseCheckout = optional(ctx, 'sparse-checkout');
  if (sparseCheckout !== undefined) args.push('--no-checkout');
  return {
    git: ctx.options.get('git-executable')?.trim() || 'git',
    repository,
    branch,
    revision,
    location: resolve(ctx.directories.directory, ctx.options.require('location')),
    develop: gitTrue(ctx.options.get('develop')),
    depth,
    sparseCheckout,
    args,
    submodules,
  };
}

/** Runs git; throws the step's failure (exit status and output tail) unless `allowFailure`. */
async function git(
  ctx: RecipeContext,
  g: GitClone,
  args: string[],
  options: { cwd?: string; allowFailure?: boolean } = {},
): Promise<{ ok: boolean; output: string[] }> {
  const step = `git ${args[0] ?? ''}`;
  let run;
  try {
    run = await runStep(ctx, step, g.git, args, {
      cwd: options.cwd ?? g.location,
      env: stepEnvironment(ctx, { GIT_TERMINAL_PROMPT: '0' }),
    });
  } catch (error) {
    throw ctx.error(`cannot run ${g.git}: ${(error as Error).message}`, {
      option: 'git-executable',
      code: 'SLAP_ERR_RECIPE_FAILED',
      cause: error,
    });
  }
  const ok = run.exitCode === 0;
  if (!ok && !options.allowFailure)
    throw ctx.error(stepFailure(step, run), { code: 'SLAP_ERR_RECIPE_FAILED' });
  return { ok, output: run.tail };
}

async function hasCommit(ctx: RecipeContext, g: GitClone, revision: string): Promise<boolean> {
  const found = await git(ctx, g, ['rev-parse', '--verify', '--quiet', `${revision}^{commit}`], {
    allowFailure: true,
  });
  return found.ok;
}

async function updateSubmodules(ctx: RecipeContext, g: GitClone): Promise<void> {
  if (g.submodules) await git(ctx, g, ['submodule', 'update', '--init', '--recursive']);
}

async function install(ctx: RecipeContext): Promise<string[]> {
  const g = readOptions(ctx);
  if (isTrue(ctx.options.get('use-cache')))
    ctx.warn('use-cache: the network cache is not used for git repositories here; cloning directly');
  if (existsSync(g.location)) {
    if (g.develop) {
      ctx.warn(`destination directory already exists: ${g.location} (develop: kept as is)`);
      return [g.location];
    }
    await rm(g.location, { recursive: true, force: true });
  }
  const branch = optional(ctx, 'branch');
  if (g.revision !== undefined && branch !== undefined)
    ctx.warn(`"branch" parameter with value "${branch}" is ignored. Checking out to revision ${g.revision}.`);
  ctx.created(g.location);
  const cwd = ctx.directories.directory;
  await git(ctx, g, ['clone', ...g.args, '--', g.repository, g.location], { cwd });
  if (!existsSync(g.location)) throw ctx.error('Unknown error while cloning repository.');
  if (g.sparseCheckout !== undefined) {
    await git(ctx, g, ['config', 'core.sparseCheckout', 'true']);
    await writeFile(join(g.location, '.git', 'info', 'sparse-checkout'), `${g.sparseCheckout}\n`);
    if (g.revision === undefined) await git(ctx, g, ['read-tree', '-mu', 'HEAD']);
  }
  if (g.revision !== undefined) {
    if (!(await hasCommit(ctx, g, g.revision))) {
      const depth = g.depth === undefined ? [] : ['--depth', g.depth];
      await git(ctx, g, ['fetch', ...depth, 'origin', g.revision]);
      await git(ctx, g, ['reset', '--hard', 'FETCH_HEAD']);
    } else {
      await git(ctx, g, ['reset', '--hard', g.revision]);
    }
  }
  await updateSubmodules(ctx, g);
  return [g.location];
}

/** Deletes compiled Python files, so that removed modules cannot be imported (the original's rule). */
async function deletePycFiles(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== '.git') await deletePycFiles(path);
    } else if (/\.py[co]$/.test(entry.name)) {
      await rm(path, { force: true });
    }
  }
}

async function update(ctx: RecipeContext): Promise<string[] | undefined> {
  const g = readOptions(ctx);
  if (!existsSync(g.location)) return install(ctx);
  if (g.develop) return undefined;
  await deletePycFiles(g.location);
  if (g.revision !== undefined) {
    if (!(await hasCommit(ctx, g, g.revision))) await git(ctx, g, ['fetch', '--all']);
    const head = await git(ctx, g, ['rev-parse', 'HEAD'], { allowFailure: true });
    const wanted = await git(ctx, g, ['rev-parse', `${g.revision}^{commit}`], { allowFailure: true });
    if (head.output.join() === wanted.output.join() && head.ok) return undefined;
    await git(ctx, g, ['reset', '--hard', g.revision]);
  } else {
    await git(ctx, g, ['fetch', '--all']);
    await git(ctx, g, ['reset', '--hard', '@{upstream}']);
  }
  await updateSubmodules(ctx, g);
  return undefined;
}

/** Non-empty output of a git command in the working copy (false when git fails). */
async function gitSays(
  ctx: UninstallContext,
  git: string,
  location: string,
  args: string[],
): Promise<boolean> {
  const run = await ctx.exec(git, args, {
    cwd: location,
    env: { PATH: process.env.PATH, GIT_TERMINAL_PROMPT: '0' },
  });
  return run.exitCode === 0 && run.stdout.trim() !== '';
}

export const slaposRecipeBuildGitclone: Recipe = {
  version: '1',
  init(ctx) {
    if (!ctx.options.has('location')) ctx.options.set('location', join(ctx.directories.parts, ctx.name));
    readOptions(ctx);
  },
  install,
  update,
  async uninstall(ctx) {
    const location = ctx.options.location;
    if (!location || !existsSync(location)) return undefined;
    if (!gitTrue(ctx.options.develop ?? 'yes')) return undefined;
    const git = ctx.options['git-executable']?.trim() || 'git';
    const reasons: string[] = [];
    if (await gitSays(ctx, git, location, ['status', '--short']))
      reasons.push(`You have uncommitted changes in ${location}.`);
    if (await gitSays(ctx, git, location, ['log', '--branches', '--not', '--remotes']))
      reasons.push(`You have commits not pushed upstream in ${location}.`);
    if (reasons.length === 0) return undefined;
    ctx.logger.warn({ part: ctx.name, location }, `${reasons.join(' ')} This folder will be left as is.`);
    return { keep: [location] };
  },
};

/**
 * `slapos.recipe.cmmi` (profiles.md §3.8): configure / make / make install of a source archive.
 *
 * Options: `url` (+ `md5sum`/`sha256sum`, checked; through `buildout:download-cache`) or `path`
 * (an existing source tree, built in place); `location` (the prefix, default
 * `${buildout:parts-directory}/<part>`); `configure-command` (default `./configure`; `--prefix=`
 * or, for cmake, `-DCMAKE_INSTALL_PREFIX=` is added unless the options already set a prefix),
 * `configure-options`, `make-binary` (default `make`), `make-options`, `make-targets` (default
 * `install`); `environment` (`K=V` lines, `%(VAR)s` expands the run's environment; steps run
 * with the run's environment plus these);
 * `patches` (`url#md5` lines) applied with `patch-binary` (default `patch`) and `patch-options`
 * (default `-p0`); shell hooks `pre-configure`, `pre-build`, `pre-install`, `post-install`;
 * `keep-compile-dir`; `shared = true` builds once into a content-addressed directory of the last
 * `buildout:shared-part-list` entry and never deletes it. Every step's output is reported as
 * progress and the tail of the failing step is in the error. Update does nothing.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { extractArchive } from '../../lib/archive.ts';
import type { Recipe, RecipeContext } from '../recipe.ts';
import {
  isTrue,
  lines,
  parseEnvironment,
  runStep,
  stepEnvironment,
  stepFailure,
  resolveUrl,
  words,
} from './common.ts';
import { pathExists } from '../../lib/path-exists.ts';

const SHARED_SIGNATURE_FILE = '.slapos.recipe.cmmi.signature';

function expandPercent(ctx: RecipeContext, value: string, option: string): string {
  return value.replace(/%(%|\(([^)]*)\)s)/g, (whole, _all: string, name: string | undefined) => {
    if (name === undefined) return '%';
    const found = ctx.env[name];
    if (found === undefined)
      throw ctx.error(`%(${name})s: no such variable in the environment`, {
        option,
        code: 'SLAP_ERR_PROFILE',
      });
    return found;
  });
}

function buildEnvironment(ctx: RecipeContext): Record<string, string | undefined> {
  const extra = parseEnvironment(ctx);
  for (const key of Object.keys(extra)) extra[key] = expandPercent(ctx, extra[key] ?? '', 'environment');
  return stepEnvironment(ctx, extra);
}

function sharedSignature(ctx: RecipeContext): string {
  const items = ctx.options
    .keys()
    .filter((key) => key !== 'location' && !key.startsWith('_'))
    .sort()
    .map((key) => [key, ctx.options.get(key)]);
  return createHash('md5').update(JSON.stringify(items)).digest('hex');
}

async function step(
  ctx: RecipeContext,
  name: string,
  script: string,
  cwd: string,
  env: Record<string, string | undefined>,
): Promise<void> {
  const run = await runStep(ctx, name, '/bin/sh', ['-c', script], { cwd, env, tailLines: 40 });
  if (run.exitCode !== 0) throw ctx.error(stepFailure(`${name} (${script})`, run));
}

async function applyPatches(
  ctx: RecipeContext,
  workdir: string,
  env: Record<string, string | undefined>,
): Promise<void> {
  const binary = ctx.options.get('patch-binary') || 'patch';
  const patchOptions = words(ctx.options.get('patch-options') || '-p0');
  for (const line of lines(ctx.options.get('patches'))) {
    const hash = line.lastIndexOf('#');
    const url = hash > 0 ? line.slice(0, hash) : line;
    const md5sum = hash > 0 ? line.slice(hash + 1) : undefined;
    const file = await ctx.download(resolveUrl(ctx, url), { md5sum });
    try {
      const run = await runStep(ctx, `patch ${basename(url)}`, binary, patchOptions, {
        cwd: workdir,
        env,
        input: await readFile(file.path, 'utf8'),
      });
      if (run.exitCode !== 0) throw ctx.error(stepFailure(`patch ${url}`, run), { option: 'patches' });
    } finally {
      if (file.temporary) await rm(file.path, { force: true });
    }
  }
}

export const slaposRecipeCmmi: Recipe = {
  version: '1',
  init(ctx) {
    const { options } = ctx;
    if (options.get('post-make-hook')) {
      throw ctx.error('post-make-hook is a Python function, which this engine does not run', {
        option: 'post-make-hook',
        code: 'SLAP_ERR_RECIPE_UNSUPPORTED',
        hint: 'Use a post-install shell hook instead.',
      });
    }
    if (!options.get('url') && !options.get('path')) {
      throw ctx.error('one of "url" or "path" is required', { option: 'url', code: 'SLAP_ERR_PROFILE' });
    }
    const sharedList = lines(ctx.buildout.get('shared-part-list'));
    if (isTrue(options.get('shared')) && sharedList.length > 0) {
      const root = sharedList[sharedList.length - 1] as string;
      options.set('location', join(root, ctx.name, sharedSignature(ctx)));
      ctx.state.set('shared', true);
    } else if (!options.get('location')) {
      options.set('location', join(ctx.directories.parts, ctx.name));
    }
  },

  async install(ctx) {
    const { options } = ctx;
    const location = resolve(ctx.directories.directory, options.require('location'));
    const shared = ctx.state.get('shared') === true;
    if (shared && (await pathExists(join(location, SHARED_SIGNATURE_FILE)))) {
      ctx.logger.info({ part: ctx.name, location }, 'shared part already built');
      return [];
    }
    const env = buildEnvironment(ctx);
    const compileDir = `${location}__compile__`;
    ctx.created(location, compileDir);
    const path = options.get('path');
    let workdir: string;
    if (path) {
      workdir = resolve(ctx.directories.directory, path);
    } else {
      const url = options.require('url').trim();
      ctx.step('download');
      const archive = await ctx.download(resolveUrl(ctx, url), {
        md5sum: options.get('md5sum') || undefined,
        sha256sum: options.get('sha256sum') || undefined,
      });
      await rm(compileDir, { recursive: true, force: true });
      await mkdir(compileDir, { recursive: true });
      try {
        ctx.step('unpack');
        await extractArchive(archive.path, compileDir, {
          exec: (file, args, execOptions) => ctx.exec(file, args, execOptions),
          signal: ctx.signal,
          nameHint: url,
        });
      } finally {
        if (archive.temporary) await rm(archive.path, { force: true });
      }
      const entries = await readdir(compileDir, { withFileTypes: true });
      workdir =
        entries.length === 1 && entries[0]?.isDirectory() ? join(compileDir, entries[0].name) : compileDir;
    }
    await mkdir(location, { recursive: true });
    await applyPatches(ctx, workdir, env);
    const hook = async (name: string): Promise<void> => {
      const script = options.get(name)?.trim();
      if (script) await step(ctx, name, script, workdir, env);
    };
    await hook('pre-configure');
    const configure = options.get('configure-command')?.trim() || './configure';
    const configureOptions = words(options.get('configure-options')).join(' ');
    const cmake = /(^|\/)cmake(\s|$)/.test(configure);
    const prefix = /--prefix|CMAKE_INSTALL_PREFIX/.test(configureOptions)
      ? ''
      : cmake
        ? ` -DCMAKE_INSTALL_PREFIX=${location}`
        : ` --prefix=${location}`;
    await step(
      ctx,
      'configure',
      `${configure}${prefix}${configureOptions ? ` ${configureOptions}` : ''}`,
      workdir,
      env,
    );
    await hook('pre-build');
    const make = options.get('make-binary')?.trim() || 'make';
    const makeOptions = words(options.get('make-options')).join(' ');
    await step(ctx, 'make', `${make}${makeOptions ? ` ${makeOptions}` : ''}`, workdir, env);
    await hook('pre-install');
    const targets = words(options.get('make-targets')).join(' ') || 'install';
    await step(
      ctx,
      'make install',
      `${make}${makeOptions ? ` ${makeOptions}` : ''} ${targets}`,
      workdir,
      env,
    );
    await hook('post-install');
    if (!path && !isTrue(options.get('keep-compile-dir')))
      await rm(compileDir, { recursive: true, force: true });
    if (shared) {
      await writeFile(join(location, SHARED_SIGNATURE_FILE), `${sharedSignature(ctx)}\n`);
      return [];
    }
    return [location];
  },

  update() {
    return undefined;
  },
};

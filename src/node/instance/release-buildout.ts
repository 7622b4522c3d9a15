/**
 * Software releases that bring their own buildout (`S/bin/buildout`, e.g. a release built by the
 * original stack and installed from the binary cache): which engine runs the instance profile
 * (`[slapos] instance_buildout`), and running the release's buildout as slapgrid does (node.md §4.4
 * step 9): `<shebang words> S/bin/buildout -U` in the partition, as the partition's owner, umask 027,
 * a clean environment with `HOME` = the partition, killed after `partition_timeout`; its output goes
 * to the node log line by line, and a non-zero exit fails the run with that output.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildoutEvent } from '../../buildout/progress.ts';
import { profileRecipes } from '../../buildout/profile-recipes.ts';
import type { ExecFunction } from '../../buildout/recipe.ts';
import { SlapError } from '../../core/errors.ts';
import { cleanEnv, execFile } from '../../lib/exec.ts';
import { buildoutTimeout, outputLines } from '../node-buildout.ts';
import type { InstanceBuildoutMode } from '../config.ts';

/** slapgrid's SAFE_UMASK for buildout runs. */
const SAFE_UMASK = '027';
/** Bytes of the release buildout's output kept for the error message. */
const OUTPUT_TAIL_BYTES = 64 * 1024;

export type InstanceEngine =
  { kind: 'native'; reason: string } | { kind: 'release'; buildout: string; reason: string };

/** `S/bin/buildout` if the software release provides one. */
export async function releaseBuildout(software: string): Promise<string | undefined> {
  const path = join(software, 'bin', 'buildout');
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? path : undefined;
}

/**
 * Which buildout runs the instance profile `profile` of the software release in `software`:
 * `native` always the engine; `release` the release's `bin/buildout` (an error if it has none);
 * `auto` the release's when it has one and the profile names a recipe the engine does not have
 * (or the profile cannot be read statically), else the engine.
 */
export async function chooseInstanceEngine(
  mode: InstanceBuildoutMode,
  options: { software: string; profile: string; directory: string; signal?: AbortSignal },
): Promise<InstanceEngine> {
  if (mode === 'native') return { kind: 'native', reason: 'instance_buildout = native' };
  const buildout = await releaseBuildout(options.software);
  if (buildout === undefined) {
    if (mode === 'release') {
      throw new SlapError(
        'SLAP_ERR_SOFTWARE_NOT_INSTALLED',
        `instance_buildout = release, but the software release in ${options.software} has no bin/buildout`,
        { hint: 'use instance_buildout = auto (or native) for releases built by this engine' },
      );
    }
    return { kind: 'native', reason: 'the software release has no bin/buildout' };
  }
  if (mode === 'release') return { kind: 'release', buildout, reason: 'instance_buildout = release' };
  let recipes;
  try {
    recipes = await profileRecipes({
      configFile: options.profile,
      cwd: options.directory,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    if (!(error instanceof SlapError)) throw error;
    return { kind: 'release', buildout, reason: `the engine cannot read the profile (${error.message})` };
  }
  const foreign = recipes.find((entry) => !entry.native);
  if (foreign === undefined) return { kind: 'native', reason: 'every recipe of the profile is native' };
  return {
    kind: 'release',
    buildout,
    reason: `[${foreign.section}] recipe = ${foreign.recipe || '?'} is not native`,
  };
}

/** The interpreter words of a `#!` line (slapgrid reads them itself: shebangs have a length limit). */
async function shebang(path: string): Promise<string[]> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    const first = buffer.subarray(0, bytesRead).toString('utf8').split('\n')[0] ?? '';
    return first.startsWith('#!')
      ? first
          .slice(2)
          .trim()
          .split(/\s+/)
          .filter((w) => w !== '')
      : [];
  } finally {
    await handle.close();
  }
}

export interface ReleaseBuildoutRequest {
  /** The release's `bin/buildout`. */
  buildout: string;
  /** The partition: working directory and HOME; buildout reads its `buildout.cfg`. */
  directory: string;
  runAs?: { uid: number; gid: number };
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress: (event: BuildoutEvent) => void;
  exec?: ExecFunction;
}

/** Runs the release's buildout in the partition as slapgrid does (see the module comment). */
export async function runReleaseBuildout(request: ReleaseBuildoutRequest): Promise<void> {
  const invocation = [...(await shebang(request.buildout)), request.buildout, '-U'];
  // The umask is set by a shell that then becomes the buildout (Node cannot set a child's umask).
  const args = ['-c', `umask ${SAFE_UMASK} && exec "$@"`, 'buildout', ...invocation];
  const output = outputLines((stream, line) =>
    request.onProgress({ type: 'output', part: 'buildout', stream, line }),
  );
  const result = await (request.exec ?? execFile)('/bin/sh', args, {
    cwd: request.directory,
    env: cleanEnv({ HOME: request.directory, PYTHONNOUSERSITE: 'true', LANG: undefined }),
    ...(request.runAs ?? {}),
    ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
    ...(request.signal === undefined ? {} : { signal: request.signal }),
    maxOutputBytes: OUTPUT_TAIL_BYTES,
    onOutput: output.onOutput,
  });
  output.flush();
  request.signal?.throwIfAborted();
  if (result.timedOut) throw buildoutTimeout(request.timeoutMs);
  if (result.exitCode === 0) return;
  const text = [result.stdout, result.stderr].filter((part) => part.trim() !== '').join('\n');
  throw new SlapError(
    'SLAP_ERR_BUILDOUT_FAILED',
    `Failed to run buildout profile in directory ${request.directory} (exit ${result.exitCode ?? result.signal}):\n${text}`,
  );
}

/**
 * How the node runs a buildout (a software build, an instance profile, the uninstall of a destroyed
 * partition): in this process when the files belong to the user running the node (sandbox mode: fast,
 * no process spawned), else — the node runs as root and the directory belongs to a partition or
 * software user — as that user in a separate `slapos buildout` process with a clean environment, its
 * progress forwarded as JSON lines. That process runs from the node's runtime copy (user-runtime.ts),
 * which the user can read wherever this package is installed.
 */
import { join } from 'node:path';
import { runBuildout, uninstallAll } from '../buildout/engine.ts';
import { PROGRESS_JSON_OPTION, type BuildoutEvent } from '../buildout/progress.ts';
import type { ExecFunction, RecipeMap, SlapContext } from '../buildout/recipe.ts';
import { ERROR_CATALOG, SlapError, type ErrorCode } from '../core/errors.ts';
import { cleanEnv, execFile } from '../lib/exec.ts';
import type { Logger } from '../lib/logger.ts';
import { ensureUserRuntime, USER_RUNTIME_DIRECTORY } from './user-runtime.ts';

export interface NodeBuildoutRequest {
  /** `buildout:directory` and working directory. */
  directory: string;
  /** The profile (absolute); ignored with `uninstallAll`. */
  configFile: string;
  assignments?: readonly string[];
  /** `-N` is `newest: false`. */
  newest?: boolean;
  /** Uninstall every installed part instead of running the profile. */
  uninstallAll?: boolean;
  /**
   * Run as this user in a separate process (from the runtime copy under `<instanceRoot>/.slapos-runtime`);
   * undefined: in this process.
   */
  runAs?: { uid: number; gid: number; instanceRoot: string };
  /** Variables the run sees besides PATH and LANG (HOME, SLAPGRID_INSTANCE_ROOT, …). */
  env: Record<string, string>;
  /** Kill the run after this long (the node's partition_timeout). */
  timeoutMs?: number;
  onProgress: (event: BuildoutEvent) => void;
  signal?: AbortSignal;
  logger: Logger;
  exec?: ExecFunction;
  recipes?: RecipeMap;
  /**
   * Handed to the recipes of an in-process run (`master`: the node's client, with its access token,
   * reused by the cookbook's slap recipes); a run as another user gets nothing.
   */
  slap?: SlapContext;
}

/** The error of a buildout run killed at its deadline (the node's partition_timeout). */
export function buildoutTimeout(timeoutMs: number | undefined, cause?: unknown): SlapError {
  return new SlapError('SLAP_ERR_TIMEOUT', `buildout did not finish within ${timeoutMs} ms`, {
    hint: 'raise partition_timeout in slapos.cfg if the profile needs longer',
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Cuts a child's output into lines as it arrives: `onOutput` takes the chunks, `flush` hands over
 * what is left after the last newline once the child has exited.
 */
export function outputLines(onLine: (stream: 'stdout' | 'stderr', line: string) => void): {
  onOutput: (stream: 'stdout' | 'stderr', chunk: string) => void;
  flush: () => void;
} {
  const pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  return {
    onOutput: (stream, chunk) => {
      const lines = (pending[stream] + chunk).split('\n');
      pending[stream] = lines.pop() ?? '';
      for (const line of lines) onLine(stream, line);
    },
    flush: () => {
      for (const stream of ['stdout', 'stderr'] as const)
        if (pending[stream]) onLine(stream, pending[stream]);
    },
  };
}

export async function runNodeBuildout(request: NodeBuildoutRequest): Promise<void> {
  if (request.runAs === undefined) return runInProcess(request);
  return runAsUser(request, request.runAs);
}

async function runInProcess(request: NodeBuildoutRequest): Promise<void> {
  const signals = [request.signal, request.timeoutMs ? AbortSignal.timeout(request.timeoutMs) : undefined];
  const active = signals.filter((s): s is AbortSignal => s !== undefined);
  const signal = active.length === 0 ? undefined : active.length === 1 ? active[0] : AbortSignal.any(active);
  const common = {
    env: { ...cleanEnv(), ...request.env },
    logger: request.logger,
    onProgress: request.onProgress,
    ...(signal === undefined ? {} : { signal }),
    ...(request.exec === undefined ? {} : { exec: request.exec }),
    ...(request.recipes === undefined ? {} : { recipes: request.recipes }),
    ...(request.slap === undefined ? {} : { slap: request.slap }),
  };
  try {
    if (request.uninstallAll) await uninstallAll({ directory: request.directory, ...common });
    else
      await runBuildout({
        configFile: request.configFile,
        cwd: request.directory,
        assignments: [...(request.assignments ?? [])],
        ...(request.newest === undefined ? {} : { newest: request.newest }),
        userDefaults: false,
        ...common,
      });
  } catch (error) {
    if (signal?.aborted && !request.signal?.aborted) throw buildoutTimeout(request.timeoutMs, error);
    throw error;
  }
}

async function runAsUser(
  request: NodeBuildoutRequest,
  runAs: { uid: number; gid: number; instanceRoot: string },
): Promise<void> {
  const runtime = await ensureUserRuntime({
    parent: join(runAs.instanceRoot, USER_RUNTIME_DIRECTORY),
    runAs,
  });
  const args = [runtime.bin, 'buildout', '-U', PROGRESS_JSON_OPTION];
  if (request.uninstallAll) args.push('--uninstall-all');
  else {
    if (request.newest === false) args.push('-N');
    args.push('-c', request.configFile, ...(request.assignments ?? []));
  }
  let failure: { code?: string; message?: string; hint?: string } | undefined;
  const onLine = (stream: 'stdout' | 'stderr', line: string): void => {
    if (line.trim() === '') return;
    if (line.startsWith('{')) {
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        if (typeof record.progress === 'object' && record.progress !== null) {
          request.onProgress(record.progress as BuildoutEvent);
          return;
        }
        if (typeof record.error === 'object' && record.error !== null) {
          failure = record.error;
          return;
        }
        // A log record of the child: already in its own words, keep warnings and errors.
        if (typeof record.level === 'number') {
          if (record.level >= 40 && typeof record.msg === 'string')
            request.onProgress({ type: 'warning', message: record.msg });
          return;
        }
      } catch {
        // not JSON: plain output
      }
    }
    request.onProgress({ type: 'output', part: 'buildout', stream, line });
  };
  const output = outputLines(onLine);
  const exec = request.exec ?? execFile;
  const result = await exec(process.execPath, args, {
    cwd: request.directory,
    uid: runAs.uid,
    gid: runAs.gid,
    env: cleanEnv(request.env),
    ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
    ...(request.signal === undefined ? {} : { signal: request.signal }),
    maxOutputBytes: 64 * 1024,
    onOutput: output.onOutput,
  });
  output.flush();
  request.signal?.throwIfAborted();
  if (result.timedOut) throw buildoutTimeout(request.timeoutMs);
  if (result.exitCode === 0) return;
  const code: ErrorCode =
    failure?.code !== undefined && failure.code in ERROR_CATALOG
      ? (failure.code as ErrorCode)
      : 'SLAP_ERR_BUILDOUT_FAILED';
  const tail = result.stderr.trim().split('\n').slice(-5).join('\n');
  throw new SlapError(
    code,
    failure?.message ?? `buildout exited with status ${result.exitCode ?? result.signal}: ${tail}`,
    failure?.hint === undefined ? {} : { hint: failure.hint },
  );
}

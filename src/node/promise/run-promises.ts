/**
 * The promise API of the node: run a partition's promises (those due, or all when forced), a few
 * at a time, store each result, and say whether the partition may be reported as started.
 */
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { SlapError } from '../../core/errors.ts';
import { mapConcurrent } from '../../lib/map-concurrent.ts';
import type { execFile } from '../../lib/exec.ts';
import type { Logger } from '../../lib/logger.ts';
import { silentLogger } from '../../lib/logger.ts';
import { listPromises, type PromiseCheck, type PromiseDefinition } from './definitions.ts';
import { checkPromise } from './runner.ts';
import { appendRun, countsAsFailed, isDue, nextCache, type PromiseMode } from './scheduler.ts';
import { parseResultDate, PromiseStore, resultDate } from './store.ts';
import { isDirectory } from '../../lib/path-exists.ts';

export const DEFAULT_PROMISE_TIMEOUT = 20;
export const DEFAULT_CONCURRENCY = 4;

export interface RunPromisesOptions {
  /** `test`: after a deployment (latest run decides); `anomaly`: up-to-date partitions. */
  mode: PromiseMode;
  /** Ignore periodicity: run every promise now. */
  force?: boolean;
  signal?: AbortSignal;
  logger?: Logger;
  /** Seconds per promise unless its definition says otherwise (the node's promise_timeout). */
  timeout?: number;
  /** Promises checked at the same time. */
  concurrency?: number;
  /** Epoch ms (for periodicity). */
  now?: () => number;
  exec?: typeof execFile;
  /** Run subprocess promises as this user; default: the partition directory's owner when root. */
  runAs?: { uid: number; gid: number } | undefined;
  /**
   * Failures will be retried (the grace period of just started services): logged at info with
   * `retrying: true`, not as errors.
   */
  retrying?: boolean;
}

export interface PromiseOutcome {
  readonly title: string;
  readonly name: string;
  readonly path: string;
  readonly kind: PromiseCheck['kind'];
  readonly legacy: boolean;
  /** Whether the promise counts as failed (in this mode). */
  readonly failed: boolean;
  readonly message: string;
  /** False when its periodicity had not elapsed and the stored result was used. */
  readonly ran: boolean;
  readonly timedOut: boolean;
  /** Seconds. */
  readonly executionTime: number;
  /** A failure here may bang the instance (anomaly mode, not legacy). */
  readonly bangOnFailure: boolean;
  /** Epoch seconds after which it is due again (unless forced or its definition changes). */
  readonly nextRunAfter: number;
  /** Epoch ms of the run that gave this result. */
  readonly date: number;
}

/** The latest stored result of one promise of the partition, whatever the mode it runs in. */
export interface LatestPromiseResult {
  readonly title: string;
  readonly failed: boolean;
  readonly message: string;
  /** Epoch ms of the run that gave it. */
  readonly date: number;
}

export interface PromiseReport {
  /** No promise failed: the partition may be reported as started. */
  readonly ok: boolean;
  readonly mode: PromiseMode;
  readonly results: readonly PromiseOutcome[];
  readonly failures: readonly PromiseOutcome[];
  /** In anomaly mode, the first failure allowed to bang the instance. */
  readonly bang: { readonly title: string; readonly message: string } | undefined;
  /** Epoch seconds when the first of these promises is due again; undefined without promises. */
  readonly nextRunAfter: number | undefined;
  /**
   * The latest result of every promise of the partition, in definition order: those of this run, and
   * the stored result of those that run only in the other mode (left out when they never ran). What
   * the node reports to the master.
   */
  readonly latest: readonly LatestPromiseResult[];
}

export async function runPromises(partitionDir: string, options: RunPromisesOptions): Promise<PromiseReport> {
  const logger = options.logger ?? silentLogger();
  const now = options.now ?? Date.now;
  const store = new PromiseStore(partitionDir);
  if (!(await isDirectory(partitionDir)))
    throw new SlapError('SLAP_ERR_NOT_FOUND', `partition directory ${partitionDir} does not exist`);
  const inMode = (d: PromiseDefinition): boolean => (options.mode === 'test' ? d.test : d.anomaly);
  const allDefinitions = await listPromises(partitionDir, {
    onIgnored: (name) =>
      logger.warn({ promise: name }, `Bad promise file ${name}: not an executable file, ignored`),
  });
  const definitions = allDefinitions.filter(inMode);
  const runAs = options.runAs ?? (await partitionOwner(partitionDir));

  const runOne = async (definition: PromiseDefinition): Promise<PromiseOutcome> => {
    options.signal?.throwIfAborted();
    const base = {
      title: definition.title,
      name: definition.name,
      path: definition.path,
      kind: definition.check.kind,
      legacy: definition.legacy,
      bangOnFailure: definition.bangOnFailure && !definition.legacy,
    };
    const definitionMtime = await mtimeOf(definition.path);
    const cache = await store.readCache(definition.title);
    const sameDefinition =
      cache?.module_file === definition.path && cache.module_file_mtime === definitionMtime;
    const startedAt = now();
    if (
      !isDue({ definition, cache, definitionMtime, now: startedAt, force: options.force ?? false }) &&
      cache
    ) {
      const stored = await store.readResult(definition.title);
      const lastRun = cache.history.at(-1);
      return {
        ...base,
        failed: countsAsFailed(options.mode, definition, cache.history),
        message: stored?.result.message ?? '',
        ran: false,
        timedOut: lastRun?.timed_out ?? false,
        executionTime: stored?.['execution-time'] ?? 0,
        nextRunAfter: cache.next_run_after,
        date: (stored && parseResultDate(stored.result.date)) ?? (lastRun ? lastRun.date * 1000 : startedAt),
      };
    }
    const timeoutMs = (definition.timeout ?? options.timeout ?? DEFAULT_PROMISE_TIMEOUT) * 1000;
    const clock = performance.now();
    const outcome = await checkPromise(definition.check, {
      partitionDir,
      timeoutMs,
      signal: options.signal,
      ...(options.exec === undefined ? {} : { exec: options.exec }),
      uid: runAs?.uid,
      gid: runAs?.gid,
    });
    const executionTime = Math.round(performance.now() - clock) / 1000;
    const history = appendRun(sameDefinition ? (cache?.history ?? []) : [], {
      failed: outcome.failed,
      timed_out: outcome.timedOut,
      date: startedAt / 1000,
    });
    const failed = countsAsFailed(options.mode, definition, history);
    await store.writeResult({
      title: definition.title,
      name: definition.name,
      path: definition.path,
      'execution-time': executionTime,
      result: {
        type: options.mode === 'test' ? 'Test Result' : 'Anomaly Result',
        failed,
        date: resultDate(startedAt),
        message: outcome.message,
      },
    });
    const cacheEntry = nextCache({
      definition,
      definitionMtime,
      mode: options.mode,
      startedAt,
      history,
      failed,
    });
    await store.writeCache(definition.title, cacheEntry);
    const retrying = outcome.failed && options.retrying === true;
    logger[outcome.failed && !retrying ? 'error' : 'info'](
      {
        promise: definition.title,
        failed,
        executionTime,
        timedOut: outcome.timedOut,
        ...(retrying ? { retrying } : {}),
      },
      `promise ${definition.title}: ${outcome.message}${retrying ? ' (retrying: its service just started)' : ''}`,
    );
    return {
      ...base,
      failed,
      message: outcome.message,
      ran: true,
      timedOut: outcome.timedOut,
      executionTime,
      nextRunAfter: cacheEntry.next_run_after,
      date: startedAt,
    };
  };

  const results = await mapConcurrent(definitions, options.concurrency ?? DEFAULT_CONCURRENCY, runOne);
  options.signal?.throwIfAborted();
  const failures = results.filter((r) => r.failed);
  const banging = options.mode === 'anomaly' ? failures.find((f) => f.bangOnFailure) : undefined;
  const byTitle = new Map(results.map((r) => [r.title, r]));
  const latest: LatestPromiseResult[] = [];
  for (const definition of allDefinitions) {
    const outcome = byTitle.get(definition.title);
    if (outcome) {
      latest.push({
        title: outcome.title,
        failed: outcome.failed,
        message: outcome.message,
        date: outcome.date,
      });
      continue;
    }
    const stored = inMode(definition) ? undefined : await store.readResult(definition.title);
    const date = stored && parseResultDate(stored.result.date);
    if (stored && date !== undefined)
      latest.push({
        title: definition.title,
        failed: stored.result.failed,
        message: stored.result.message ?? '',
        date,
      });
  }
  return {
    ok: failures.length === 0,
    mode: options.mode,
    results,
    failures,
    bang: banging ? { title: banging.title, message: `Promise ${banging.title} is failing` } : undefined,
    nextRunAfter: results.length === 0 ? undefined : Math.min(...results.map((r) => r.nextRunAfter)),
    latest,
  };
}

/**
 * The message of an error report for a partition whose promises failed: the original reports
 * `Promise '<name>' failed with output: <message>` for the first one; we list each failure.
 */
export function promiseFailureMessage(report: PromiseReport): string {
  return report.failures.map((f) => `Promise '${f.title}' failed with output: ${f.message}`).join('\n');
}

async function mtimeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

/** When the node runs as root, promises run as the partition's owner (never as root). */
async function partitionOwner(partitionDir: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const info = await stat(partitionDir);
  return info.uid === 0 ? undefined : { uid: info.uid, gid: info.gid };
}

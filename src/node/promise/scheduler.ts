/**
 * When to check: a promise runs when forced, when it never ran, when its definition changed, or
 * when its periodicity has elapsed; otherwise its stored result stands. Whether a promise counts as
 * failed depends on the mode (node.md §5): in test mode its latest run decides; in anomaly mode it
 * fails only after `failureAmount` failed runs in a row, and a timeout counts only if the previous
 * run had already failed.
 */
import type { PromiseDefinition } from './definitions.ts';
import { HISTORY_LENGTH, type PromiseCache, type PromiseRun } from './store.ts';

export type PromiseMode = 'test' | 'anomaly';

export interface DueInput {
  readonly definition: PromiseDefinition;
  readonly cache: PromiseCache | undefined;
  /** mtime (ms) of the definition file now. */
  readonly definitionMtime: number;
  /** Epoch ms. */
  readonly now: number;
  readonly force: boolean;
}

export function isDue(input: DueInput): boolean {
  const { cache } = input;
  if (input.force || cache === undefined) return true;
  if (cache.module_file !== input.definition.path || cache.module_file_mtime !== input.definitionMtime)
    return true;
  return input.now / 1000 >= cache.next_run_after;
}

export function appendRun(history: readonly PromiseRun[], run: PromiseRun): PromiseRun[] {
  return [...history, run].slice(-HISTORY_LENGTH);
}

/** Whether the promise counts as failed after its latest run (`history` ends with it). */
export function countsAsFailed(
  mode: PromiseMode,
  definition: PromiseDefinition,
  history: readonly PromiseRun[],
): boolean {
  const latest = history.at(-1);
  if (latest === undefined || !latest.failed) return false;
  if (mode === 'test') return true;
  if (latest.timed_out && !(history.at(-2)?.failed ?? false)) return false;
  const window = history.slice(-definition.failureAmount);
  return window.length === definition.failureAmount && window.every((run) => run.failed);
}

export function nextCache(input: {
  definition: PromiseDefinition;
  definitionMtime: number;
  mode: PromiseMode;
  startedAt: number;
  history: readonly PromiseRun[];
  failed: boolean;
}): PromiseCache {
  return {
    is_tested: input.mode === 'test',
    is_anomaly_detected: input.mode === 'anomaly' && input.failed,
    periodicity: input.definition.periodicity / 60,
    next_run_after: input.startedAt / 1000 + input.definition.periodicity,
    timestamp: input.startedAt / 1000,
    module_file: input.definition.path,
    module_file_mtime: input.definitionMtime,
    history: input.history,
  };
}

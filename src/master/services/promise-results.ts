/**
 * Promise results (our extension, docs/master.md "Promise results"): the latest result of each promise
 * of an instance's partition, as its node reports them, and reading them back. A report, not a change
 * the node must act on: no partition timestamp bump, no compute node revision bump.
 */
import { MAX_PROMISE_RESULTS_JSON_BYTES } from '../../api/index.ts';
import { SlapError } from '../../core/errors.ts';
import {
  MAX_PROMISE_MESSAGE_BYTES,
  MAX_PROMISE_EVENTS_PER_INSTANCE,
  truncateUtf8,
} from '../../core/instance-events.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { authorizedInstance } from './instance-access.ts';
import { bounded } from './stored-parameters.ts';

export interface PromiseResult {
  /** The promise's title. */
  name: string;
  status: 'pass' | 'fail';
  message: string;
  /** When it ran, ISO 8601. */
  date: string;
}

export interface PromiseResults {
  results: PromiseResult[];
  /** When the master received them (float seconds); null when none were reported. */
  reportedAt: number | null;
}

/** A change of one promise's result, as its history keeps it. */
export interface PromiseTransition {
  /** The promise's title. */
  name: string;
  status: 'pass' | 'fail';
  /** Its message, cut to MAX_PROMISE_MESSAGE_BYTES. */
  message: string;
  /** When the master received the report (float seconds). */
  at: number;
}

/**
 * The transitions from one result list to the next: a promise that starts failing (also when first
 * seen), recovers, or fails with another message. A promise passing as before, failing as before,
 * or first seen passing is none.
 */
export function promiseTransitions(
  previous: readonly PromiseResult[],
  next: readonly PromiseResult[],
  at: number,
): PromiseTransition[] {
  const before = new Map<string, PromiseResult>();
  for (const result of previous) if (!before.has(result.name)) before.set(result.name, result);
  const seen = new Set<string>();
  const transitions: PromiseTransition[] = [];
  for (const result of next) {
    if (seen.has(result.name)) continue;
    seen.add(result.name);
    const last = before.get(result.name);
    const changed = last
      ? last.status !== result.status || (result.status === 'fail' && last.message !== result.message)
      : result.status === 'fail';
    if (changed)
      transitions.push({
        name: result.name,
        status: result.status,
        message: truncateUtf8(result.message, MAX_PROMISE_MESSAGE_BYTES),
        at,
      });
  }
  return transitions;
}

/**
 * Replaces the promise results of an instance; their transitions go to its promise history. Shared
 * instances have no partition: 403 NotImplemented.
 */
export async function reportPromiseResults(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; results: readonly PromiseResult[] },
): Promise<'Updated'> {
  context.naming.check(input.instanceGuid);
  if (context.naming.namesShared(input.instanceGuid))
    throw new SlapError('SLAP_ERR_NOT_IMPLEMENTED', 'NotImplemented');
  const resultListJson = bounded(
    JSON.stringify(input.results.map(({ name, status, message, date }) => ({ name, status, message, date }))),
    MAX_PROMISE_RESULTS_JSON_BYTES,
    'The promise results',
  );
  const reportedAt = context.clock.now();
  await context.store.write(async (repository) => {
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.report',
      instanceGuid: input.instanceGuid,
    });
    if (record.shared) throw new SlapError('SLAP_ERR_NOT_IMPLEMENTED', 'NotImplemented');
    const before = await repository.getPromiseResults(record.id);
    await repository.setPromiseResults(record.id, { resultListJson, reportedAt });
    if (before?.resultListJson === resultListJson) return;
    const previous = before ? (JSON.parse(before.resultListJson) as PromiseResult[]) : [];
    await repository.appendPromiseEvents(
      record.id,
      promiseTransitions(previous, input.results, reportedAt),
      MAX_PROMISE_EVENTS_PER_INSTANCE,
    );
  });
  return 'Updated';
}

/** The promise results last reported for an instance (none: an empty list and a null date). */
export async function readPromiseResults(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string },
): Promise<PromiseResults> {
  return context.store.read(async (repository) => {
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.read',
      instanceGuid: input.instanceGuid,
    });
    const stored = await repository.getPromiseResults(record.id);
    if (!stored) return { results: [], reportedAt: null };
    return { results: JSON.parse(stored.resultListJson) as PromiseResult[], reportedAt: stored.reportedAt };
  });
}

/** The promise transitions of an instance (the last MAX_PROMISE_EVENTS_PER_INSTANCE), newest first. */
export async function readPromiseHistory(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string },
): Promise<PromiseTransition[]> {
  return context.store.read(async (repository) => {
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.read',
      instanceGuid: input.instanceGuid,
    });
    return repository.listPromiseEvents(record.id);
  });
}

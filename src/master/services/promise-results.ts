/**
 * Promise results (our extension, docs/master.md "Promise results"): the latest result of each promise
 * of an instance's partition, as its node reports them, and reading them back. A report, not a change
 * the node must act on: no partition timestamp bump, no compute node revision bump.
 */
import { MAX_PROMISE_RESULTS_JSON_BYTES } from '../../api/index.ts';
import { SlapError } from '../../core/errors.ts';
import type { PromiseResultsRecord } from '../storage/repository.ts';
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

/** Replaces the promise results of an instance. Shared instances have no partition: 403 NotImplemented. */
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
    await repository.setPromiseResults(record.id, { resultListJson, reportedAt });
  });
  return 'Updated';
}

/** Stored promise results as read back (none stored: an empty list and a null date). */
export function promiseResultsOf(stored: PromiseResultsRecord | undefined): PromiseResults {
  if (!stored) return { results: [], reportedAt: null };
  return { results: JSON.parse(stored.resultListJson) as PromiseResult[], reportedAt: stored.reportedAt };
}

/** Whether a promise failed in these results. */
export function hasPromiseFailure(results: PromiseResults): boolean {
  return results.results.some((result) => result.status === 'fail');
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
    return promiseResultsOf(await repository.getPromiseResults(record.id));
  });
}

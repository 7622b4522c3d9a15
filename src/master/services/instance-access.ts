/** Finding the instance a guid names, for a caller who may act on it (the one check point, caller.ts). */
import type { InstanceRecord, Repository } from '../storage/repository.ts';
import type { Action, Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { instanceNotFound } from './not-found.ts';

export interface InstanceLookup {
  caller: Caller;
  action: Action;
  instanceGuid: string;
  /**
   * slapproxy answers some reports about unknown (even malformed) guids as if they were done: proxy
   * mode keeps that; master mode answers them "not found", as it answers a caller's foreign instance.
   */
  ignoreMissingInProxyMode?: boolean;
}

/** The named instance when the caller may act on it; a missing one is refused (not found). */
export function authorizedInstance(
  context: ServiceContext,
  repository: Repository,
  lookup: InstanceLookup & { ignoreMissingInProxyMode?: false },
): Promise<InstanceRecord>;
/** The same, but undefined for a missing (or malformed) one that proxy mode ignores. */
export function authorizedInstance(
  context: ServiceContext,
  repository: Repository,
  lookup: InstanceLookup,
): Promise<InstanceRecord | undefined>;
export async function authorizedInstance(
  context: ServiceContext,
  repository: Repository,
  lookup: InstanceLookup,
): Promise<InstanceRecord | undefined> {
  const guid = lookup.instanceGuid;
  const ignore = lookup.ignoreMissingInProxyMode === true && context.mode === 'proxy';
  let record: InstanceRecord | undefined;
  try {
    record = await context.naming.find(repository, guid);
  } catch (error) {
    if (ignore) return undefined;
    throw error;
  }
  if (!record) {
    if (ignore) return undefined;
    throw instanceNotFound(guid);
  }
  await context.authorize(lookup.caller, lookup.action, { kind: 'instance', record, guid }, repository);
  return record;
}

/**
 * An instance's timeline (docs/master.md, "Instance timeline"): the use cases that change an
 * instance record what changed with `recordInstanceEvent`, in their own write transaction and only
 * when something did change; people read it back with `readInstanceTimeline`.
 */
import { SlapError } from '../../core/errors.ts';
import {
  MAX_EVENT_DETAIL_BYTES,
  MAX_EVENTS_PER_INSTANCE,
  truncateUtf8,
  type InstanceEventKind,
} from '../../core/instance-events.ts';
import type { InstanceEventRecord, PartitionKey, Repository } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { authorizedInstance } from './instance-access.ts';

export type InstanceEvent = InstanceEventRecord;

/** Records `kind` for the instance at `at`; a detail beyond MAX_EVENT_DETAIL_BYTES is cut there. */
export async function recordInstanceEvent(
  repository: Repository,
  instanceId: number,
  event: { kind: InstanceEventKind; at: number; detail?: string | null },
): Promise<void> {
  const detail = event.detail == null ? null : truncateUtf8(event.detail, MAX_EVENT_DETAIL_BYTES);
  await repository.appendInstanceEvent(
    instanceId,
    { kind: event.kind, at: event.at, detail },
    MAX_EVENTS_PER_INSTANCE,
  );
}

/** The detail of an `allocated` event: where the instance went. */
export function allocationDetail(location: PartitionKey): string {
  return `${location.computeNodeId}/${location.partitionId}`;
}

/** The newest `limit` (1 to MAX_EVENTS_PER_INSTANCE, all by default) events of an instance, newest first. */
export async function readInstanceTimeline(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; limit?: number | undefined },
): Promise<InstanceEvent[]> {
  const limit = input.limit ?? MAX_EVENTS_PER_INSTANCE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_EVENTS_PER_INSTANCE) {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `The timeline's limit must be a whole number from 1 to ${MAX_EVENTS_PER_INSTANCE}.`,
    );
  }
  return context.store.read(async (repository) => {
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.read',
      instanceGuid: input.instanceGuid,
    });
    return repository.listInstanceEvents(record.id, limit);
  });
}

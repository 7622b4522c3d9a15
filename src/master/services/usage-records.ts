/**
 * Usage records: the movements of the nodes' usage reports (`slapos.post.v0.compute_node_usage`,
 * legacy `useComputer`), each attributed to the instance and owner that held its partition at the
 * end of its interval (the partition history), and the series the panel draws from them.
 *
 * A report is stored whole or not at all: a malformed journal, a quantity negative or not finite, an
 * interval ending before it starts or in the future, or a partition the node does not have refuses
 * it. A record's key is (compute node, partition, start, stop, resource): a journal sent again counts
 * once (the first one stays); movements of one journal with the same key are summed. A movement whose
 * reference is the node itself (slapos.collect's node-wide figures) is kept under partition ''.
 */
import { SlapError } from '../../core/errors.ts';
import {
  MAX_USAGE_TEXT_LENGTH,
  parseUsageJournal,
  type UsageJournalMovement,
} from '../../core/usage-journal.ts';
import type {
  PartitionAllocationRecord,
  PartitionHolder,
  UsagePoint,
  UsageRecord,
} from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { authorizedInstance } from './instance-access.ts';

/** How far in the future (node clock ahead of the master's) an interval may end, in seconds. */
export const USAGE_CLOCK_SKEW_SECONDS = 300;
/** At most this many resources in one series request. */
export const MAX_SERIES_RESOURCES = 16;
/** At most this many points per resource (the latest ones of the range). */
export const MAX_SERIES_POINTS = 5000;

function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** Movements of the same key summed, in the journal's order. */
function mergeByKey(movements: readonly UsageJournalMovement[]): UsageJournalMovement[] {
  const merged = new Map<string, UsageJournalMovement>();
  for (const movement of movements) {
    const key = JSON.stringify([movement.reference, movement.start, movement.stop, movement.resource]);
    const seen = merged.get(key);
    if (seen) seen.quantity += movement.quantity;
    else merged.set(key, { ...movement });
  }
  return [...merged.values()];
}

/** Who held the partition at `at`: allocated before it, not released before it. */
function holderAt(history: readonly PartitionAllocationRecord[], at: number): PartitionHolder | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const allocation = history[i];
    if (allocation === undefined || allocation.allocatedAt >= at) continue;
    if (allocation.releasedAt !== null && allocation.releasedAt < at) return null;
    return {
      instanceId: allocation.instanceId,
      owner: allocation.owner,
      instanceTree: allocation.instanceTree,
    };
  }
  return null;
}

/** Stores a node's usage report. The answer stays slapproxy's `Ignored` (clients expect it). */
export async function reportComputeNodeUsage(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; usageXml: string },
): Promise<'Ignored'> {
  const node = input.computeNodeId;
  await context.authorize(input.caller, 'compute_node.report', { kind: 'compute_node', computeNodeId: node });
  const movements = mergeByKey(parseUsageJournal(input.usageXml));
  const now = context.clock.now();
  if (movements.some((movement) => movement.stop > now + USAGE_CLOCK_SKEW_SECONDS))
    throw new SlapError(
      'SLAP_ERR_USAGE_REPORT_INVALID',
      `An interval of the usage report ends in the future (more than ${USAGE_CLOCK_SKEW_SECONDS} s after the master's clock).`,
    );
  if (movements.length === 0) return 'Ignored';
  const stored = await context.store.write(async (repository) => {
    const partitions = new Set(
      (await repository.listPartitions(node)).map((partition) => partition.reference),
    );
    const unknown = movements.find(({ reference }) => reference !== node && !partitions.has(reference));
    if (unknown)
      throw new SlapError(
        'SLAP_ERR_PARTITION_NOT_FOUND',
        `The usage report names ${shown(unknown.reference)}, which is not a partition of ${shown(node)}.`,
      );
    const histories = new Map<string, PartitionAllocationRecord[]>();
    for (const allocation of await repository.listPartitionAllocations(node)) {
      const history = histories.get(allocation.partitionId);
      if (history) history.push(allocation);
      else histories.set(allocation.partitionId, [allocation]);
    }
    let count = 0;
    for (const movement of movements) {
      const partitionId = movement.reference === node ? '' : movement.reference;
      const record: UsageRecord = {
        computeNodeId: node,
        partitionId,
        holder: partitionId === '' ? null : holderAt(histories.get(partitionId) ?? [], movement.stop),
        resource: movement.resource,
        title: movement.title,
        quantity: movement.quantity,
        start: movement.start,
        stop: movement.stop,
        recordedAt: now,
      };
      if (await repository.insertUsageRecord(record)) count++;
    }
    return count;
  });
  context.logger.info(
    { computeNode: node, movements: movements.length, stored, duplicates: movements.length - stored },
    'usage report recorded',
  );
  return 'Ignored';
}

export interface UsageSeries {
  resource: string;
  /** Oldest first. */
  points: UsagePoint[];
}

export type UsageSeriesInput = ({ computeNodeId: string } | { instanceGuid: string }) & {
  caller: Caller;
  resources: readonly string[];
  /** The range of interval ends, float seconds, inclusive. */
  from: number;
  to: number;
};

function checkSeriesQuery(input: UsageSeriesInput): void {
  const bad = (message: string) => new SlapError('SLAP_ERR_INVALID_INPUT', message);
  if (!Number.isFinite(input.from) || !Number.isFinite(input.to) || input.from > input.to)
    throw bad('The range of a usage series must be two finite times, from <= to.');
  if (input.resources.length === 0 || input.resources.length > MAX_SERIES_RESOURCES)
    throw bad(`A usage series names 1 to ${MAX_SERIES_RESOURCES} resources.`);
  for (const resource of input.resources)
    if (resource === '' || resource.length > MAX_USAGE_TEXT_LENGTH)
      throw bad(`A resource name has 1 to ${MAX_USAGE_TEXT_LENGTH} characters.`);
}

/**
 * The usage of a compute node (summed over its partitions per interval) or of an instance, per
 * resource in the order asked, as points (interval end, quantity) oldest first.
 */
export async function readUsageSeries(
  context: ServiceContext,
  input: UsageSeriesInput,
): Promise<UsageSeries[]> {
  checkSeriesQuery(input);
  return context.store.read(async (repository) => {
    let subject: { computeNodeId: string } | { instanceId: number } | undefined;
    if ('computeNodeId' in input) {
      await context.authorize(
        input.caller,
        'compute_node.read',
        { kind: 'compute_node', computeNodeId: input.computeNodeId },
        repository,
      );
      subject = { computeNodeId: input.computeNodeId };
    } else {
      const record = await authorizedInstance(context, repository, {
        caller: input.caller,
        action: 'instance.read',
        instanceGuid: input.instanceGuid,
      });
      // A shared instance has no partition of its own: no usage.
      if (!record.shared) subject = { instanceId: record.id };
    }
    const series: UsageSeries[] = [];
    for (const resource of new Set(input.resources)) {
      const points = subject
        ? await repository.listUsagePoints(subject, {
            resource,
            from: input.from,
            to: input.to,
            limit: MAX_SERIES_POINTS,
          })
        : [];
      series.push({ resource, points });
    }
    return series;
  });
}

/**
 * Usage reports (`slapos.post.v0.compute_node_usage`, legacy `useComputer`): stored as received
 * (`usage_journal`), as usage records (the movements the panel draws, each attributed to the instance
 * and owner that held its partition at the end of its interval), and as billed charges
 * (core/usage-charges.ts: split at the partition's changes of holder and at UTC month boundaries).
 *
 * A report is stored whole or not at all: a malformed journal, a quantity negative or not finite, an
 * interval ending before it starts or in the future, a partition the node does not have, or a seal
 * that does not verify (usage-seal.ts) refuses it with a 4xx. The same document sent again by the
 * node changes nothing. A record's key is (compute node, partition, start, stop, resource): movements
 * of one journal with the same key are summed, and a key already stored keeps its first record. A
 * partition's interval (compute node, partition, start, stop) is billed once: the movements of a
 * journal for an interval an earlier journal reported are not charged again. A movement whose
 * reference is the node itself (slapos.collect's node-wide figures) is kept under partition '' and
 * not billed.
 */
import { SlapError } from '../../core/errors.ts';
import { splitMovement } from '../../core/usage-charges.ts';
import {
  MAX_USAGE_TEXT_LENGTH,
  parseUsageJournal,
  type UsageJournalMovement,
} from '../../core/usage-journal.ts';
import { readUsageSeal, usageDocumentHash, type UsageSeal } from '../../core/usage-signature.ts';
import type {
  PartitionAllocationRecord,
  PartitionHolder,
  Repository,
  UsagePoint,
  UsageRecord,
} from '../storage/repository.ts';
import type { UsageChargeRecord, UsageIntervalKey } from '../storage/usage-repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { authorizedInstance } from './instance-access.ts';
import { checkUsageSealCertificate, checkUsageSignature } from './usage-seal.ts';

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

/** Who held the partition at the end of an interval ending at `at`: allocated before it, not released before it. */
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

const intervalKey = (partitionId: string, start: number, stop: number): string =>
  JSON.stringify([partitionId, start, stop]);

/** What one report stored. */
interface Ingested {
  /** False when the node had sent this very document before. */
  stored: boolean;
  records: number;
  charges: number;
}

/** The node's allocation histories by partition, oldest first. */
async function allocationHistories(
  repository: Repository,
  computeNodeId: string,
): Promise<Map<string, PartitionAllocationRecord[]>> {
  const histories = new Map<string, PartitionAllocationRecord[]>();
  for (const allocation of await repository.listPartitionAllocations(computeNodeId)) {
    const history = histories.get(allocation.partitionId);
    if (history) history.push(allocation);
    else histories.set(allocation.partitionId, [allocation]);
  }
  return histories;
}

async function ingest(
  context: ServiceContext,
  repository: Repository,
  input: {
    computeNodeId: string;
    document: string;
    seal: UsageSeal | undefined;
    movements: UsageJournalMovement[];
  },
): Promise<Ingested> {
  const node = input.computeNodeId;
  const { movements, seal } = input;
  if (seal) await checkUsageSealCertificate(context, repository, { computeNodeId: node, seal });
  const partitions = new Set((await repository.listPartitions(node)).map((partition) => partition.reference));
  const unknown = movements.find(({ reference }) => reference !== node && !partitions.has(reference));
  if (unknown)
    throw new SlapError(
      'SLAP_ERR_PARTITION_NOT_FOUND',
      `The usage report names ${shown(unknown.reference)}, which is not a partition of ${shown(node)}.`,
    );
  const now = context.clock.now();
  const journalId = await repository.insertUsageJournal({
    computeNodeId: node,
    documentHash: usageDocumentHash(input.document),
    seal: seal
      ? {
          sequence: seal.sequence,
          previousHash: seal.previous,
          signature: seal.signature,
          certificatePem: seal.certificatePem,
        }
      : null,
    document: input.document,
    receivedAt: now,
  });
  if (journalId === undefined) return { stored: false, records: 0, charges: 0 };
  const histories = await allocationHistories(repository, node);
  const records: UsageRecord[] = movements.map((movement) => {
    const partitionId = movement.reference === node ? '' : movement.reference;
    return {
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
  });
  const recordCount = await repository.insertUsageRecords(records);

  const intervals = new Map<string, UsageIntervalKey>();
  for (const { reference, start, stop } of movements)
    if (reference !== node)
      intervals.set(intervalKey(reference, start, stop), { partitionId: reference, start, stop });
  const fresh = new Set(
    (await repository.insertUsageIntervals(node, journalId, [...intervals.values()])).map((key) =>
      intervalKey(key.partitionId, key.start, key.stop),
    ),
  );
  const charges: UsageChargeRecord[] = [];
  for (const movement of movements) {
    if (!fresh.has(intervalKey(movement.reference, movement.start, movement.stop))) continue;
    const history = histories.get(movement.reference) ?? [];
    for (const piece of splitMovement(movement, history, { computeNodeId: node }))
      charges.push({ ...piece, journalId, computeNodeId: node, partitionId: movement.reference });
  }
  await repository.insertUsageCharges(charges);
  return { stored: true, records: recordCount, charges: charges.length };
}

/** Stores a node's usage report. The answer stays slapproxy's `Ignored` (clients expect it). */
export async function reportComputeNodeUsage(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; usageXml: string },
): Promise<'Ignored'> {
  const node = input.computeNodeId;
  await context.authorize(input.caller, 'compute_node.report', { kind: 'compute_node', computeNodeId: node });
  const seal = readUsageSeal(input.usageXml);
  if (seal) checkUsageSignature(seal);
  const movements = mergeByKey(parseUsageJournal(input.usageXml));
  const now = context.clock.now();
  if (movements.some((movement) => movement.stop > now + USAGE_CLOCK_SKEW_SECONDS))
    throw new SlapError(
      'SLAP_ERR_USAGE_REPORT_INVALID',
      `An interval of the usage report ends in the future (more than ${USAGE_CLOCK_SKEW_SECONDS} s after the master's clock).`,
    );
  // An unsigned journal without movements bills and shows nothing; a sealed one is a link of the chain.
  if (movements.length === 0 && !seal) return 'Ignored';
  const ingested = await context.store.write((repository) =>
    ingest(context, repository, { computeNodeId: node, document: input.usageXml, seal, movements }),
  );
  context.logger.info(
    {
      computeNode: node,
      movements: movements.length,
      sealed: seal !== undefined,
      duplicateJournal: !ingested.stored,
      records: ingested.records,
      charges: ingested.charges,
    },
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

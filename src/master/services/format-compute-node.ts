/**
 * Registering a compute node's partitions and addresses (docs/protocol.md §1.4). Partitions
 * missing from the new list are deleted with their instances (no destruction happens); kept
 * partitions keep their allocation and timestamp; addresses are replaced. Timestamps are not bumped;
 * the node's change-stream revision is.
 */
import { setImmediate } from 'node:timers/promises';
import type { ComputeNodeFormat } from '../../core/format-plan.ts';
import type { Caller } from './caller.ts';
import { allocateWaitingInstances, logPlacements } from './allocation.ts';
import type { ServiceContext } from './context.ts';

/**
 * Partitions written per event-loop turn: a format of hundreds of partitions yields the loop between
 * batches (the write job keeps the database to itself meanwhile; other use cases wait their turn).
 */
const PARTITIONS_PER_TURN = 50;

export async function formatComputeNode(
  context: ServiceContext,
  input: { caller: Caller; format: ComputeNodeFormat },
): Promise<'Formatted'> {
  const { format } = input;
  const node = format.computeNodeId;
  await context.authorize(input.caller, 'compute_node.format', { kind: 'compute_node', computeNodeId: node });
  const now = context.clock.now();
  const placed = await context.store.write(async (repository) => {
    await repository.upsertComputeNode({
      reference: node,
      address: format.address,
      netmask: format.netmask,
      now,
    });
    const wanted = new Set(format.partitions.map((partition) => partition.reference));
    const existing = new Set<string>();
    for (const partition of await repository.listPartitions(node)) {
      if (wanted.has(partition.reference)) existing.add(partition.reference);
      else await repository.deletePartition({ computeNodeId: node, partitionId: partition.reference });
    }
    await repository.deleteAddresses(node);
    let written = 0;
    for (const partition of format.partitions) {
      if (++written % PARTITIONS_PER_TURN === 0) await setImmediate();
      const key = { computeNodeId: node, partitionId: partition.reference };
      if (!existing.has(partition.reference)) await repository.insertPartition(key);
      for (const address of partition.addresses) await repository.insertAddress(key, address);
    }
    await repository.bumpNodeRevision(node);
    return allocateWaitingInstances(context, repository);
  });
  context.logger.info({ computeNode: node, partitions: format.partitions.length }, 'compute node formatted');
  logPlacements(context, placed);
  return 'Formatted';
}

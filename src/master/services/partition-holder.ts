/** Who holds a partition, as the partition history records it (usage records are attributed to it). */
import type { InstanceIdentity } from '../../core/instance-guid.ts';
import type { PartitionHolder } from '../storage/repository.ts';

export function partitionHolder(instance: InstanceIdentity & { id: number }): PartitionHolder {
  return {
    instanceId: instance.id,
    owner: instance.owner,
    instanceTree: instance.requestedBy === '' ? instance.title : instance.requestedBy,
  };
}

/**
 * The legacy API names an instance by the partition it runs on (`computer_id`,
 * `computer_partition_id`); the services name it by guid. This resolves one to the other through
 * the services (the same reading rights as the JSON API's `compute_partition`).
 */
import { isSlapError } from '../../../core/errors.ts';
import { pyStrRepr } from '../../../core/python-value.ts';
import type { InstanceView } from '../../services/index.ts';
import type { LegacyCall, LegacyEnvironment } from './route.ts';

export interface PartitionFields {
  computeNodeId: string;
  partitionId: string;
}

/** The partition named by the usual fields of an instance's call. */
export function partitionFields(call: LegacyCall): PartitionFields {
  return {
    computeNodeId: call.form.required('computer_id'),
    partitionId: call.form.required('computer_partition_id'),
  };
}

/**
 * The instance on a partition. An unknown or free partition is undefined in proxy mode (slapproxy
 * answers such calls as done, or with a text saying so); master mode refuses it as not found, as
 * it refuses a partition the caller may not see.
 */
export async function instanceOnPartition(
  environment: LegacyEnvironment,
  call: LegacyCall,
  partition: PartitionFields,
): Promise<InstanceView | undefined> {
  const { services } = environment;
  try {
    return await services.getComputePartition({ caller: call.caller, ...partition });
  } catch (error) {
    if (
      services.context.mode === 'proxy' &&
      isSlapError(error) &&
      error.code === 'SLAP_ERR_PARTITION_NOT_FOUND'
    )
      return undefined;
    throw error;
  }
}

/** slapproxy's answer to a rename or a destroyed report naming no instance. */
export function unknownPartitionText(partition: PartitionFields): string {
  return `Unknown partition ${pyStrRepr(partition.partitionId)} on ${pyStrRepr(partition.computeNodeId)}`;
}

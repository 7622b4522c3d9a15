/** The compute node's description sent to the master (`slapos.put.v0.compute_node_format`). */
import type { ApiRequest } from '../../api/index.ts';
import type { ComputeNodeLayout } from './layout.ts';

export type ComputeNodeFormatRequest = ApiRequest<'/slapos.put.v0.compute_node_format'>;
export type ComputePartitionDescription = ComputeNodeFormatRequest['compute_partition_list'][number];

/** Who receives the description: the master client in production, anything with this shape in tests. */
export interface ComputeNodeRegistrar {
  format(
    computerGuid: string,
    partitions: readonly ComputePartitionDescription[],
    options?: { signal?: AbortSignal },
  ): Promise<void>;
}

/**
 * Every address with its `netmask` and `network-interface` (the master needs both). The interface
 * name is the partition reference, as the original does for a partition without a tap.
 */
export function formatPayload(layout: ComputeNodeLayout): ComputeNodeFormatRequest {
  return {
    computer_guid: layout.computerId,
    compute_partition_list: layout.partitions.map((partition) => ({
      partition_id: partition.reference,
      ip_list: partition.addresses.map((address) => ({
        'ip-address': address.addr,
        'network-interface': partition.reference,
        netmask: address.netmask,
      })),
    })),
  };
}

/** The "not found" answers several use cases share (clients match their texts: keep them exact). */
import { SlapError } from '../../core/errors.ts';
import type { Repository } from '../storage/repository.ts';

export function instanceNotFound(instanceGuid: string): SlapError {
  return new SlapError('SLAP_ERR_INSTANCE_NOT_FOUND', `No software instance ${instanceGuid} found.`);
}

/** Fails unless the compute node is registered. */
export async function requireComputeNode(repository: Repository, computeNodeId: string): Promise<void> {
  if (!(await repository.getComputeNode(computeNodeId))) {
    throw new SlapError('SLAP_ERR_COMPUTE_NODE_NOT_FOUND', `${computeNodeId} is not registered.`);
  }
}

/**
 * Compute node endpoints that slapproxy answers without a real implementation in proxy mode
 * (status, bang, certificates) and the node list (usage reports: usage-records.ts). Each still goes through authorisation.
 */
import { SlapError } from '../../core/errors.ts';
import type { AllocationScope } from '../storage/repository.ts';
import { allocateWaitingInstances, logPlacements } from './allocation.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import type { RequestOrigin } from './frontend-bypass.ts';

export async function listComputeNodes(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<string[]> {
  await context.authorize(input.caller, 'compute_node.list', { kind: 'master' });
  if (context.mode === 'master' && !(input.caller.kind === 'user' && input.caller.admin)) {
    // A user lists the nodes they own.
    const owner = input.caller.kind === 'user' ? input.caller.userId : undefined;
    const nodes = await context.store.read((repository) => repository.listComputeNodeAccess());
    return nodes.filter((node) => node.owner === owner).map((node) => node.reference);
  }
  const nodes = await context.store.read((repository) => repository.listComputeNodes());
  return nodes.map((node) => node.reference);
}

export async function computeNodeStatus(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string },
): Promise<string> {
  await context.authorize(input.caller, 'compute_node.read', {
    kind: 'compute_node',
    computeNodeId: input.computeNodeId,
  });
  return 'Unknown (not implemented)';
}

/**
 * A node bang: recorded, and, as a real master does (protocol.md §5.2; slapproxy ignores it), the
 * timestamp of every partition holding an instance is bumped, so that the node processes each of
 * them again. The answer stays slapproxy's `Ignored`.
 */
export async function bangComputeNode(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; message: string },
): Promise<'Ignored'> {
  await context.authorize(input.caller, 'compute_node.report', {
    kind: 'compute_node',
    computeNodeId: input.computeNodeId,
  });
  const at = context.clock.now();
  await context.store.write(async (repository) => {
    await repository.recordComputeNodeBang(input.computeNodeId, { message: input.message, at });
    for (const partition of await repository.listPartitions(input.computeNodeId))
      if (partition.slapState === 'busy')
        await repository.setPartitionTimestamp(
          { computeNodeId: input.computeNodeId, partitionId: partition.reference },
          at,
        );
  });
  return 'Ignored';
}

/**
 * Sets who may deploy on a compute node (its allocation scope and, as a whole, its friends); the
 * instances waiting for a partition are placed again at once.
 */
export async function updateComputeNodeAccess(
  context: ServiceContext,
  input: {
    caller: Caller;
    computeNodeId: string;
    allocationScope?: AllocationScope | undefined;
    friends?: readonly string[] | undefined;
  },
): Promise<'Updated'> {
  const target = { kind: 'compute_node' as const, computeNodeId: input.computeNodeId };
  const placed = await context.store.write(async (repository) => {
    await context.authorize(input.caller, 'compute_node.update', target, repository);
    const access: { allocationScope?: AllocationScope; friends?: readonly string[] } = {};
    if (input.allocationScope !== undefined) access.allocationScope = input.allocationScope;
    if (input.friends !== undefined) access.friends = input.friends;
    if (!(await repository.setComputeNodeAccess(input.computeNodeId, access)))
      throw new SlapError('SLAP_ERR_COMPUTE_NODE_NOT_FOUND', `${input.computeNodeId} is not registered.`);
    return allocateWaitingInstances(context, repository);
  });
  context.logger.info(
    {
      computeNode: input.computeNodeId,
      allocationScope: input.allocationScope,
      friends: input.friends?.length,
    },
    'compute node access updated',
  );
  logPlacements(context, placed);
  return 'Updated';
}

export interface CertificatePair {
  key: string;
  certificate: string;
}

/** Proxy mode has no PKI: certificates are empty strings, as slapproxy answers. */
export async function createComputeNodeCertificate(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string },
): Promise<CertificatePair> {
  await context.authorize(input.caller, 'compute_node.certificate', {
    kind: 'compute_node',
    computeNodeId: input.computeNodeId,
  });
  return { key: '', certificate: '' };
}

export async function revokeComputeNodeCertificate(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string },
): Promise<'Ignored'> {
  await context.authorize(input.caller, 'compute_node.certificate', {
    kind: 'compute_node',
    computeNodeId: input.computeNodeId,
  });
  return 'Ignored';
}

export async function instanceCertificate(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string },
): Promise<CertificatePair> {
  await context.authorize(input.caller, 'instance.certificate', {
    kind: 'instance_guid',
    instanceGuid: input.instanceGuid,
  });
  return { key: '', certificate: '' };
}

/** The HATEOAS root as the caller reaches the master. */
export async function hateoasUrl(
  context: ServiceContext,
  input: { caller: Caller; origin: RequestOrigin },
): Promise<string> {
  await context.authorize(input.caller, 'master.read', { kind: 'master' });
  const { origin } = input;
  return `${origin.secure ? 'https' : 'http'}://${origin.host}${origin.prefix}/hateoas/`;
}

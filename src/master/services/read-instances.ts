/** Reading instances and instance trees (docs/protocol.md §2.5, the get and allDocs endpoints). */
import { SlapError } from '../../core/errors.ts';
import { formatInstanceGuid, parseInstanceGuid, type InstanceIdentity } from '../../core/instance-guid.ts';
import type { RequestedState } from '../../core/states.ts';
import type { InstanceRecord, PartitionKey, Repository } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { instanceView, sharedInstanceView, sharedParametersOf, type InstanceView } from './instance-view.ts';
import { instanceNotFound, requireComputeNode } from './not-found.ts';

/** A shared instance seen through its host, or the 403 the API answers when it has none. */
async function throughHost(
  repository: Repository,
  shared: InstanceRecord,
  name: string,
): Promise<InstanceView> {
  const host = shared.location ? await repository.getInstanceOnPartition(shared.location) : undefined;
  if (!host) throw new SlapError('SLAP_ERR_HOST_NOT_FOUND', `No partition hosting ${name} found.`);
  return sharedInstanceView(shared, host);
}

export async function getInstance(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string },
): Promise<InstanceView> {
  const identity = parseInstanceGuid(input.instanceGuid);
  context.authorize(input.caller, 'instance.read', { kind: 'instance', identity });
  return context.store.read(async (repository) => {
    const record = await repository.findInstance(identity);
    if (identity.shared) {
      if (!record || record.requestedState === 'destroyed') {
        throw new SlapError(
          'SLAP_ERR_SHARED_INSTANCE_NOT_FOUND',
          `No shared instance ${input.instanceGuid} found.`,
        );
      }
      return throughHost(repository, record, input.instanceGuid);
    }
    if (!record) throw instanceNotFound(input.instanceGuid);
    return instanceView(repository, record);
  });
}

export async function getComputePartition(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; partitionId: string },
): Promise<InstanceView> {
  const key: PartitionKey = { computeNodeId: input.computeNodeId, partitionId: input.partitionId };
  context.authorize(input.caller, 'instance.read', { kind: 'partition', ...key });
  return context.store.read(async (repository) => {
    const record = await repository.getInstanceOnPartition(key);
    if (!record)
      throw new SlapError(
        'SLAP_ERR_PARTITION_NOT_FOUND',
        `No instance on partition ${input.partitionId} found.`,
      );
    return instanceView(repository, record);
  });
}

export async function getInstanceTree(
  context: ServiceContext,
  input: { caller: Caller; title: string },
): Promise<InstanceView> {
  context.authorize(input.caller, 'instance_tree.read', { kind: 'instance_tree', title: input.title });
  return context.store.read(async (repository) => {
    const root = await repository.findInstance({ title: input.title, requestedBy: '', shared: false });
    if (root) return instanceView(repository, root);
    const shared = await repository.findInstance({ title: input.title, requestedBy: '', shared: true });
    if (!shared)
      throw new SlapError('SLAP_ERR_INSTANCE_TREE_NOT_FOUND', `No instance tree ${input.title} found.`);
    return throughHost(repository, shared, input.title);
  });
}

/** Titles of the instance trees: root instances (partition order), then root shared instances. */
export async function listInstanceTrees(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<string[]> {
  context.authorize(input.caller, 'instance_tree.list', { kind: 'master' });
  const titles = await context.store.read((repository) => repository.listRootTitles());
  return [...titles.instances, ...titles.shared];
}

export interface NodeInstanceItem {
  title: string;
  instanceGuid: string;
  state: RequestedState;
  partitionId: string;
  softwareRelease: string;
}

/** The instances allocated on a compute node, in partition order. The result is shared: do not modify it. */
export async function listComputeNodeInstances(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string },
): Promise<readonly NodeInstanceItem[]> {
  context.authorize(input.caller, 'compute_node.read', {
    kind: 'compute_node',
    computeNodeId: input.computeNodeId,
  });
  // Nodes poll this list: it is memoized until the next write (callers must not modify it).
  return context.store.memoizedRead(`compute_node_instances:${input.computeNodeId}`, async (repository) => {
    await requireComputeNode(repository, input.computeNodeId);
    const rows = await repository.listInstancesOnNode(input.computeNodeId);
    return rows.map((row) => ({
      title: row.title,
      instanceGuid: formatInstanceGuid({ title: row.title, requestedBy: row.requestedBy, shared: false }),
      state: row.requestedState,
      partitionId: row.partitionId,
      softwareRelease: row.softwareRelease,
    }));
  });
}

export interface HostedSharedInstanceItem {
  title: string;
  instanceGuid: string;
  softwareType: string;
  parameters: Record<string, unknown>;
  partitionId: string;
}

/** The shared instances a (non-shared) instance hosts, in the order they joined its list. */
export async function listHostedSharedInstances(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string },
): Promise<HostedSharedInstanceItem[]> {
  const identity: InstanceIdentity = parseInstanceGuid(input.instanceGuid);
  context.authorize(input.caller, 'instance.read', { kind: 'instance', identity });
  return context.store.read(async (repository) => {
    const host = identity.shared ? undefined : await repository.findInstance(identity);
    if (!host?.location) {
      throw instanceNotFound(input.instanceGuid);
    }
    const hosted = await repository.listHostedSharedInstances(host.location);
    return hosted.map((shared) => ({
      title: shared.title,
      instanceGuid: formatInstanceGuid({
        title: shared.title,
        requestedBy: shared.requestedBy,
        shared: true,
      }),
      softwareType: shared.softwareType,
      parameters: sharedParametersOf(shared),
      partitionId: host.location?.partitionId ?? '',
    }));
  });
}

/** Reading instances and instance trees (docs/protocol.md §2.5, the get and allDocs endpoints). */
import { SlapError } from '../../core/errors.ts';
import type { RequestedState } from '../../core/states.ts';
import type { InstanceRecord, PartitionKey, Repository } from '../storage/repository.ts';
import { namespaceOf, type Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { instanceView, sharedInstanceView, sharedParametersOf, type InstanceView } from './instance-view.ts';
import { instanceNotFound, requireComputeNode } from './not-found.ts';

/** A shared instance seen through its host, or the 403 the API answers when it has none. */
async function throughHost(
  context: ServiceContext,
  repository: Repository,
  shared: InstanceRecord,
  name: string,
): Promise<InstanceView> {
  const host = shared.location ? await repository.getInstanceOnPartition(shared.location) : undefined;
  if (!host) throw new SlapError('SLAP_ERR_HOST_NOT_FOUND', `No partition hosting ${name} found.`);
  return sharedInstanceView(shared, host, context.naming);
}

export async function getInstance(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string },
): Promise<InstanceView> {
  const guid = input.instanceGuid;
  context.naming.check(guid);
  return context.store.read(async (repository) => {
    const record = await context.naming.find(repository, guid);
    if (record)
      await context.authorize(input.caller, 'instance.read', { kind: 'instance', record, guid }, repository);
    if (record?.shared ?? context.naming.namesShared(guid)) {
      if (!record || record.requestedState === 'destroyed') {
        throw new SlapError('SLAP_ERR_SHARED_INSTANCE_NOT_FOUND', `No shared instance ${guid} found.`);
      }
      return throughHost(context, repository, record, guid);
    }
    if (!record) throw instanceNotFound(guid);
    return instanceView(repository, record, context.naming);
  });
}

export async function getComputePartition(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; partitionId: string },
): Promise<InstanceView> {
  const key: PartitionKey = { computeNodeId: input.computeNodeId, partitionId: input.partitionId };
  return context.store.read(async (repository) => {
    await context.authorize(input.caller, 'instance.read', { kind: 'partition', ...key }, repository);
    const record = await repository.getInstanceOnPartition(key);
    if (!record)
      throw new SlapError(
        'SLAP_ERR_PARTITION_NOT_FOUND',
        `No instance on partition ${input.partitionId} found.`,
      );
    return instanceView(repository, record, context.naming);
  });
}

/** The root of one of the caller's own instance trees, by title. */
export async function getInstanceTree(
  context: ServiceContext,
  input: { caller: Caller; title: string },
): Promise<InstanceView> {
  const owner = namespaceOf(input.caller);
  return context.store.read(async (repository) => {
    await context.authorize(input.caller, 'instance_tree.read', { kind: 'master' }, repository);
    const root = await repository.findInstance({ owner, title: input.title, requestedBy: '', shared: false });
    if (root) return instanceView(repository, root, context.naming);
    const shared = await repository.findInstance({
      owner,
      title: input.title,
      requestedBy: '',
      shared: true,
    });
    if (!shared)
      throw new SlapError('SLAP_ERR_INSTANCE_TREE_NOT_FOUND', `No instance tree ${input.title} found.`);
    return throughHost(context, repository, shared, input.title);
  });
}

/** Titles of the caller's instance trees: root instances (partition order), then root shared instances. */
export async function listInstanceTrees(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<string[]> {
  const owner = namespaceOf(input.caller);
  const titles = await context.store.read(async (repository) => {
    await context.authorize(input.caller, 'instance_tree.list', { kind: 'master' }, repository);
    return repository.listRootTitles(owner);
  });
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
  await context.authorize(input.caller, 'compute_node.read', {
    kind: 'compute_node',
    computeNodeId: input.computeNodeId,
  });
  context.contacts.noteCall(input.caller, input.computeNodeId);
  // Nodes poll this list: it is memoized until the next change of the node (callers must not modify
  // it), and a list read again equal to the memoized one is that one (its encodings are reused): the
  // node's instances changing their parameters leave it as it is.
  return context.store.memoizedRead(
    `compute_node_instances:${input.computeNodeId}`,
    async (repository) => {
      await requireComputeNode(repository, input.computeNodeId);
      const rows = await repository.listInstancesOnNode(input.computeNodeId);
      return rows.map((row) => ({
        title: row.title,
        instanceGuid: context.naming.guidOf({
          id: row.id,
          title: row.title,
          requestedBy: row.requestedBy,
          shared: false,
        }),
        state: row.requestedState,
        partitionId: row.partitionId,
        softwareRelease: row.softwareRelease,
      }));
    },
    { computeNodeId: input.computeNodeId, keepEqual: true },
  );
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
  const guid = input.instanceGuid;
  context.naming.check(guid);
  return context.store.read(async (repository) => {
    const record = await context.naming.find(repository, guid);
    if (record)
      await context.authorize(input.caller, 'instance.read', { kind: 'instance', record, guid }, repository);
    const host = record && !record.shared ? record : undefined;
    if (!host?.location) {
      throw instanceNotFound(guid);
    }
    const hosted = await repository.listHostedSharedInstances(host.location);
    return hosted.map((shared) => ({
      title: shared.title,
      instanceGuid: context.naming.guidOf(shared),
      softwareType: shared.softwareType,
      parameters: sharedParametersOf(shared),
      partitionId: host.location?.partitionId ?? '',
    }));
  });
}

/**
 * The caller's instance trees as views: root instances (partition order), then the root shared
 * instances that still have a host (what the legacy HATEOAS search lists).
 */
export async function listInstanceTreeViews(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<InstanceView[]> {
  const owner = namespaceOf(input.caller);
  return context.store.read(async (repository) => {
    await context.authorize(input.caller, 'instance_tree.list', { kind: 'master' }, repository);
    const titles = await repository.listRootTitles(owner);
    const views: InstanceView[] = [];
    for (const title of titles.instances) {
      const root = await repository.findInstance({ owner, title, requestedBy: '', shared: false });
      if (root) views.push(await instanceView(repository, root, context.naming));
    }
    for (const title of titles.shared) {
      const shared = await repository.findInstance({ owner, title, requestedBy: '', shared: true });
      const host =
        shared?.location && shared.requestedState !== 'destroyed'
          ? await repository.getInstanceOnPartition(shared.location)
          : undefined;
      if (shared && host) views.push(sharedInstanceView(shared, host, context.naming));
    }
    return views;
  });
}

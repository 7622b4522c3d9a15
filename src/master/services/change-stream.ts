/**
 * The change stream (our extension, docs/master.md "Change stream"): a compute node's snapshot —
 * everything one node pass needs, in one call, with the node's revision — and the long poll that
 * answers as soon as that revision moves.
 */
import { isSlapError, SlapError } from '../../core/errors.ts';
import { rootTitleOf } from '../../core/instance-guid.ts';
import { decodeParameterXml } from '../../core/parameter-xml.ts';
import { parsePythonJson } from '../../core/python-value.ts';
import type { RequestedState, SoftwareInstallationState } from '../../core/states.ts';
import type { InstanceRecord, Repository } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { sharedParametersOf } from './instance-view.ts';
import { requireComputeNode } from './not-found.ts';
import { MAX_WATCH_TIMEOUT_MS } from '../../api/index.ts';

export interface SharedInstanceSnapshot {
  title: string;
  instanceGuid: string;
  /** Its `slave_reference` in the legacy API (instance-naming.ts). */
  slaveReference: string;
  softwareType: string;
  /** With their original JSON types. */
  parameters: Record<string, unknown>;
  connectionParameters: Record<string, string | null>;
}

export interface PartitionSnapshot {
  partitionId: string;
  instanceGuid: string;
  title: string;
  rootTitle: string;
  state: RequestedState;
  softwareRelease: string;
  softwareType: string;
  /** As stored (strings). */
  parameters: Record<string, string | null>;
  sla: Record<string, unknown>;
  connectionParameters: Record<string, string | null>;
  /** `[network interface, address]`. */
  ipList: [string, string][];
  /** Float seconds (null: never set). */
  timestamp: number | null;
  dependencySerial: number;
  /** When dependencySerial was last bumped (float seconds; null: never). */
  dependencyChangedAt: number | null;
  sharedInstances: SharedInstanceSnapshot[];
}

export interface NodeSnapshot {
  computeNodeId: string;
  revision: number;
  software: { url: string; state: SoftwareInstallationState }[];
  /** Partitions holding an instance (any requested state), in partition order. */
  partitions: PartitionSnapshot[];
  /** Every partition of the node, free or busy, in partition order (the legacy API lists them all). */
  partitionIds: string[];
}

function slaOf(record: InstanceRecord): Record<string, unknown> {
  const parsed = parsePythonJson(record.slaJson);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : {};
}

/** The node snapshot. Memoized until the next write: the result is shared, do not modify it. */
export async function readNodeSnapshot(
  context: ServiceContext,
  input: {
    caller: Caller;
    computeNodeId: string;
    /**
     * slapproxy's legacy API answers for its default compute node before it is formatted (no
     * partitions, the software supplied to it): proxy mode only, not memoized.
     */
    unformattedDefault?: boolean;
  },
): Promise<NodeSnapshot> {
  const { computeNodeId } = input;
  await context.authorize(input.caller, 'compute_node.read', { kind: 'compute_node', computeNodeId });
  context.contacts.noteCall(input.caller, computeNodeId);
  try {
    return await nodeSnapshot(context, computeNodeId);
  } catch (error) {
    if (
      input.unformattedDefault === true &&
      context.mode === 'proxy' &&
      computeNodeId === context.defaultComputeNodeId &&
      isSlapError(error) &&
      error.code === 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND'
    )
      return context.store.read((repository) => buildSnapshot(context, repository, computeNodeId));
    throw error;
  }
}

/** One partition of a node, free (no `instance`) or holding an instance, as the node snapshot shows it. */
export interface PartitionState {
  computeNodeId: string;
  partitionId: string;
  /** The node snapshot's entry (shared: do not modify it); undefined for a free partition. */
  instance: PartitionSnapshot | undefined;
}

/**
 * One partition as its node sees it (the legacy `registerComputerPartition`), for whoever may read
 * that partition: its node, its instance, their owner. An unknown node or partition is refused.
 */
export async function readPartitionState(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; partitionId: string },
): Promise<PartitionState> {
  const { computeNodeId, partitionId } = input;
  await context.authorize(input.caller, 'instance.read', { kind: 'partition', computeNodeId, partitionId });
  const snapshot = await nodeSnapshot(context, computeNodeId);
  if (!snapshot.partitionIds.includes(partitionId))
    // The words a denial gets (master-authorizer.ts): they do not tell whether the partition exists.
    throw new SlapError('SLAP_ERR_PARTITION_NOT_FOUND', `No instance on partition ${partitionId} found.`);
  return {
    computeNodeId,
    partitionId,
    instance: snapshot.partitions.find((partition) => partition.partitionId === partitionId),
  };
}

function nodeSnapshot(context: ServiceContext, computeNodeId: string): Promise<NodeSnapshot> {
  return context.store.memoizedRead(
    `node_snapshot:${computeNodeId}`,
    async (repository) => {
      await requireComputeNode(repository, computeNodeId);
      return buildSnapshot(context, repository, computeNodeId);
    },
    { computeNodeId },
  );
}

async function buildSnapshot(
  context: ServiceContext,
  repository: Repository,
  computeNodeId: string,
): Promise<NodeSnapshot> {
  const records = await repository.readNodeSnapshot(computeNodeId);
  const allPartitions = await repository.listPartitions(computeNodeId);
  const ipLists = new Map<string, [string, string][]>();
  for (const address of records.addresses) {
    let list = ipLists.get(address.partitionId);
    if (!list) ipLists.set(address.partitionId, (list = []));
    list.push([address.networkInterface, address.address]);
  }
  const sharedByHost = new Map<string, SharedInstanceSnapshot[]>();
  for (const shared of records.shared) {
    const host = shared.location?.partitionId;
    if (host === undefined) continue;
    let list = sharedByHost.get(host);
    if (!list) sharedByHost.set(host, (list = []));
    list.push({
      title: shared.title,
      instanceGuid: context.naming.guidOf(shared),
      slaveReference: context.naming.slaveReferenceOf(shared),
      softwareType: shared.softwareType,
      parameters: sharedParametersOf(shared),
      connectionParameters: decodeParameterXml(shared.connectionXml),
    });
  }
  return {
    computeNodeId,
    revision: records.revision,
    software: records.software.map((item) => ({ url: item.url, state: item.requestedState })),
    partitionIds: allPartitions.map((partition) => partition.reference),
    partitions: records.instances.map((record) => {
      const partitionId = record.location?.partitionId ?? '';
      return {
        partitionId,
        instanceGuid: context.naming.guidOf(record),
        title: record.title,
        rootTitle: rootTitleOf(record),
        state: record.requestedState,
        softwareRelease: record.softwareRelease,
        softwareType: record.softwareType,
        parameters: decodeParameterXml(record.parameterXml),
        sla: slaOf(record),
        connectionParameters: decodeParameterXml(record.connectionXml),
        ipList: ipLists.get(partitionId) ?? [],
        timestamp: record.partitionTimestamp,
        dependencyChangedAt: record.partitionDependencyChangedAt,
        dependencySerial: record.partitionDependencySerial ?? 0,
        sharedInstances: sharedByHost.get(partitionId) ?? [],
      };
    }),
  };
}

/**
 * Long poll: the node's revision as soon as it is above `afterRevision`, else after `timeoutMs`
 * (at most MAX_WATCH_TIMEOUT_MS) with the same one. A node that is not registered yet can be watched
 * (its format bumps its revision).
 */
export async function watchComputeNode(
  context: ServiceContext,
  input: {
    caller: Caller;
    computeNodeId: string;
    afterRevision: number;
    timeoutMs: number;
    signal?: AbortSignal;
  },
): Promise<{ revision: number; changed: boolean }> {
  await context.authorize(input.caller, 'compute_node.read', {
    kind: 'compute_node',
    computeNodeId: input.computeNodeId,
  });
  context.contacts.noteCall(input.caller, input.computeNodeId);
  const revision = await context.revisions.waitPast(input.computeNodeId, input.afterRevision, {
    timeoutMs: Math.min(Math.max(input.timeoutMs, 0), MAX_WATCH_TIMEOUT_MS),
    ...(input.signal ? { signal: input.signal } : {}),
  });
  return { revision, changed: revision > input.afterRevision };
}

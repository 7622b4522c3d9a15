/**
 * Where master mode places instances: only on compute nodes the requester may use (their allocation
 * scope, as SlapOS has them: `personal` admits the owner, `friend` the owner and listed users, `open`
 * anyone, `closed` nothing new), and a request that no node may take yet waits without a partition,
 * with the reason, until a node can (waiting instances are placed again after the changes that can
 * make room: allocateWaitingInstances).
 */
import type { ComputeNodeAccess, InstanceRecord, PartitionKey, Repository } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { allocationDetail, recordInstanceEvent } from './instance-timeline.ts';
import { partitionHolder } from './partition-holder.ts';
import { otherMemberNodes } from './backup-anti-affinity.ts';

/**
 * The caller whose rights an allocation uses: an instance's owner (an admin's instances allocate as
 * an admin), undefined when that owner is disabled or gone; any other caller itself.
 */
async function allocatingCaller(
  repository: Pick<Repository, 'getUser'>,
  caller: Caller,
): Promise<Caller | undefined> {
  return caller.kind === 'instance' ? ownerCaller(repository, caller.owner) : caller;
}

/** Whether `caller` (local, or a user: allocatingCaller) may place new instances on a node with this access. */
function mayAllocateOn(caller: Caller, access: ComputeNodeAccess): boolean {
  if (access.revokedAt !== null || access.allocationScope === 'closed') return false;
  if (caller.kind === 'local') return true;
  if (caller.kind !== 'user') return false;
  if (caller.admin || access.owner === caller.userId) return true;
  if (access.allocationScope === 'open') return true;
  return access.allocationScope === 'friend' && access.friends.includes(caller.userId);
}

/** What placing reads of the store. */
export type AllocationReads = Pick<
  Repository,
  | 'listComputeNodeAccess'
  | 'listOwnedComputeNodeAccess'
  | 'getComputeNodeAccess'
  | 'listSoftwareInstallations'
  | 'firstFreePartition'
  | 'getUser'
>;

/**
 * The reads of one pass over the waiting instances, the nodes' access and software read once: they do
 * not change while instances are placed (free partitions do, and are read each time). Without it a pass
 * would read every node again for each waiting instance, inside the write transaction.
 */
function passReads(repository: Repository): AllocationReads {
  let nodes: ReturnType<Repository['listComputeNodeAccess']> | undefined;
  const software = new Map<string, ReturnType<Repository['listSoftwareInstallations']>>();
  const listComputeNodeAccess = (): ReturnType<Repository['listComputeNodeAccess']> =>
    (nodes ??= repository.listComputeNodeAccess());
  return {
    listComputeNodeAccess,
    listOwnedComputeNodeAccess: async (owner) =>
      (await listComputeNodeAccess()).filter((access) => access.owner === owner),
    getComputeNodeAccess: async (reference) =>
      (await listComputeNodeAccess()).find((access) => access.reference === reference),
    listSoftwareInstallations: (reference) => {
      let list = software.get(reference);
      if (!list) software.set(reference, (list = repository.listSoftwareInstallations(reference)));
      return list;
    },
    firstFreePartition: (reference) => repository.firstFreePartition(reference),
    getUser: (name) => repository.getUser(name),
  };
}

/** The nodes `caller` may allocate on: their own first, then the others, each in registration order. */
async function allocatableNodes(repository: AllocationReads, caller: Caller): Promise<ComputeNodeAccess[]> {
  const userId = caller.kind === 'user' ? caller.userId : undefined;
  const nodes = (await repository.listComputeNodeAccess()).filter((access) => mayAllocateOn(caller, access));
  const own = nodes.filter((access) => access.owner === userId);
  return [...own, ...nodes.filter((access) => access.owner !== userId)];
}

export type Placement = { partition: PartitionKey } | { waiting: string };

function notAdmitted(computeNodeId: string): string {
  return (
    `compute node ${computeNodeId} does not take your instances: it does not exist, or its allocation ` +
    'scope does not admit you'
  );
}

/**
 * The first free partition on the first of `nodes` that has the software release supplied, and how
 * many of them have it.
 */
async function firstFreeOn(
  repository: AllocationReads,
  nodes: readonly ComputeNodeAccess[],
  request: { softwareRelease: string; excludedNodes?: ReadonlySet<string> | undefined },
): Promise<{ partition?: PartitionKey; withSoftware: number }> {
  let withSoftware = 0;
  for (const node of nodes) {
    if (request.excludedNodes?.has(node.reference)) continue;
    const software = await repository.listSoftwareInstallations(node.reference);
    if (!software.some((item) => item.url === request.softwareRelease && item.requestedState === 'available'))
      continue;
    withSoftware += 1;
    const partition = await repository.firstFreePartition(node.reference);
    if (partition)
      return {
        partition: { computeNodeId: partition.computeNodeId, partitionId: partition.reference },
        withSoftware,
      };
  }
  return { withSoftware };
}

export interface PlacementRequest {
  caller: Caller;
  softwareRelease: string;
  computeNodeId: string | undefined;
  /**
   * Nodes it must not go to: those holding the other members of its resilient instance tree
   * (anti-affinity, backup-trees.ts).
   */
  excludedNodes?: ReadonlySet<string> | undefined;
}

/** A free partition for a new non-shared instance of `caller`, or why there is none yet. */
export async function chooseFreePartition(
  repository: AllocationReads,
  request: PlacementRequest,
): Promise<Placement> {
  const caller = await allocatingCaller(repository, request.caller);
  if (!caller) return { waiting: 'the owner of the requesting instance is disabled' };
  const excluded = request.excludedNodes;
  if (request.computeNodeId !== undefined && excluded?.has(request.computeNodeId))
    return {
      waiting: `compute node ${request.computeNodeId} holds another instance of its resilient instance tree`,
    };
  if (request.computeNodeId !== undefined) {
    const access = await repository.getComputeNodeAccess(request.computeNodeId);
    if (!access || !mayAllocateOn(caller, access)) return { waiting: notAdmitted(request.computeNodeId) };
    const partition = await repository.firstFreePartition(access.reference);
    if (!partition) return { waiting: `compute node ${access.reference} has no free partition` };
    return { partition: { computeNodeId: partition.computeNodeId, partitionId: partition.reference } };
  }
  // The caller's own nodes come first: when one of them takes the instance, the others (a large
  // cloud's thousands) are not read at all.
  if (caller.kind === 'user') {
    const own = await repository.listOwnedComputeNodeAccess(caller.userId);
    const found = await firstFreeOn(
      repository,
      own.filter((access) => mayAllocateOn(caller, access)),
      request,
    );
    if (found.partition) return { partition: found.partition };
  }
  const nodes = await allocatableNodes(repository, caller);
  if (nodes.length === 0) return { waiting: 'no compute node admits you (see their allocation scopes)' };
  const { partition, withSoftware } = await firstFreeOn(repository, nodes, request);
  if (partition) return { partition };
  const elsewhere =
    excluded && excluded.size > 0
      ? ` other than those holding its resilient instance tree's other instances (${[...excluded].sort().join(', ')})`
      : '';
  if (withSoftware === 0)
    return {
      waiting: `no compute node you may use${elsewhere} has the software release ${request.softwareRelease} supplied`,
    };
  return {
    waiting: `no free partition on the ${withSoftware} compute node(s) you may use${elsewhere} with this software`,
  };
}

/** The nodes whose instances may host `caller`'s shared instances, with `computeNodeId` only that one. */
export async function sharedHostNodes(
  repository: Repository,
  caller: Caller,
  computeNodeId: string | undefined,
): Promise<string[]> {
  const allocating = await allocatingCaller(repository, caller);
  if (!allocating) return [];
  const nodes = (await allocatableNodes(repository, allocating)).map((access) => access.reference);
  return computeNodeId === undefined ? nodes : nodes.filter((node) => node === computeNodeId);
}

/** The caller an instance's owner allocates as. */
async function ownerCaller(
  repository: Pick<Repository, 'getUser'>,
  owner: string,
): Promise<Caller | undefined> {
  const user = await repository.getUser(owner);
  if (!user || user.disabled) return undefined;
  return { kind: 'user', userId: user.name, admin: user.admin };
}

function requestedNode(record: InstanceRecord): string | undefined {
  try {
    const sla = JSON.parse(record.slaJson) as Record<string, unknown>;
    return typeof sla.computer_guid === 'string' ? sla.computer_guid : undefined;
  } catch {
    return undefined;
  }
}

/** Gives `instance` the free `partition`: its location, the partition's holder, and the timeline's event. */
export async function placeInstance(
  repository: Repository,
  instance: InstanceRecord,
  partition: PartitionKey,
  now: number,
): Promise<void> {
  await repository.updateInstance(instance.id, { location: partition, allocationMessage: null, now });
  await repository.allocatePartition(partition, now, partitionHolder(instance));
  await recordInstanceEvent(repository, instance.id, {
    kind: 'allocated',
    at: now,
    detail: allocationDetail(partition),
  });
}

/** An instance `allocateWaitingInstances` placed, to log once its transaction committed. */
export interface PlacedInstance extends PartitionKey {
  instance: string;
}

/**
 * Places the instances waiting for a partition that a node may take now (master mode; after a
 * format, a freed partition, a scope change or a supply). Returns those placed: the caller logs
 * them with `logPlacements` after the commit (a write may be retried, or rolled back).
 */
export async function allocateWaitingInstances(
  context: ServiceContext,
  repository: Repository,
): Promise<PlacedInstance[]> {
  const placed: PlacedInstance[] = [];
  if (context.mode !== 'master') return placed;
  const now = context.clock.now();
  const reads = passReads(repository);
  const owners = new Map<string, Promise<Caller | undefined>>();
  // Placing only takes partitions: a request that waits now waits for the rest of the pass.
  const waiting = new Map<string, string>();
  for (const record of await repository.listPendingInstances()) {
    let owner = owners.get(record.owner);
    if (!owner) owners.set(record.owner, (owner = ownerCaller(repository, record.owner)));
    const caller = await owner;
    if (!caller) continue;
    const excludedNodes = await otherMemberNodes(repository, record.id);
    const computeNodeId = requestedNode(record);
    const key = JSON.stringify([
      record.owner,
      record.softwareRelease,
      computeNodeId ?? null,
      [...excludedNodes].sort(),
    ]);
    const placement = waiting.has(key)
      ? { waiting: waiting.get(key) ?? '' }
      : await chooseFreePartition(reads, {
          caller,
          softwareRelease: record.softwareRelease,
          computeNodeId,
          excludedNodes,
        });
    if ('waiting' in placement) {
      waiting.set(key, placement.waiting);
      if (placement.waiting !== record.allocationMessage)
        await repository.updateInstance(record.id, { allocationMessage: placement.waiting, now });
      continue;
    }
    await placeInstance(repository, record, placement.partition, now);
    placed.push({ instance: context.naming.guidOf(record), ...placement.partition });
  }
  return placed;
}

/** Logs the instances a committed transaction placed. */
export function logPlacements(context: ServiceContext, placed: readonly PlacedInstance[]): void {
  for (const placement of placed) context.logger.info(placement, 'waiting instance placed');
}

/**
 * Takeover of resilient instance trees (contract §3, DESIGN §7: the master decides, nodes execute).
 * `promoteClone` swaps a tree's main X and one of its clones in one transaction, guarded by a
 * compare-and-set on the tree's epoch: X moves to the clone's partition and keeps serving (its
 * connection parameters become what that partition published); the clone moves to X's old
 * partition, stopped and fenced (its node must stop it and never push from it; it becomes a clone
 * again once that node reports it stopped, backup-sync.ts). Both partitions are re-allocated (their
 * timestamps and nodes' revisions bumped: the change stream wakes both nodes at once, and the
 * partition history shows the move). The failover monitor applies the pure decision
 * (core/failover-decision.ts) to every resilient tree every second; `takeoverInstance` is the same
 * promotion asked by a person.
 */
import {
  chooseClone,
  decideFailover,
  type FailoverSettings,
  type MemberState,
  type TreeState,
} from '../../core/failover-decision.ts';
import { SlapError } from '../../core/errors.ts';
import type { InstanceRecord, PartitionKey, Repository } from '../storage/repository.ts';
import { namespaceOf, type Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { allocationDetail, recordInstanceEvent } from './instance-timeline.ts';
import { partitionHolder } from './partition-holder.ts';

/** The decision's settings from the master's (the grace after start folded into startedAt). */
export function failoverSettings(context: ServiceContext): FailoverSettings {
  const { afterSeconds, graceAfterStartSeconds, startedAt } = context.failover;
  return { failoverAfterSeconds: afterSeconds, startedAt: startedAt + graceAfterStartSeconds - afterSeconds };
}

/** Every node's last contact, the store's merged with this master's notes not written yet. */
async function contactTimes(context: ServiceContext): Promise<Map<string, number | null>> {
  const contacts = await context.contacts.list();
  return new Map(contacts.map((contact) => [contact.computeNodeId, contact.lastContactAt]));
}

/** A tree as the decision sees it (its `single` members, children declaring data, are not in it). */
export async function readTreeState(
  repository: Repository,
  rootInstanceId: number,
  contacts: ReadonlyMap<string, number | null>,
): Promise<TreeState | undefined> {
  const tree = await repository.getBackupTree(rootInstanceId);
  if (!tree) return undefined;
  const members: MemberState[] = [];
  for (const member of await repository.listBackupMembers(rootInstanceId)) {
    if (member.role === 'single') continue;
    const computeNodeId = (await repository.instanceComputeNode(member.instanceId)) ?? null;
    members.push({
      instanceId: member.instanceId,
      role: member.role,
      computeNodeId,
      nodeLastContactAt: computeNodeId === null ? null : (contacts.get(computeNodeId) ?? null),
      promisesReportedAt: (await repository.getPromiseResults(member.instanceId))?.reportedAt ?? null,
      restoredAt: member.restoredAt,
    });
  }
  return { rootInstanceId, epoch: tree.epoch, members };
}

export interface Promotion {
  rootInstanceId: number;
  cloneInstanceId: number;
  /** Where the root (the main) is now. */
  location: PartitionKey;
  /** The tree's epoch after the promotion. */
  epoch: number;
}

/** Moves `instance` to `to` with the connection parameters published there, and more fields. */
async function moveTo(
  repository: Repository,
  instance: InstanceRecord,
  to: PartitionKey,
  fields: { connectionXml: string | null; requestedState?: 'stopped'; now: number },
): Promise<void> {
  await repository.updateInstance(instance.id, {
    location: to,
    connectionXml: fields.connectionXml,
    ...(fields.requestedState ? { requestedState: fields.requestedState } : {}),
    // What its former node reported is not about this partition.
    reportedState: null,
    reportedAt: null,
    now: fields.now,
  });
}

/**
 * Promotes `cloneInstanceId` to main of its tree, if the tree's epoch is still `expectedEpoch` and
 * it is still a clone of the tree on another partition; undefined (nothing changed) otherwise: a
 * concurrent promotion won. Runs in the caller's write transaction.
 */
export async function promoteClone(
  repository: Repository,
  input: {
    rootInstanceId: number;
    cloneInstanceId: number;
    expectedEpoch: number;
    reason: string;
    now: number;
  },
): Promise<Promotion | undefined> {
  const { rootInstanceId, cloneInstanceId, now } = input;
  const member = await repository.getBackupMember(cloneInstanceId);
  if (member?.role !== 'clone' || member.rootInstanceId !== rootInstanceId) return undefined;
  const root = await repository.getInstanceById(rootInstanceId);
  const clone = await repository.getInstanceById(cloneInstanceId);
  if (!root?.location || !clone?.location) return undefined;
  if (!(await repository.advanceBackupEpoch(rootInstanceId, input.expectedEpoch))) return undefined;
  const from = root.location;
  const to = clone.location;
  await moveTo(repository, root, to, { connectionXml: clone.connectionXml, now });
  await moveTo(repository, clone, from, {
    connectionXml: root.connectionXml,
    requestedState: 'stopped',
    now,
  });
  // The shared instances hosted by the main follow it.
  const hosted = await repository.listHostedSharedInstances(from);
  for (const shared of hosted) await repository.updateInstance(shared.id, { location: to, now });
  // The instances the main requested name it by its partition: the new one.
  for (const child of await repository.listChildren(root.owner, root.title))
    if (
      child.requester?.computeNodeId === from.computeNodeId &&
      child.requester.partitionId === from.partitionId
    )
      await repository.updateInstance(child.id, { requester: to, now });
  for (const key of [from, to]) await repository.endPartitionAllocation(key, now);
  await repository.allocatePartition(to, now, partitionHolder(root));
  await repository.allocatePartition(from, now, partitionHolder(clone));
  await repository.putBackupMember({
    ...member,
    role: 'fenced',
    fencedAt: now,
    restoredBackupId: null,
    restoredAt: null,
    updatedAt: now,
  });
  const detail = `from ${allocationDetail(from)} to ${allocationDetail(to)}: ${input.reason}`;
  await recordInstanceEvent(repository, root.id, { kind: 'takeover', at: now, detail });
  await recordInstanceEvent(repository, clone.id, { kind: 'takeover', at: now, detail });
  return { rootInstanceId, cloneInstanceId, location: to, epoch: input.expectedEpoch + 1 };
}

export interface TakeoverAnswer {
  title: string;
  computeNodeId: string;
  partitionId: string;
  epoch: number;
}

/**
 * `slapos service takeover NAME [--clone TITLE]`: promotes the named clone, or the most up-to-date
 * live one, of one of the caller's resilient trees; 409 when none can take over.
 */
export async function takeoverInstance(
  context: ServiceContext,
  input: { caller: Caller; title: string; clone: string | null },
): Promise<TakeoverAnswer> {
  const owner = namespaceOf(input.caller);
  const contacts = await contactTimes(context);
  const now = context.clock.now();
  const settings = failoverSettings(context);
  const promotion = await context.store.write(async (repository) => {
    const root = await resilientRoot(context, repository, {
      caller: input.caller,
      owner,
      title: input.title,
    });
    const state = await readTreeState(repository, root.id, contacts);
    if (!state) throw notResilient(input.title);
    let wanted: number | undefined;
    if (input.clone !== null) {
      const clone = await repository.findInstance({
        owner,
        title: input.clone,
        requestedBy: root.title,
        shared: false,
      });
      wanted = clone?.id ?? -1;
    }
    const chosen = chooseClone(state, settings, now, wanted);
    if ('refused' in chosen) throw new SlapError('SLAP_ERR_CONFLICT', `${input.title}: ${chosen.refused}.`);
    const promoted = await promoteClone(repository, {
      rootInstanceId: root.id,
      cloneInstanceId: chosen.cloneInstanceId,
      expectedEpoch: state.epoch,
      reason: 'asked by its owner',
      now,
    });
    if (!promoted) throw new SlapError('SLAP_ERR_CONFLICT', `${input.title}: another takeover came first.`);
    return promoted;
  });
  context.logger.info({ ...promotion, reason: 'asked' }, 'failover: clone promoted');
  return {
    title: input.title,
    computeNodeId: promotion.location.computeNodeId,
    partitionId: promotion.location.partitionId,
    epoch: promotion.epoch,
  };
}

function notResilient(title: string): SlapError {
  return new SlapError('SLAP_ERR_CONFLICT', `${title} is not a resilient instance: it has no clones.`);
}

/** One of the caller's trees, by its root's title, that they may change; any tree with backups. */
export async function treeRoot(
  context: ServiceContext,
  repository: Repository,
  input: { caller: Caller; owner: string; title: string; action?: 'instance.read' | 'instance.update' },
): Promise<InstanceRecord> {
  await context.authorize(input.caller, 'instance_tree.read', { kind: 'master' }, repository);
  const root = await repository.findInstance({
    owner: input.owner,
    title: input.title,
    requestedBy: '',
    shared: false,
  });
  if (!root)
    throw new SlapError('SLAP_ERR_INSTANCE_TREE_NOT_FOUND', `No instance tree ${input.title} found.`);
  await context.authorize(
    input.caller,
    input.action ?? 'instance.update',
    { kind: 'instance', record: root, guid: input.title },
    repository,
  );
  return root;
}

async function resilientRoot(
  context: ServiceContext,
  repository: Repository,
  input: { caller: Caller; owner: string; title: string },
): Promise<InstanceRecord> {
  const root = await treeRoot(context, repository, input);
  const tree = await repository.getBackupTree(root.id);
  if (!tree || tree.clones === 0) throw notResilient(input.title);
  return root;
}

export interface FailoverMonitor {
  /** One pass over the resilient trees (what the timer runs; tests call it with a fake clock). */
  tick(): Promise<void>;
  close(): Promise<void>;
}

export const FAILOVER_MONITOR_INTERVAL_MS = 1_000;

/**
 * Watches every resilient tree: a tree whose main is lost (decideFailover) gets its best clone
 * promoted. Passes never overlap; a failed pass is logged and the next comes at its time.
 */
export function startFailoverMonitor(
  context: ServiceContext,
  options: { intervalMs?: number; timer?: boolean } = {},
): FailoverMonitor {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  let closed = false;
  const pass = async (): Promise<void> => {
    const trees = await context.store.read((repository) => repository.listResilientBackupTrees());
    if (trees.length === 0) return;
    const contacts = await contactTimes(context);
    const settings = failoverSettings(context);
    for (const tree of trees) {
      const now = context.clock.now();
      const state = await context.store.read(async (repository) =>
        // A tree its owner stopped or destroys serves nothing: nothing to take over.
        (await repository.getInstanceById(tree.rootInstanceId))?.requestedState === 'started'
          ? readTreeState(repository, tree.rootInstanceId, contacts)
          : undefined,
      );
      if (!state) continue;
      const decision = decideFailover(state, settings, now);
      if (decision.kind !== 'promote') continue;
      const promoted = await context.store.write((repository) =>
        promoteClone(repository, {
          rootInstanceId: tree.rootInstanceId,
          cloneInstanceId: decision.cloneInstanceId,
          expectedEpoch: state.epoch,
          reason: decision.reason,
          now,
        }),
      );
      if (promoted) context.logger.warn({ ...promoted, reason: decision.reason }, 'failover: clone promoted');
    }
  };
  const tick = (): Promise<void> => {
    // A pass still running is the one a tick asks for (passes never pile up).
    if (closed || busy) return running;
    busy = true;
    running = pass()
      .catch((error: unknown) => context.logger.error({ err: error }, 'failover: the pass failed'))
      .finally(() => {
        busy = false;
      });
    return running;
  };
  const timer =
    options.timer === false
      ? undefined
      : setInterval(() => void tick(), options.intervalMs ?? FAILOVER_MONITOR_INTERVAL_MS).unref();
  return {
    tick,
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
    },
  };
}

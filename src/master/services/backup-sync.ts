/**
 * The node's backup sync (`slapos.post.ext.backup_sync`, contract §3): every heartbeat a node says
 * where its repository server is and what each of its partitions did (backups taken, restored,
 * held; a fenced main stopped; a restore done), and learns each partition's role in its tree, the
 * tree's repository password and epoch, where to push (a main: its clones' nodes) and who may push
 * to it (a clone: its main's node), and what its owner asked (a backup, a restore). A node sees and
 * changes only its own partitions; a report naming an instance that is no longer on that partition
 * (a takeover moved it) is ignored.
 */
import type { BackupRole, BackupTreeRecord, InstanceRecord, Repository } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { newBackupPassword, newBackupTree, newMember } from './backup-trees.ts';
import { recordInstanceEvent } from './instance-timeline.ts';
import { requireComputeNode } from './not-found.ts';
import { failoverSettings } from './failover.ts';
import { nodeOutOfContact } from '../../core/failover-decision.ts';

/** How often nodes sync (seconds): three missed ones are the default failover_after. */
export const BACKUP_HEARTBEAT_S = 5;
/** The backups of a tree the master lists (the newest). */
export const MAX_BACKUP_LISTING = 200;
/** The source locations a restore order lists (the node's protocol validation caps them too). */
export const MAX_RESTORE_LOCATIONS = 8;

export interface BackupRef {
  backupId: string;
  /** When it started (float seconds). */
  time: number;
}

export interface BackupPartitionReport {
  partitionId: string;
  instanceGuid: string;
  /** Whether the partition's instance declares data (it has a backup plan). */
  declared: boolean;
  /** Whether its services are stopped (a fenced main's node says so once it stopped them). */
  servicesStopped: boolean;
  lastBackup: BackupRef | null;
  restored: BackupRef | null;
  /** What the node's repository holds of the tree (at most MAX_BACKUP_LISTING). */
  backupList: BackupRef[];
  restoreDone: { requestId: string; ok: boolean; message: string; restoredBackupId: string | null } | null;
}

export interface BackupSyncInput {
  caller: Caller;
  computeNodeId: string;
  repository: { url: string; certificate: string } | null;
  partitions: BackupPartitionReport[];
}

export interface BackupTarget {
  computeNodeId: string;
  url: string;
  certificate: string;
}

export interface BackupPartitionOrder {
  partitionId: string;
  instanceGuid: string;
  /** `tree-<root instance id>`. */
  repository: string;
  password: string;
  role: BackupRole;
  epoch: number;
  /** A main's: where to push (its clones' nodes that reported a repository server). */
  targets: BackupTarget[];
  /** A clone's or fenced member's: the node(s) that may append to this node's repository of the tree. */
  writers: string[];
  /** Any member's: the nodes that may read (not append to) this node's repository of the tree. */
  readers: string[];
  backupRequestedAt: number | null;
  /** A serving member's: the pending restore; `source` null restores the tree's own backups. */
  restoreRequest: { requestId: string; backupId: string | null; source: RestoreSource | null } | null;
}

/** Where a restore into another tree reads the source tree's backups. */
export interface RestoreSource {
  /** The source tree's repository (`tree-<source root id>`). */
  repository: string;
  password: string;
  /** The nodes listing the backup(s), at most MAX_RESTORE_LOCATIONS, newest listing first. */
  locations: RestoreLocation[];
}

/** A node holding a source's backups, with its repository server (null: it reported none). */
export interface RestoreLocation {
  computeNodeId: string;
  url: string | null;
  certificate: string | null;
}

export interface BackupSyncAnswer {
  heartbeatInterval: number;
  partitions: BackupPartitionOrder[];
}

/** A tree's repository name. */
export function treeRepositoryName(rootInstanceId: number): string {
  return `tree-${rootInstanceId}`;
}

/** A stored restore request (backup_tree.restore_request_json). */
export interface RestoreRequest {
  request_id: string;
  backup_id: string | null;
  requested_at: number;
  /** The source tree's root id of a restore into this tree; absent: the tree's own backups. */
  source_root_instance_id?: number;
}

export function parseRestoreRequest(json: string | null): RestoreRequest | null {
  return json === null ? null : (JSON.parse(json) as RestoreRequest);
}

/** A tree's last restore (backup_tree.last_restore_json), as the backup list answers it. */
export interface RestoreStatus {
  request_id: string;
  state: 'pending' | 'done' | 'failed';
  /** The backup asked for; null: the latest. */
  backup_id: string | null;
  /** The backup restored (once done). */
  restored_backup_id: string | null;
  /** The title of the tree whose backup is restored (the tree's own for a plain restore). */
  source: string;
  /** The node's message; '' while pending. */
  message: string;
  requested_at: number;
  finished_at: number | null;
}

export function parseRestoreStatus(json: string | null): RestoreStatus | null {
  return json === null ? null : (JSON.parse(json) as RestoreStatus);
}

/** Ends a tree's pending restore: the request goes, its status says how it ended. */
async function finishRestore(
  repository: Repository,
  rootInstanceId: number,
  status: RestoreStatus | null,
  outcome: { ok: boolean; message: string; restoredBackupId: string | null; at: number },
): Promise<void> {
  await repository.setBackupRestoreRequest(rootInstanceId, null, null);
  if (status === null) return;
  const finished: RestoreStatus = {
    ...status,
    state: outcome.ok ? 'done' : 'failed',
    restored_backup_id: outcome.ok ? outcome.restoredBackupId : null,
    message: outcome.message,
    finished_at: outcome.at,
  };
  await repository.setBackupLastRestore(rootInstanceId, JSON.stringify(finished));
}

/** The root of an instance's tree (itself for a root). */
export async function rootOf(
  repository: Repository,
  instance: InstanceRecord,
): Promise<InstanceRecord | undefined> {
  if (instance.requestedBy === '') return instance;
  return repository.findInstance({
    owner: instance.owner,
    title: instance.requestedBy,
    requestedBy: '',
    shared: false,
  });
}

/** Applies one partition's report to its member row (creating the tree of a first declaration). */
async function applyReport(
  context: ServiceContext,
  repository: Repository,
  computeNodeId: string,
  report: BackupPartitionReport,
  now: number,
): Promise<void> {
  const instance = await repository.getInstanceOnPartition({
    computeNodeId,
    partitionId: report.partitionId,
  });
  if (!instance || context.naming.guidOf(instance) !== report.instanceGuid) return;
  let member = await repository.getBackupMember(instance.id);
  if (!member) {
    if (!report.declared) return;
    const root = await rootOf(repository, instance);
    if (!root) return;
    await repository.insertBackupTree(newBackupTree(root.id, 0, now, newBackupPassword()));
    member = newMember(instance.id, root.id, 'single', now);
    await repository.putBackupMember(member);
  }
  const next = { ...member };
  const serving = member.role === 'main' || member.role === 'single';
  if (serving && report.lastBackup) {
    next.lastBackupId = report.lastBackup.backupId;
    next.lastBackupAt = report.lastBackup.time;
  }
  if (member.role === 'clone' && report.restored) {
    next.restoredBackupId = report.restored.backupId;
    next.restoredAt = report.restored.time;
  }
  if (member.role === 'fenced' && report.servicesStopped) {
    next.role = 'clone';
    next.fencedAt = null;
    // What it restored as a main is not a clone's restore: it restores the new main's backups first.
    next.restoredBackupId = null;
    next.restoredAt = null;
    await recordInstanceEvent(repository, instance.id, { kind: 'unfenced', at: now });
  }
  const changed =
    next.role !== member.role ||
    next.lastBackupId !== member.lastBackupId ||
    next.lastBackupAt !== member.lastBackupAt ||
    next.restoredBackupId !== member.restoredBackupId ||
    next.restoredAt !== member.restoredAt;
  if (changed) await repository.putBackupMember({ ...next, updatedAt: now });

  const tree = await repository.getBackupTree(member.rootInstanceId);
  if (!tree) return;
  const listed = (await repository.listBackupListing(tree.rootInstanceId)).filter(
    (row) => row.computeNodeId === computeNodeId,
  );
  const reported = [...new Map(report.backupList.map((ref) => [ref.backupId, ref])).values()];
  const same =
    listed.length === reported.length &&
    reported.every((ref) => listed.some((row) => row.backupId === ref.backupId && row.time === ref.time));
  if (!same)
    await repository.replaceBackupListing(tree.rootInstanceId, computeNodeId, reported, MAX_BACKUP_LISTING);

  const restore = parseRestoreRequest(tree.restoreRequestJson);
  if (serving && report.restoreDone && restore && restore.request_id === report.restoreDone.requestId) {
    const { ok, message, restoredBackupId } = report.restoreDone;
    const status = parseRestoreStatus(tree.lastRestoreJson);
    await finishRestore(
      repository,
      tree.rootInstanceId,
      status?.request_id === restore.request_id ? status : null,
      {
        ok,
        message,
        restoredBackupId,
        at: now,
      },
    );
    // A restore into this tree names the tree whose backup it restored.
    const from = restore.source_root_instance_id !== undefined && status ? ` of ${status.source}` : '';
    await recordInstanceEvent(repository, instance.id, {
      kind: 'restored',
      at: now,
      detail: `${restore.request_id} ${restore.backup_id ?? 'latest'}${from}: ${ok ? 'done' : 'failed'}${message ? ` (${message})` : ''}`,
    });
  }
}

/**
 * Where a restore into another tree reads the source's backups (those listing `backupId`, or any):
 * undefined when the source tree has no backups any more (destroyed).
 */
async function restoreSource(
  repository: Repository,
  sourceRootId: number,
  backupId: string | null,
): Promise<RestoreSource | undefined> {
  const source = await repository.getBackupTree(sourceRootId);
  if (!source) return undefined;
  const nodes: string[] = [];
  for (const row of await repository.listBackupListing(sourceRootId)) {
    if (backupId !== null && row.backupId !== backupId) continue;
    if (!nodes.includes(row.computeNodeId)) nodes.push(row.computeNodeId);
    if (nodes.length === MAX_RESTORE_LOCATIONS) break;
  }
  const locations: RestoreLocation[] = [];
  for (const computeNodeId of nodes) {
    const endpoint = await repository.getBackupEndpoint(computeNodeId);
    locations.push({
      computeNodeId,
      url: endpoint?.url ?? null,
      certificate: endpoint?.certificate ?? null,
    });
  }
  return { repository: treeRepositoryName(sourceRootId), password: source.password, locations };
}

/**
 * The nodes that may read this node's repository of a tree: those serving the trees whose pending
 * restore reads the tree's backups (but this node).
 */
async function readersOf(
  repository: Repository,
  rootInstanceId: number,
  computeNodeId: string,
): Promise<string[]> {
  const readers = new Set<string>();
  for (const target of await repository.listBackupTreesRestoringFrom(rootInstanceId))
    for (const member of await repository.listBackupMembers(target.rootInstanceId)) {
      if (member.role !== 'main' && member.role !== 'single') continue;
      const node = await repository.instanceComputeNode(member.instanceId);
      if (node !== undefined && node !== computeNodeId) readers.add(node);
    }
  return [...readers].sort();
}

/** A serving member's pending restore order; a restore whose source is gone fails, with why. */
async function restoreOrder(
  repository: Repository,
  tree: BackupTreeRecord,
  now: number,
): Promise<BackupPartitionOrder['restoreRequest']> {
  const restore = parseRestoreRequest(tree.restoreRequestJson);
  if (!restore) return null;
  const order = { requestId: restore.request_id, backupId: restore.backup_id };
  if (restore.source_root_instance_id === undefined) return { ...order, source: null };
  const source =
    tree.restoreSourceRootId === restore.source_root_instance_id
      ? await restoreSource(repository, restore.source_root_instance_id, restore.backup_id)
      : undefined;
  if (source) return { ...order, source };
  const status = parseRestoreStatus(tree.lastRestoreJson);
  await finishRestore(
    repository,
    tree.rootInstanceId,
    status?.request_id === restore.request_id ? status : null,
    {
      ok: false,
      message: `the source tree ${status?.source ?? ''} has no backups any more (destroyed)`,
      restoredBackupId: null,
      at: now,
    },
  );
  return null;
}

/** What one member of this node is told. */
async function orderOf(
  context: ServiceContext,
  repository: Repository,
  instance: Pick<InstanceRecord, 'id' | 'title' | 'requestedBy' | 'shared'>,
  location: { computeNodeId: string; partitionId: string },
  now: number,
): Promise<BackupPartitionOrder | undefined> {
  const member = await repository.getBackupMember(instance.id);
  if (!member) return undefined;
  const tree = await repository.getBackupTree(member.rootInstanceId);
  if (!tree) return undefined;
  const targets: BackupTarget[] = [];
  const writers: string[] = [];
  if (member.role === 'main') {
    const settings = failoverSettings(context);
    for (const other of await repository.listBackupMembers(tree.rootInstanceId)) {
      if (other.role !== 'clone') continue;
      const node = await repository.instanceComputeNode(other.instanceId);
      if (node === undefined || targets.some((target) => target.computeNodeId === node)) continue;
      // A clone's node out of contact is left out until it is back: the main's node then abandons
      // a push to it in progress rather than hold up the other clones' backups.
      if (nodeOutOfContact(await context.contacts.lastContactOf(repository, node), settings, now)) continue;
      const endpoint = await repository.getBackupEndpoint(node);
      if (endpoint)
        targets.push({ computeNodeId: node, url: endpoint.url, certificate: endpoint.certificate });
    }
  } else if (member.role === 'clone' || member.role === 'fenced') {
    const mainNode = await repository.instanceComputeNode(tree.rootInstanceId);
    if (mainNode !== undefined) writers.push(mainNode);
  }
  const serving = member.role === 'main' || member.role === 'single';
  return {
    partitionId: location.partitionId,
    instanceGuid: context.naming.guidOf(instance),
    repository: treeRepositoryName(tree.rootInstanceId),
    password: tree.password,
    role: member.role,
    epoch: tree.epoch,
    targets,
    writers,
    readers: await readersOf(repository, tree.rootInstanceId, location.computeNodeId),
    backupRequestedAt: serving ? tree.backupRequestedAt : null,
    restoreRequest: serving ? await restoreOrder(repository, tree, now) : null,
  };
}

export async function syncBackups(
  context: ServiceContext,
  input: BackupSyncInput,
): Promise<BackupSyncAnswer> {
  const { computeNodeId } = input;
  await context.authorize(input.caller, 'compute_node.report', { kind: 'compute_node', computeNodeId });
  context.contacts.noteCall(input.caller, computeNodeId);
  const now = context.clock.now();
  const partitions = await context.store.write(async (repository) => {
    await requireComputeNode(repository, computeNodeId);
    if (input.repository) {
      const stored = await repository.getBackupEndpoint(computeNodeId);
      if (stored?.url !== input.repository.url || stored.certificate !== input.repository.certificate)
        await repository.putBackupEndpoint({ computeNodeId, ...input.repository, updatedAt: now });
    }
    for (const report of input.partitions) await applyReport(context, repository, computeNodeId, report, now);
    const orders: BackupPartitionOrder[] = [];
    for (const row of await repository.listInstancesOnNode(computeNodeId)) {
      const instance = { id: row.id, title: row.title, requestedBy: row.requestedBy, shared: false };
      const order = await orderOf(
        context,
        repository,
        instance,
        { computeNodeId, partitionId: row.partitionId },
        now,
      );
      if (order) orders.push(order);
    }
    return orders;
  });
  return { heartbeatInterval: BACKUP_HEARTBEAT_S, partitions };
}

/**
 * The node's backup sync (`slapos.post.ext.backup_sync`, contract §3): every heartbeat a node says
 * where its repository server is and what each of its partitions did (backups taken, restored,
 * held; a fenced main stopped; a restore done), and learns each partition's role in its tree, the
 * tree's repository password and epoch, where to push (a main: its clones' nodes) and who may push
 * to it (a clone: its main's node), and what its owner asked (a backup, a restore). A node sees and
 * changes only its own partitions; a report naming an instance that is no longer on that partition
 * (a takeover moved it) is ignored.
 */
import type { BackupRole, InstanceRecord, Repository } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { newBackupPassword, newMember } from './backup-trees.ts';
import { recordInstanceEvent } from './instance-timeline.ts';
import { requireComputeNode } from './not-found.ts';

/** How often nodes sync (seconds): three missed ones are the default failover_after. */
export const BACKUP_HEARTBEAT_S = 5;
/** The backups of a tree the master lists (the newest). */
export const MAX_BACKUP_LISTING = 200;

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
  restoreDone: { requestId: string; ok: boolean; message: string } | null;
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
  backupRequestedAt: number | null;
  restoreRequest: { requestId: string; backupId: string | null } | null;
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
}

export function parseRestoreRequest(json: string | null): RestoreRequest | null {
  return json === null ? null : (JSON.parse(json) as RestoreRequest);
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
    await repository.insertBackupTree({
      rootInstanceId: root.id,
      password: newBackupPassword(),
      clones: 0,
      epoch: 0,
      backupRequestedAt: null,
      restoreRequestJson: null,
      createdAt: now,
    });
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
    await repository.setBackupRestoreRequest(tree.rootInstanceId, null);
    const { ok, message } = report.restoreDone;
    await recordInstanceEvent(repository, instance.id, {
      kind: 'restored',
      at: now,
      detail: `${restore.request_id} ${restore.backup_id ?? 'latest'}: ${ok ? 'done' : 'failed'}${message ? ` (${message})` : ''}`,
    });
  }
}

/** What one member of this node is told. */
async function orderOf(
  context: ServiceContext,
  repository: Repository,
  instance: Pick<InstanceRecord, 'id' | 'title' | 'requestedBy' | 'shared'>,
  partitionId: string,
): Promise<BackupPartitionOrder | undefined> {
  const member = await repository.getBackupMember(instance.id);
  if (!member) return undefined;
  const tree = await repository.getBackupTree(member.rootInstanceId);
  if (!tree) return undefined;
  const targets: BackupTarget[] = [];
  const writers: string[] = [];
  if (member.role === 'main') {
    for (const other of await repository.listBackupMembers(tree.rootInstanceId)) {
      if (other.role !== 'clone') continue;
      const node = await repository.instanceComputeNode(other.instanceId);
      if (node === undefined || targets.some((target) => target.computeNodeId === node)) continue;
      const endpoint = await repository.getBackupEndpoint(node);
      if (endpoint)
        targets.push({ computeNodeId: node, url: endpoint.url, certificate: endpoint.certificate });
    }
  } else if (member.role === 'clone' || member.role === 'fenced') {
    const mainNode = await repository.instanceComputeNode(tree.rootInstanceId);
    if (mainNode !== undefined) writers.push(mainNode);
  }
  const serving = member.role === 'main' || member.role === 'single';
  const restore = serving ? parseRestoreRequest(tree.restoreRequestJson) : null;
  return {
    partitionId,
    instanceGuid: context.naming.guidOf(instance),
    repository: treeRepositoryName(tree.rootInstanceId),
    password: tree.password,
    role: member.role,
    epoch: tree.epoch,
    targets,
    writers,
    backupRequestedAt: serving ? tree.backupRequestedAt : null,
    restoreRequest: restore ? { requestId: restore.request_id, backupId: restore.backup_id } : null,
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
      const order = await orderOf(context, repository, instance, row.partitionId);
      if (order) orders.push(order);
    }
    return orders;
  });
  return { heartbeatInterval: BACKUP_HEARTBEAT_S, partitions };
}

/**
 * What owners ask of their trees' backups (contract §3): a backup now (`slapos service backup`),
 * the list of backups the nodes hold (`slapos service backups`), a restore (`slapos service
 * restore`, of the tree itself or into another tree). The nodes learn the requests through their
 * backup sync (backup-sync.ts) and a restore's outcome comes back the same way: the tree's restore
 * status (its last restore, in the backup list) and an instance event.
 */
import { randomUUID } from 'node:crypto';
import { SlapError } from '../../core/errors.ts';
import { decodeParameterXml } from '../../core/parameter-xml.ts';
import { TEXT_RULES, textProblem } from '../../core/text-rules.ts';
import type { BackupTreeRecord, InstanceRecord, Repository } from '../storage/repository.ts';
import { namespaceOf, type Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { parseRestoreStatus, type RestoreRequest, type RestoreStatus } from './backup-sync.ts';
import { newBackupPassword, newBackupTree } from './backup-trees.ts';
import { requestInstance } from './request-instance.ts';
import { treeRoot } from './failover.ts';

async function treeWithBackups(
  context: ServiceContext,
  repository: Repository,
  input: { caller: Caller; title: string; action: 'instance.read' | 'instance.update' },
): Promise<{ root: InstanceRecord; tree: BackupTreeRecord }> {
  const root = await treeRoot(context, repository, {
    caller: input.caller,
    owner: namespaceOf(input.caller),
    title: input.title,
    action: input.action,
  });
  const tree = await repository.getBackupTree(root.id);
  if (!tree)
    throw new SlapError(
      'SLAP_ERR_CONFLICT',
      `${input.title} has no backups yet: it is not resilient and no node has reported data declared by its instances (a node reports it at its first backup sync after deploying them).`,
    );
  return { root, tree };
}

export async function requestBackup(
  context: ServiceContext,
  input: { caller: Caller; title: string },
): Promise<{ requestedAt: number }> {
  const requestedAt = context.clock.now();
  await context.store.write(async (repository) => {
    const { tree } = await treeWithBackups(context, repository, { ...input, action: 'instance.update' });
    await repository.setBackupRequestedAt(tree.rootInstanceId, requestedAt);
  });
  return { requestedAt };
}

export interface BackupListItem {
  backupId: string;
  time: number;
  /** The nodes holding it. */
  computeNodeIds: string[];
}

/** A tree's backups, newest first, and its last restore (pending or finished; null: none). */
export interface BackupList {
  backups: BackupListItem[];
  restore: RestoreStatus | null;
}

export async function listBackups(
  context: ServiceContext,
  input: { caller: Caller; title: string },
): Promise<BackupList> {
  const { rows, tree } = await context.store.read(async (repository) => {
    const { tree } = await treeWithBackups(context, repository, { ...input, action: 'instance.read' });
    return { rows: await repository.listBackupListing(tree.rootInstanceId), tree };
  });
  const items = new Map<string, BackupListItem>();
  for (const row of rows) {
    const item = items.get(row.backupId);
    if (item) item.computeNodeIds.push(row.computeNodeId);
    else
      items.set(row.backupId, {
        backupId: row.backupId,
        time: row.time,
        computeNodeIds: [row.computeNodeId],
      });
  }
  for (const item of items.values()) item.computeNodeIds.sort();
  // Newest first (the listing's order), one entry per backup.
  return { backups: [...items.values()], restore: parseRestoreStatus(tree.lastRestoreJson) };
}

export interface RestoreInput {
  caller: Caller;
  /** The source tree: the one whose backup is restored. */
  title: string;
  /** null: the latest. */
  backupId: string | null;
  /** The target tree (requested like the source when it has no live root); null: the source itself. */
  into?: string | null | undefined;
}

/** Refuses a backup the source does not list (or, for the latest, a source listing none). */
async function requireListed(
  repository: Repository,
  tree: BackupTreeRecord,
  input: { title: string; backupId: string | null; anyNeeded: boolean },
): Promise<void> {
  if (input.backupId === null && !input.anyNeeded) return;
  const listed = await repository.listBackupListing(tree.rootInstanceId);
  if (input.backupId === null) {
    if (listed.length === 0)
      throw new SlapError('SLAP_ERR_CONFLICT', `${input.title} has no backup listed yet to restore from.`);
  } else if (!listed.some((row) => row.backupId === input.backupId))
    throw new SlapError('SLAP_ERR_CONFLICT', `${input.title} has no backup ${input.backupId}.`);
}

/** Stores a tree's pending restore request and, at once, its status (pending). */
async function storeRestoreRequest(
  repository: Repository,
  target: BackupTreeRecord,
  request: RestoreRequest,
  sourceTitle: string,
): Promise<void> {
  const status: RestoreStatus = {
    request_id: request.request_id,
    state: 'pending',
    backup_id: request.backup_id,
    restored_backup_id: null,
    source: sourceTitle,
    message: '',
    requested_at: request.requested_at,
    finished_at: null,
  };
  await repository.setBackupRestoreRequest(
    target.rootInstanceId,
    JSON.stringify(request),
    request.source_root_instance_id ?? null,
  );
  await repository.setBackupLastRestore(target.rootInstanceId, JSON.stringify(status));
}

export async function requestRestore(
  context: ServiceContext,
  input: RestoreInput,
): Promise<{ requestId: string }> {
  if (input.into !== undefined && input.into !== null)
    return restoreInto(context, { ...input, into: input.into });
  const requestId = randomUUID();
  const requestedAt = context.clock.now();
  await context.store.write(async (repository) => {
    const { tree } = await treeWithBackups(context, repository, { ...input, action: 'instance.update' });
    await requireListed(repository, tree, { ...input, anyNeeded: false });
    const request: RestoreRequest = {
      request_id: requestId,
      backup_id: input.backupId,
      requested_at: requestedAt,
    };
    await storeRestoreRequest(repository, tree, request, input.title);
  });
  return { requestId };
}

/**
 * Why `into` cannot be the target of a restore of `source`'s backups: it is the source, or a member
 * of the source's tree.
 */
async function refuseTarget(repository: Repository, source: InstanceRecord, into: string): Promise<void> {
  if (into === source.title)
    throw new SlapError('SLAP_ERR_CONFLICT', `Cannot restore ${source.title} into itself: leave out --into.`);
  const member = await repository.findInstance({
    owner: source.owner,
    title: into,
    requestedBy: source.title,
    shared: false,
  });
  if (member)
    throw new SlapError(
      'SLAP_ERR_CONFLICT',
      `${into} is a member of ${source.title}'s tree: restore into another tree (a new title is requested).`,
    );
}

function liveRoot(root: InstanceRecord | undefined): InstanceRecord | undefined {
  return root && root.requestedState !== 'destroyed' ? root : undefined;
}

/**
 * A restore of one tree's backup into another (contract §0): the target is requested like the source
 * (its software release, type and parameters; no SLA, started) when it has no live root, else used as
 * it is; the request is stored on the target's tree (created when it has none), naming the source.
 */
async function restoreInto(
  context: ServiceContext,
  input: RestoreInput & { into: string },
): Promise<{ requestId: string }> {
  const problem = textProblem(input.into, TEXT_RULES.title);
  if (problem) throw new SlapError('SLAP_ERR_INVALID_INPUT', `into ${problem}.`);
  const owner = namespaceOf(input.caller);
  const check = async (repository: Repository) => {
    const source = await treeWithBackups(context, repository, { ...input, action: 'instance.read' });
    await requireListed(repository, source.tree, { ...input, anyNeeded: true });
    await refuseTarget(repository, source.root, input.into);
    const target = liveRoot(
      await repository.findInstance({ owner, title: input.into, requestedBy: '', shared: false }),
    );
    return { source, target };
  };
  const { source, target } = await context.store.read(check);
  if (!target)
    await requestInstance(context, {
      caller: input.caller,
      title: input.into,
      softwareRelease: source.root.softwareRelease,
      softwareType: source.root.softwareType,
      parameters: decodeParameterXml(source.root.parameterXml),
      shared: false,
      state: 'started',
      sla: {},
    });
  const requestId = randomUUID();
  const requestedAt = context.clock.now();
  await context.store.write(async (repository) => {
    // Checked again: the source or the target may have changed since.
    const { source } = await check(repository);
    const root = await treeRoot(context, repository, {
      caller: input.caller,
      owner,
      title: input.into,
      action: 'instance.update',
    });
    if (!liveRoot(root)) throw new SlapError('SLAP_ERR_CONFLICT', `${input.into} was destroyed meanwhile.`);
    await repository.insertBackupTree(newBackupTree(root.id, 0, requestedAt, newBackupPassword()));
    const tree = await repository.getBackupTree(root.id);
    if (!tree) throw new SlapError('SLAP_ERR_CONFLICT', `${input.into} was destroyed meanwhile.`);
    const request: RestoreRequest = {
      request_id: requestId,
      backup_id: input.backupId,
      requested_at: requestedAt,
      source_root_instance_id: source.root.id,
    };
    await storeRestoreRequest(repository, tree, request, source.root.title);
  });
  return { requestId };
}

/**
 * What owners ask of their trees' backups (contract §3): a backup now (`slapos service backup`),
 * the list of backups the nodes hold (`slapos service backups`), a restore (`slapos service
 * restore`). The nodes learn the requests through their backup sync (backup-sync.ts) and a
 * restore's outcome comes back the same way, as an instance event.
 */
import { randomUUID } from 'node:crypto';
import { SlapError } from '../../core/errors.ts';
import type { BackupTreeRecord, InstanceRecord, Repository } from '../storage/repository.ts';
import { namespaceOf, type Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import type { RestoreRequest } from './backup-sync.ts';
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

export async function listBackups(
  context: ServiceContext,
  input: { caller: Caller; title: string },
): Promise<BackupListItem[]> {
  const rows = await context.store.read(async (repository) => {
    const { tree } = await treeWithBackups(context, repository, { ...input, action: 'instance.read' });
    return repository.listBackupListing(tree.rootInstanceId);
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
  return [...items.values()];
}

export async function requestRestore(
  context: ServiceContext,
  input: { caller: Caller; title: string; backupId: string | null },
): Promise<{ requestId: string }> {
  const requestId = randomUUID();
  const requestedAt = context.clock.now();
  await context.store.write(async (repository) => {
    const { tree } = await treeWithBackups(context, repository, { ...input, action: 'instance.update' });
    if (input.backupId !== null) {
      const listed = await repository.listBackupListing(tree.rootInstanceId);
      if (!listed.some((row) => row.backupId === input.backupId))
        throw new SlapError('SLAP_ERR_CONFLICT', `${input.title} has no backup ${input.backupId}.`);
    }
    const request: RestoreRequest = {
      request_id: requestId,
      backup_id: input.backupId,
      requested_at: requestedAt,
    };
    await repository.setBackupRestoreRequest(tree.rootInstanceId, JSON.stringify(request));
  });
  return { requestId };
}

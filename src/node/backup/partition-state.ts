/**
 * What the backup agent remembers of each partition across restarts, one JSON file per partition in
 * `<backup directory>/state/` (written atomically): its tree and role as last assigned, what it
 * backed up and restored, which master requests it handled.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import type { BackupRole, ReportedBackup, RestoreDone } from './sync-protocol.ts';

export interface PartitionBackupState {
  instanceGuid: string | null;
  repository: string | null;
  role: BackupRole | null;
  /**
   * Its data comes from the local repository (a clone, a fenced main): true from the role change to
   * `clone`/`fenced` until `settle` has put the newest received backup in place before its services
   * start. No backup is taken while it is true.
   */
  receiving: boolean;
  lastAttemptAt: number | null;
  handledRequestAt: number | null;
  retryAt: number | null;
  failures: number;
  lastBackup: ReportedBackup | null;
  restored: ReportedBackup | null;
  /** A restore of this backup failed (its check): not tried again before `restoreRetryAt`. */
  failedRestore: { backupId: string; retryAt: number; failures: number } | null;
  /** The outcome of the last restore request, reported until the master's answer no longer asks it. */
  restoreDone: RestoreDone | null;
  lastRestoreRequestId: string | null;
  backupList: ReportedBackup[];
  retainedAt: number | null;
}

export function emptyPartitionState(): PartitionBackupState {
  return {
    instanceGuid: null,
    repository: null,
    role: null,
    receiving: false,
    lastAttemptAt: null,
    handledRequestAt: null,
    retryAt: null,
    failures: 0,
    lastBackup: null,
    restored: null,
    failedRestore: null,
    restoreDone: null,
    lastRestoreRequestId: null,
    backupList: [],
    retainedAt: null,
  };
}

/** The state kept when a partition joins another tree: nothing of the previous one. */
export function stateForNewTree(repository: string): PartitionBackupState {
  return { ...emptyPartitionState(), repository };
}

function stateFile(directory: string, partitionId: string): string {
  return join(directory, 'state', `${partitionId}.json`);
}

export async function readPartitionState(
  directory: string,
  partitionId: string,
): Promise<PartitionBackupState> {
  try {
    const parsed = JSON.parse(await readFile(stateFile(directory, partitionId), 'utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const state = { ...emptyPartitionState(), ...(parsed as Partial<PartitionBackupState>) };
      // Written before restores named the backup they restored.
      if (state.restoreDone !== null) state.restoreDone.restored_backup_id ??= null;
      return state;
    }
  } catch {
    // none yet, or unreadable (a hand edit): started afresh, the master's answer fills it again
  }
  return emptyPartitionState();
}

export async function writePartitionState(
  directory: string,
  partitionId: string,
  state: PartitionBackupState,
): Promise<void> {
  await writeFileAtomic(stateFile(directory, partitionId), `${JSON.stringify(state)}\n`, { mode: 0o600 });
}

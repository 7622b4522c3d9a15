/**
 * TEMPORARY: the merged declaration plan of issue 12's contract (notes/resiliency-contract.md §1),
 * which src/core/backup-declaration.ts (another branch) provides; removed once it is merged. The
 * restic side is restic.ts's own.
 */
import type { Restic } from './restic.ts';

export type { BackupSummary, ResticTarget, SnapshotInfo } from './restic.ts';

export interface PartitionBackupPlan {
  paths: string[];
  exclude: string[];
  backupCommands: string[];
  restoreCommands: string[];
  checkCommands: string[];
  periodSeconds: number;
  keep: { last: number; hourly: number; daily: number };
}

/** What the agent uses of restic (tests give an in-memory one). */
export type ResticDriver = Pick<Restic, 'init' | 'backup' | 'snapshots' | 'restore' | 'forget' | 'check'>;

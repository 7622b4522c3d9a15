/**
 * TEMPORARY: the shapes of issue 12's contract (notes/resiliency-contract.md §1–2) that other
 * branches provide (src/core/backup-declaration.ts, src/node/backup/restic.ts). Types only, so that
 * the agent compiles before they are merged; removed once they are.
 */
import type { Logger } from '../../lib/logger.ts';

export interface PartitionBackupPlan {
  paths: string[];
  exclude: string[];
  backupCommands: string[];
  restoreCommands: string[];
  checkCommands: string[];
  periodSeconds: number;
  keep: { last: number; hourly: number; daily: number };
}

export interface ResticTarget {
  url: string;
  password: string;
  caFile?: string;
  clientCertFile?: string;
}

export interface BackupSummary {
  snapshotId: string;
  backupId: string;
  time: number;
  bytesAdded: number;
  filesNew: number;
  filesChanged: number;
  totalBytes: number;
}

export interface SnapshotInfo {
  snapshotId: string;
  backupId: string | null;
  time: number;
  paths: string[];
  tags: string[];
}

export interface ResticDriver {
  init(target: ResticTarget): Promise<void>;
  backup(
    target: ResticTarget,
    options: { cwd: string; paths: string[]; exclude: string[]; backupId: string; tags: string[] },
  ): Promise<BackupSummary>;
  snapshots(target: ResticTarget): Promise<SnapshotInfo[]>;
  restore(target: ResticTarget, snapshotId: string, intoDir: string): Promise<void>;
  forget(target: ResticTarget, keep: PartitionBackupPlan['keep']): Promise<void>;
  check(target: ResticTarget, options: { readData: boolean }): Promise<void>;
}

export type { Logger };

/**
 * Backups and resilient instance trees (migration 0017, docs/resiliency.md): one row per tree with
 * backups (its repository password, its clones, the takeover epoch, what its owner asked), one per
 * member instance (its role and what its node reported), each node's repository server endpoint,
 * and the backups the nodes report holding.
 */

/** The role of an instance in a tree with backups (contract §0). */
export type BackupRole = 'main' | 'clone' | 'fenced' | 'single';

export interface BackupTreeRecord {
  /** The root instance's id: the tree's identity (its repository is `tree-<id>`). */
  rootInstanceId: number;
  /** The repository password (32 random bytes, base64url): given only to the tree's nodes. */
  password: string;
  /** How many clones the tree has (0: backups to a local repository only). */
  clones: number;
  /** Bumped by each takeover (compare-and-set). */
  epoch: number;
  /** When a backup was last asked for (float seconds), null: never. */
  backupRequestedAt: number | null;
  /**
   * The pending restore request, JSON ({request_id, backup_id, requested_at, source_root_instance_id?}),
   * null: none.
   */
  restoreRequestJson: string | null;
  /** The source tree (root id) of the pending restore request; null: none, or the tree's own backups. */
  restoreSourceRootId: number | null;
  /** The tree's last restore (pending or finished), JSON of its status; null: none yet. */
  lastRestoreJson: string | null;
  createdAt: number;
}

export interface BackupMemberRecord {
  instanceId: number;
  rootInstanceId: number;
  role: BackupRole;
  /** The backup a clone last restored, and that backup's time (float seconds). */
  restoredBackupId: string | null;
  restoredAt: number | null;
  /** The last backup a main took, and its time. */
  lastBackupId: string | null;
  lastBackupAt: number | null;
  /** When a former main was fenced (float seconds). */
  fencedAt: number | null;
  updatedAt: number;
}

/** Where a node's repository server is, with its self-signed certificate (PEM). */
export interface BackupEndpointRecord {
  computeNodeId: string;
  url: string;
  certificate: string;
  updatedAt: number;
}

/** A backup a node reports holding for a tree. */
export interface BackupListingRecord {
  backupId: string;
  /** When the backup started (float seconds). */
  time: number;
  computeNodeId: string;
}

export interface BackupRepository {
  getBackupTree(rootInstanceId: number): Promise<BackupTreeRecord | undefined>;
  /** Creates a tree's row; false (and nothing changed) when it has one. */
  insertBackupTree(tree: BackupTreeRecord): Promise<boolean>;
  /** The trees with clones (the failover monitor's), by root id. */
  listResilientBackupTrees(): Promise<BackupTreeRecord[]>;
  setBackupTreeClones(rootInstanceId: number, clones: number): Promise<void>;
  setBackupRequestedAt(rootInstanceId: number, at: number | null): Promise<void>;
  /** Sets (or clears, with nulls) the pending restore request and its source tree, together. */
  setBackupRestoreRequest(
    rootInstanceId: number,
    restoreRequestJson: string | null,
    sourceRootId: number | null,
  ): Promise<void>;
  setBackupLastRestore(rootInstanceId: number, lastRestoreJson: string | null): Promise<void>;
  /** The trees whose pending restore request reads `sourceRootId`'s backups, by root id. */
  listBackupTreesRestoringFrom(sourceRootId: number): Promise<BackupTreeRecord[]>;
  /** Moves the epoch from `expected` to `expected + 1`; false (nothing changed) when it is not `expected`. */
  advanceBackupEpoch(rootInstanceId: number, expected: number): Promise<boolean>;

  getBackupMember(instanceId: number): Promise<BackupMemberRecord | undefined>;
  /** A tree's members, by instance id. */
  listBackupMembers(rootInstanceId: number): Promise<BackupMemberRecord[]>;
  /** Creates or replaces a member's row. */
  putBackupMember(member: BackupMemberRecord): Promise<void>;

  getBackupEndpoint(computeNodeId: string): Promise<BackupEndpointRecord | undefined>;
  /** Creates or replaces a node's endpoint. */
  putBackupEndpoint(endpoint: BackupEndpointRecord): Promise<void>;

  /**
   * Replaces what `computeNodeId` holds of a tree's backups by `backups`, then keeps the tree's
   * newest `keep` rows.
   */
  replaceBackupListing(
    rootInstanceId: number,
    computeNodeId: string,
    backups: readonly { backupId: string; time: number }[],
    keep: number,
  ): Promise<void>;
  /** A tree's listed backups, newest first (then by backup id and node). */
  listBackupListing(rootInstanceId: number): Promise<BackupListingRecord[]>;
}

/**
 * The storage boundary of the master. Services see only these interfaces; the SQLite store
 * (sqlite-store.ts) implements them today and a PostgreSQL store can implement them later.
 * Every use case runs inside one `read` or `write` transaction: writes are serialised, and a use
 * case that throws leaves nothing behind.
 */
import type { InstanceEventKind } from '../../core/instance-events.ts';
import type { RequestedState, SlapState, SoftwareInstallationState } from '../../core/states.ts';
import type { InstanceIdentity } from '../../core/instance-guid.ts';
import type { IdentityRepository } from './identity-repository.ts';
import type { RegularisationRepository } from './regularisation-repository.ts';
import type { UsageRepository } from './usage-repository.ts';
import type { InvoiceRepository } from './invoice-repository.ts';
import type { BackupRepository } from './backup-repository.ts';

export * from './identity-repository.ts';
export * from './regularisation-repository.ts';
export * from './backup-repository.ts';

export interface ComputeNodeRecord {
  reference: string;
  address: string | null;
  netmask: string | null;
}

export interface PartitionRecord {
  computeNodeId: string;
  reference: string;
  slapState: SlapState;
  timestamp: number | null;
}

export interface AddressRecord {
  networkInterface: string;
  address: string;
  netmask: string | null;
}

export interface SoftwareInstallationRecord {
  computeNodeId: string;
  url: string;
  requestedState: SoftwareInstallationState;
  reportedState: string | null;
  /** When the node last reported a state (float seconds), null when it never did. */
  reportedAt: number | null;
  errorMessage: string | null;
}

/** Where an instance lives: its partition, or for a shared instance its host's partition. */
export interface PartitionKey {
  computeNodeId: string;
  partitionId: string;
}

export interface InstanceRecord extends InstanceIdentity {
  id: number;
  softwareRelease: string;
  softwareType: string;
  parameterXml: string;
  sharedParametersJson: string | null;
  slaJson: string;
  requestedState: RequestedState;
  connectionXml: string | null;
  /** Null for a shared instance without host. */
  location: PartitionKey | null;
  hostPosition: number | null;
  reportedState: string | null;
  /** When the node last reported a state (float seconds), null when it never did. */
  reportedAt: number | null;
  errorMessage: string | null;
  /** When the node last reported an error (float seconds), null when it never did. */
  errorAt: number | null;
  bangMessage: string | null;
  /** The timestamp and allocation state of `location`'s partition (null when it has none). */
  partitionTimestamp: number | null;
  partitionSlapState: SlapState | null;
  /** The dependency serial of `location`'s partition (null when it has none). */
  partitionDependencySerial: number | null;
  /** When that serial was last bumped (float seconds; null: never, or no partition). */
  partitionDependencyChangedAt: number | null;
  /** The partition that requested this instance (null: a person's request). */
  requester: PartitionKey | null;
  /** Why a non-shared instance waits without a partition (master mode), null once allocated. */
  allocationMessage: string | null;
}

/** The columns of an instance that use cases write. */
export interface InstanceFields {
  softwareRelease: string;
  softwareType: string;
  parameterXml: string;
  sharedParametersJson: string | null;
  slaJson: string;
  requestedState: RequestedState;
  connectionXml: string | null;
  location: PartitionKey | null;
  hostPosition: number | null;
  reportedState: string | null;
  reportedAt: number | null;
  errorMessage: string | null;
  errorAt: number | null;
  bangMessage: string | null;
  bangAt: number | null;
  title: string;
  requestedBy: string;
  requester: PartitionKey | null;
  allocationMessage: string | null;
}

export interface NewInstance extends InstanceIdentity {
  softwareRelease: string;
  softwareType: string;
  parameterXml: string;
  sharedParametersJson: string | null;
  slaJson: string;
  requestedState: RequestedState;
  location: PartitionKey | null;
  hostPosition: number | null;
  requester?: PartitionKey | null;
  allocationMessage?: string | null;
  now: number;
}

/** What a node pass needs of one compute node (the change stream's snapshot), read in one transaction. */
export interface NodeSnapshotRecords {
  revision: number;
  software: SoftwareInstallationRecord[];
  /** Non-shared instances allocated on the node's busy partitions, in partition order. */
  instances: InstanceRecord[];
  /** Addresses of the node's busy partitions (those of `instances`), in insertion order. */
  addresses: (AddressRecord & { partitionId: string })[];
  /** Shared instances hosted on the node and not destroyed, in host-list order. */
  shared: InstanceRecord[];
}

/** The promise results last reported for an instance (as stored: the list is JSON). */
export interface PromiseResultsRecord {
  resultListJson: string;
  /** Float seconds. */
  reportedAt: number;
}

/** One event of an instance's timeline (core/instance-events.ts). */
export interface InstanceEventRecord {
  kind: InstanceEventKind;
  /** Float seconds. */
  at: number;
  detail: string | null;
}

/** One transition of a promise of an instance. */
export interface PromiseEventRecord {
  /** The promise's title. */
  name: string;
  status: 'pass' | 'fail';
  message: string;
  /** When the master received the report (float seconds). */
  at: number;
}

/** A compact row for node-wide instance lists (the hot read path). */
export interface InstanceSummary {
  id: number;
  title: string;
  requestedBy: string;
  requestedState: RequestedState;
  partitionId: string;
  softwareRelease: string;
}

/** The reports an instance's status is made of (src/core/instance-status.ts), without its messages. */
export interface DeploymentFacts {
  requestedState: RequestedState;
  location: PartitionKey | null;
  allocationMessage: string | null;
  partitionTimestamp: number | null;
  reportedState: string | null;
  reportedAt: number | null;
  errorAt: number | null;
  /** Its software release on its compute node; null when not supplied there (or no node). */
  software: { requestedState: SoftwareInstallationState; reportedState: string | null } | null;
}

/** One of an owner's instance trees as the services list shows it (its root, read in one row). */
export interface InstanceTreeRow {
  title: string;
  shared: boolean;
  /** The root's requested software release, type and state. */
  softwareRelease: string;
  softwareType: string;
  requestedState: RequestedState;
  /** When the root last changed (float seconds). */
  updatedAt: number;
  /** What deploys the root: itself, or for a shared root its host; null for a shared root without one. */
  deployment: DeploymentFacts | null;
  /** Whether the last promise results of an instance of the tree (root or child) hold a failure. */
  promiseFailing: boolean;
}

/** Whose instance holds a node's partition (the panel's node page). */
export interface PartitionInstanceOwner {
  partitionId: string;
  instanceId: number;
  /** The instance's namespace ('' in proxy mode). */
  owner: string;
  title: string;
  requestedBy: string;
}

export interface SharedHostQuery {
  computeNodeId: string;
  softwareRelease: string;
  /** Only when non-empty: the host's software type must be equal. */
  softwareType?: string;
  /** Only this partition (from the `instance_guid` SLA). */
  partitionId?: string;
}

/** When a compute node last called for its pass. */
export interface ComputeNodeContactRecord {
  computeNodeId: string;
  /** Float seconds; null: never. */
  lastContactAt: number | null;
}

/** Who holds a partition during one allocation: what its usage records are attributed to. */
export interface PartitionHolder {
  instanceId: number;
  /** The instance's namespace ('' in proxy mode). */
  owner: string;
  /** The title of the instance's root. */
  instanceTree: string;
}

export interface PartitionAllocationRecord extends PartitionHolder {
  partitionId: string;
  allocatedAt: number;
  /** Null while the holder keeps the partition. */
  releasedAt: number | null;
}

/** One movement of a usage report, as stored (units as reported). */
export interface UsageRecord {
  computeNodeId: string;
  /** '' for a movement of the node itself. */
  partitionId: string;
  /** Null when nobody held the partition during the interval. */
  holder: PartitionHolder | null;
  resource: string;
  title: string | null;
  quantity: number;
  /** The interval, float seconds (start <= stop). */
  start: number;
  stop: number;
  recordedAt: number;
}

/** Whose usage a series is: a node's partitions (summed per interval), or one instance's. */
export type UsageSubject = { computeNodeId: string } | { instanceId: number };

export interface UsagePoint {
  /** The end of the interval (float seconds). */
  stop: number;
  quantity: number;
}

export interface Repository
  extends IdentityRepository, UsageRepository, InvoiceRepository, RegularisationRepository, BackupRepository {
  // compute nodes
  getComputeNode(reference: string): Promise<ComputeNodeRecord | undefined>;
  listComputeNodes(): Promise<ComputeNodeRecord[]>;
  upsertComputeNode(node: ComputeNodeRecord & { now: number }): Promise<void>;
  recordComputeNodeBang(reference: string, bang: { message: string; at: number }): Promise<void>;
  listComputeNodeContacts(): Promise<ComputeNodeContactRecord[]>;
  /** One node's last contact (float seconds); null: never, or no such node. */
  getComputeNodeLastContact(reference: string): Promise<number | null>;
  /** Moves each node's last contact forward to `at` (never back: several masters may record it). */
  recordComputeNodeContacts(contacts: readonly { computeNodeId: string; at: number }[]): Promise<void>;

  // partitions and addresses
  listPartitions(computeNodeId: string): Promise<PartitionRecord[]>;
  /** The first free partition of a node in insertion order. */
  firstFreePartition(computeNodeId: string): Promise<PartitionRecord | undefined>;
  insertPartition(key: PartitionKey): Promise<void>;
  /** Deletes a partition with its addresses and the instances allocated on or hosted by it. */
  deletePartition(key: PartitionKey): Promise<void>;
  setPartitionSlapState(key: PartitionKey, slapState: SlapState): Promise<void>;
  /**
   * Marks a partition busy and sets its timestamp (allocation); bumps the node's revision. The
   * holder's allocation starts at `timestamp` in the partition's history.
   */
  allocatePartition(key: PartitionKey, timestamp: number, holder: PartitionHolder): Promise<void>;
  /** Ends the open allocation of a partition in its history (the partition is freed). */
  endPartitionAllocation(key: PartitionKey, at: number): Promise<void>;
  /** A node's partition history, oldest allocation first. */
  listPartitionAllocations(computeNodeId: string): Promise<PartitionAllocationRecord[]>;
  /** One owner's allocations overlapping [from, to) (allocated before `to`, not released by `from`), oldest first. */
  listOwnerAllocations(query: {
    owner: string;
    from: number;
    to: number;
  }): Promise<(PartitionAllocationRecord & { computeNodeId: string })[]>;
  /** Sets a partition's timestamp (the node's "reprocess" signal); bumps the node's revision. */
  setPartitionTimestamp(key: PartitionKey, timestamp: number): Promise<void>;
  listAddresses(key: PartitionKey): Promise<AddressRecord[]>;
  deleteAddresses(computeNodeId: string): Promise<void>;
  insertAddress(key: PartitionKey, address: AddressRecord): Promise<void>;

  // software installations
  listSoftwareInstallations(computeNodeId: string): Promise<SoftwareInstallationRecord[]>;
  upsertSoftwareInstallation(
    computeNodeId: string,
    url: string,
    state: SoftwareInstallationState,
  ): Promise<void>;
  recordSoftwareInstallationReport(
    computeNodeId: string,
    url: string,
    report: { reportedState?: string; errorMessage?: string; at: number },
  ): Promise<void>;
  deleteSoftwareInstallation(computeNodeId: string, url: string): Promise<void>;

  // instances
  findInstance(identity: InstanceIdentity): Promise<InstanceRecord | undefined>;
  getInstanceById(id: number): Promise<InstanceRecord | undefined>;
  /** The compute node an instance is allocated on (hosted by, for a shared one); undefined: none. */
  instanceComputeNode(id: number): Promise<string | undefined>;
  /** The non-shared instance allocated on a partition. */
  getInstanceOnPartition(key: PartitionKey): Promise<InstanceRecord | undefined>;
  insertInstance(instance: NewInstance): Promise<number>;
  updateInstance(id: number, fields: Partial<InstanceFields> & { now: number }): Promise<void>;
  deleteInstance(id: number): Promise<void>;
  /** Non-shared instances allocated on a node, in partition order. */
  listInstancesOnNode(computeNodeId: string): Promise<InstanceSummary[]>;
  /** Whose the non-shared instances allocated on a node are, in partition order. */
  listPartitionInstanceOwners(computeNodeId: string): Promise<PartitionInstanceOwner[]>;
  /** Non-shared instances of `owner`'s namespace whose root is `rootTitle` (its children). */
  listChildren(owner: string, rootTitle: string): Promise<InstanceRecord[]>;
  markChildrenDestroyed(owner: string, rootTitle: string, now: number): Promise<void>;
  /** Non-shared instances waiting for a partition (master mode), oldest first. */
  listPendingInstances(): Promise<InstanceRecord[]>;
  /** The first partition (insertion order) whose instance can host a shared instance. */
  findSharedHost(query: SharedHostQuery): Promise<InstanceRecord | undefined>;
  /** Shared instances attached to a host partition and not destroyed, in list order. */
  listHostedSharedInstances(host: PartitionKey): Promise<InstanceRecord[]>;
  nextHostPosition(): Promise<number>;
  /** Detaches the shared instances of a host partition (when it is freed). */
  detachSharedInstances(host: PartitionKey, now: number): Promise<void>;
  /**
   * Titles of `owner`'s root instances (non-shared, in partition order, then those waiting for one)
   * and root shared instances.
   */
  listRootTitles(owner: string): Promise<{ instances: string[]; shared: string[] }>;
  /** The status facts of every non-shared instance (a scan: for metrics, not for a hot path). */
  listInstanceStatusFacts(): Promise<DeploymentFacts[]>;
  /**
   * `owner`'s instance trees with what their status is made of (non-shared roots, then the shared
   * roots not destroyed), in a few queries whatever their number.
   */
  listInstanceTreeRows(owner: string): Promise<InstanceTreeRow[]>;

  // promise results (a report: no timestamp or revision bump)
  getPromiseResults(instanceId: number): Promise<PromiseResultsRecord | undefined>;
  /** Replaces the instance's promise results. */
  setPromiseResults(instanceId: number, results: PromiseResultsRecord): Promise<void>;

  // the instance timeline (a report's history: no timestamp or revision bump)
  /** Adds an event to the instance's timeline, dropping the oldest beyond `keep`. */
  appendInstanceEvent(instanceId: number, event: InstanceEventRecord, keep: number): Promise<void>;
  /** The instance's last `limit` events, newest first. */
  listInstanceEvents(instanceId: number, limit: number): Promise<InstanceEventRecord[]>;
  /** Adds promise transitions (in order) to the instance's history, dropping the oldest beyond `keep`. */
  appendPromiseEvents(instanceId: number, events: readonly PromiseEventRecord[], keep: number): Promise<void>;
  /** The instance's promise transitions, newest first. */
  listPromiseEvents(instanceId: number): Promise<PromiseEventRecord[]>;
  // usage records
  /** A node's usage records whose interval ends in [from, to], by interval end then key; at most `limit`. */
  listUsageRecords(
    computeNodeId: string,
    query: { from: number; to: number; limit: number },
  ): Promise<UsageRecord[]>;
  /**
   * The points of one resource with `from <= stop <= to`, oldest first, at most `limit` (the latest
   * ones); a node's are the sums over its partitions per interval end.
   */
  listUsagePoints(
    subject: UsageSubject,
    query: { resource: string; from: number; to: number; limit: number },
  ): Promise<UsagePoint[]>;

  // the change stream (docs/master.md)
  /** The node's revision: 0 until its first change. */
  getNodeRevision(computeNodeId: string): Promise<number>;
  /** Bumps the node's revision in this transaction (watchers are told after the commit). */
  bumpNodeRevision(computeNodeId: string): Promise<void>;
  /** Bumps a partition's dependency serial (its snapshot marker changes) and its node's revision. */
  /** Bumps the partition's dependency serial and records `now` (float seconds) as its time. */
  bumpDependencySerial(key: PartitionKey, now: number): Promise<void>;
  readNodeSnapshot(computeNodeId: string): Promise<NodeSnapshotRecords>;
}

export type TransactionMode = 'read' | 'write';

export interface MemoizedReadOptions {
  /**
   * The result depends only on this compute node's data (and on data attributed to no node,
   * storage/node-scopes.ts): writes to other compute nodes keep it.
   */
  computeNodeId?: string;
  /** The result depends on no compute node's data (users, tokens): only writes of no node change it. */
  nodeless?: boolean;
  /**
   * A result read again after a change and equal (deeply) to the memoized one is answered with the
   * memoized object, so that its encodings are reused.
   */
  keepEqual?: boolean;
}

export interface MasterStore {
  /** Runs `work` in one read transaction. */
  read<T>(work: (repository: Repository) => Promise<T>): Promise<T>;
  /** Runs `work` in one write transaction, serialised with every other transaction. */
  write<T>(work: (repository: Repository) => Promise<T>): Promise<T>;
  /**
   * Like `read`, but returns the result of an earlier call with the same `key` (the same object:
   * callers must not modify it) as long as no write that may change it was committed since. For the
   * hot read paths.
   */
  memoizedRead<T>(
    key: string,
    work: (repository: Repository) => Promise<T>,
    options?: MemoizedReadOptions,
  ): Promise<T>;
  /**
   * Calls `listener` after each commit with the compute nodes whose revision it bumped (possibly a
   * few more: a rolled-back use case's bumps may be included). Returns the unsubscribe function.
   */
  onNodeChanges(listener: (computeNodeIds: ReadonlySet<string>) => void): () => void;
  /**
   * Calls `listener` after each committed write that changed something (this master's, or another
   * master's on a shared PostgreSQL database). Returns the unsubscribe function.
   */
  onCommit(listener: () => void): () => void;
  close(): Promise<void>;
}

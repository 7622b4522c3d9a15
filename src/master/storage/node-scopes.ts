/**
 * Which compute nodes' data a transaction changed, for the memoized reads scoped to a node
 * (memo-versions.ts). `trackNodeScopes` wraps a repository: each write method says which nodes it
 * changes (from its arguments, or by looking the instance up before the change); a method this file
 * does not list as a read or a node-scoped write counts as a change of data attributed to no node, so
 * a new write method is safe (it evicts every memoized read) until it is listed here.
 */
import type { CommitChanges } from './memo-versions.ts';
import type { MemoizedReadOptions, PartitionKey, Repository } from './repository.ts';

/** Accumulates what the writes of the running transaction changed. */
export class NodeScopeTracker {
  private nodes = new Set<string>();
  private unattributed = false;
  private wrote = false;

  touch(computeNodeId: string): void {
    this.nodes.add(computeNodeId);
    this.wrote = true;
  }

  touchUnattributed(): void {
    this.unattributed = true;
    this.wrote = true;
  }

  /** A write of data in no node's reads (an instance waiting for a partition): only unscoped reads change. */
  touchNoNode(): void {
    this.wrote = true;
  }

  /**
   * Whether the writes recorded so far may have changed what a memoized read of this scope depends
   * on: a read made now, behind them in the same transaction, would show uncommitted writes.
   */
  mayHaveChanged(scope: Pick<MemoizedReadOptions, 'computeNodeId' | 'nodeless'>): boolean {
    if (this.unattributed) return true;
    if (scope.computeNodeId !== undefined) return this.nodes.has(scope.computeNodeId);
    return !scope.nodeless && this.wrote;
  }

  /** What was recorded since the last call, and a fresh start. */
  take(): CommitChanges {
    const taken = { nodes: this.nodes, unattributed: this.unattributed, wrote: this.wrote };
    this.nodes = new Set();
    this.unattributed = false;
    this.wrote = false;
    return taken;
  }
}

type Method = keyof Repository;

/** Methods that change nothing. */
const READS: ReadonlySet<Method> = new Set<Method>([
  'getComputeNode',
  'listComputeNodes',
  'listComputeNodeContacts',
  'getComputeNodeLastContact',
  'listInstanceStatusFacts',
  'listPartitions',
  'firstFreePartition',
  'listAddresses',
  'listSoftwareInstallations',
  'findInstance',
  'getInstanceById',
  'instanceComputeNode',
  'getInstanceOnPartition',
  'listInstancesOnNode',
  'listPartitionInstanceOwners',
  'listChildren',
  'listPendingInstances',
  'findSharedHost',
  'listHostedSharedInstances',
  'nextHostPosition',
  'listRootTitles',
  'listInstanceTreeRows',
  'getPromiseResults',
  'listInstanceEvents',
  'listPromiseEvents',
  'getNodeRevision',
  'readNodeSnapshot',
  'getUser',
  'listUsers',
  'findUserByTokenHash',
  'getRegistrationToken',
  'listRegistrationTokens',
  'getCertificate',
  'listCertificates',
  'getComputeNodeAccess',
  'getComputeNodeListing',
  'listComputeNodeAccess',
  'listPartitionAllocations',
  'listOwnerAllocations',
  'listUsagePoints',
  'listUsageRecords',
  'sumUsageCharges',
  'listTreeAllocations',
  'listUsageJournals',
  'listChargedUsageJournals',
  'getPanelSession',
  'listRegularisationStops',
  'listPriceLists',
  'getPriceListEffectiveAt',
  'getInvoice',
  'listInvoices',
  'findInvoiceInPeriods',
  'nextInvoiceSequence',
  'getBackupTree',
  'listResilientBackupTrees',
  'getBackupMember',
  'listBackupMembers',
  'getBackupEndpoint',
  'listBackupListing',
  'listBackupTreesRestoringFrom',
]);

/** The node a write's first argument names: a compute node reference or a partition key. */
const byNode = (node: string): string => node;
const byPartition = (key: PartitionKey): string => key.computeNodeId;

/** Writes whose nodes follow from their arguments. */
const SCOPED: { [M in Method]?: (...args: Parameters<Repository[M]>) => string | undefined } = {
  upsertComputeNode: (node) => node.reference,
  recordComputeNodeBang: byNode,
  insertPartition: byPartition,
  deletePartition: byPartition,
  setPartitionSlapState: byPartition,
  allocatePartition: byPartition,
  setPartitionTimestamp: byPartition,
  deleteAddresses: byNode,
  insertAddress: byPartition,
  upsertSoftwareInstallation: byNode,
  recordSoftwareInstallationReport: byNode,
  deleteSoftwareInstallation: byNode,
  insertInstance: (instance) => instance.location?.computeNodeId,
  detachSharedInstances: byPartition,
  bumpNodeRevision: byNode,
  bumpDependencySerial: byPartition,
  // Promise results are in no node's memoized reads (instance list, snapshot): no lookup of the
  // instance's node on every promise report.
  setPromiseResults: () => undefined,
  // Nor is the timeline.
  appendInstanceEvent: () => undefined,
  appendPromiseEvents: () => undefined,
  // Neither the partition history nor usage (records, journals, intervals, charges) are in any memoized read.
  endPartitionAllocation: () => undefined,
  insertUsageRecords: () => undefined,
  insertUsageJournal: () => undefined,
  insertUsageIntervals: () => undefined,
  insertUsageCharges: () => undefined,
  // Sessions are in no memoized read.
  insertPanelSession: () => undefined,
  deletePanelSession: () => undefined,
  deleteExpiredPanelSessions: () => undefined,
  // Registration tokens are in no node's memoized read (a registrant's authentication is nodeless).
  deleteRegistrationToken: () => undefined,
  // A node's last contact is in no memoized read either: recording it evicts none of its node's.
  recordComputeNodeContacts: () => undefined,
  // Nor are the regularisation's records.
  insertRegularisationStop: () => undefined,
  deleteRegularisationStop: () => undefined,
  // Price lists and invoices are in no memoized read.
  putPriceList: () => undefined,
  insertInvoice: () => undefined,
  setInvoiceState: () => undefined,
  setInvoiceRegularisation: () => undefined,
  // Backups (trees, members, endpoints, listings) are in no memoized read: the node sync reads them
  // in its own transaction; a takeover's partition changes go through the node-scoped writes.
  insertBackupTree: () => undefined,
  setBackupTreeClones: () => undefined,
  setBackupRequestedAt: () => undefined,
  setBackupRestoreRequest: () => undefined,
  setBackupLastRestore: () => undefined,
  advanceBackupEpoch: () => undefined,
  putBackupMember: () => undefined,
  putBackupEndpoint: () => undefined,
  replaceBackupListing: () => undefined,
};

/** Writes of one instance: its node (where it is allocated or hosted) is looked up before the change. */
const BY_INSTANCE: ReadonlySet<Method> = new Set<Method>(['updateInstance', 'deleteInstance']);

/** `repository` whose writes record in `tracker` which nodes they change. */
export function trackNodeScopes(repository: Repository, tracker: NodeScopeTracker): Repository {
  const tracked: Record<string, unknown> = {};
  for (const name of Object.keys(repository) as Method[]) {
    // The repository's methods are closures (kysely-repository.ts): no `this` to keep.
    const method = (repository as unknown as Record<Method, (...args: unknown[]) => Promise<unknown>>)[name];
    if (READS.has(name)) {
      tracked[name] = method;
      continue;
    }
    const scope = SCOPED[name] as ((...args: unknown[]) => string | undefined) | undefined;
    if (scope) {
      tracked[name] = (...args: unknown[]) => {
        const node = scope(...args);
        if (node !== undefined) tracker.touch(node);
        else tracker.touchNoNode();
        return method(...args);
      };
    } else if (BY_INSTANCE.has(name)) {
      tracked[name] = async (id: number, ...rest: unknown[]) => {
        const node = await repository.instanceComputeNode(id);
        if (node !== undefined) tracker.touch(node);
        else tracker.touchNoNode();
        const fields = rest[0] as { location?: PartitionKey | null } | undefined;
        if (name === 'updateInstance' && fields?.location) tracker.touch(fields.location.computeNodeId);
        return method(id, ...rest);
      };
    } else {
      tracked[name] = (...args: unknown[]) => {
        tracker.touchUnattributed();
        return method(...args);
      };
    }
  }
  return tracked as unknown as Repository;
}

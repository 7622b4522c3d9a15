/**
 * What the master client speaks in: the JSON API v0 objects (the canonical shapes; a future legacy XML
 * transport maps its answers to them) and the typed inputs of the client's methods.
 */
import type { ApiPath, ApiRequest, ApiResponse } from '../api/index.ts';
import type { RequestedState, SoftwareInstallationState } from '../core/states.ts';

/**
 * openapi-typescript renders a free-form `type: object` (instance parameters, connection parameters,
 * SLA parameters) as `Record<string, never>`; on the wire it is any JSON object.
 */
export type Open<T> = T extends readonly (infer U)[]
  ? Open<U>[]
  : T extends object
    ? string extends keyof T
      ? [T[string & keyof T]] extends [never]
        ? Record<string, unknown>
        : { [K in keyof T]: Open<T[K]> }
      : { [K in keyof T]: Open<T[K]> }
    : T;

/** The JSON body a path accepts, with free-form objects open. */
export type WireRequest<P extends ApiPath> = Open<ApiRequest<P>>;
/** The JSON body a path answers with, with free-form objects open. */
export type WireResponse<P extends ApiPath> = Open<ApiResponse<P>>;

/**
 * The instance document of the JSON API (`get.v0.software_instance`, `get.v0.compute_partition`,
 * `get.v0.instance_tree`, `post.v0.software_instance`): exactly these 16 keys.
 */
export type Instance = WireResponse<'/slapos.get.v0.software_instance'> & {
  /** Parameter values are strings (or null) for instances, original JSON types for shared instances. */
  parameters: Record<string, unknown>;
  /** Values are strings or null. */
  connection_parameters: Record<string, unknown>;
};

/** Success answer of the action endpoints: `{type: "success", title: "<free text>"}`. */
export type ActionResult = WireResponse<'/slapos.post.v0.software_installation'>;

export type InstanceTreeSummary =
  WireResponse<'/slapos.allDocs.v0.instance_tree_list'>['result_list'][number];
export type ComputeNodeInstance =
  WireResponse<'/slapos.allDocs.v0.compute_node_instance_list'>['result_list'][number];
export type HostedSharedInstance =
  WireResponse<'/slapos.allDocs.v0.instance_node_instance_list'>['result_list'][number];
export type SoftwareInstallation =
  WireResponse<'/slapos.allDocs.v0.compute_node_software_installation_list'>['result_list'][number];
export type ComputeNodeSummary = WireResponse<'/slapos.allDocs.WIP.compute_node_list'>['result_list'][number];
export type ComputeNodeStatus = WireResponse<'/slapos.get.v0.compute_node_status'>;
export type Certificate = WireResponse<'/slapos.get.v0.software_instance_certificate'>;

export interface RequestInstanceInput {
  title: string;
  softwareReleaseUri: string;
  /** Defaults to `default`, as the original client sends. */
  softwareType?: string;
  parameters?: Record<string, unknown>;
  /** A shared ("slave") instance, hosted inside another instance. */
  shared?: boolean;
  /** Requested state; omitted means the master's default (`started`). */
  state?: RequestedState;
  /** SLA / node selection (`computer_guid`, `instance_guid`, `retention_delay`, …). */
  slaParameters?: Record<string, string | number>;
  /**
   * The partition asking, when an instance requests a child (our extension, sent as the
   * `X-SlapOS-Requester-*` headers): the child joins the requester's instance tree.
   */
  requester?: { computerGuid: string; partitionId: string };
}

export interface SupplyInput {
  softwareReleaseUri: string;
  computerGuid: string;
  /** `available` (install, the default) or `destroyed` (remove). */
  state?: SoftwareInstallationState;
}

/** Our extension (slapos-extensions.json): where the main of a resilient tree serves after a takeover. */
export type TakeoverResult = WireResponse<'/slapos.post.ext.instance_takeover'>;
/** Our extension: one backup of an instance tree and the compute nodes holding it. */
export type BackupListEntry = WireResponse<'/slapos.get.ext.instance_backup_list'>['backup_list'][number];
/** Our extension: a tree's last restore (pending or finished), as the master answers it. */
export type RestoreStatus = NonNullable<WireResponse<'/slapos.get.ext.instance_backup_list'>['restore']>;
/**
 * Our extension: a tree's backups, newest first, and its last restore: null when it has none,
 * undefined when the master does not report restores (an older master).
 */
export interface BackupState {
  backups: BackupListEntry[];
  restore: RestoreStatus | null | undefined;
}

/** Our extension (slapos-extensions.json): everything one node pass needs, with the node's revision. */
export type NodeSnapshot = WireResponse<'/slapos.get.ext.compute_node_snapshot'>;
export type NodeSnapshotPartition = NodeSnapshot['compute_partition_list'][number];
export type NodeRevision = WireResponse<'/slapos.watch.ext.compute_node_revision'>;

/** Our extension (slapos-extensions.json): the promise results of an instance, as the master stores them. */
export type PromiseResults = WireResponse<'/slapos.get.ext.software_instance_promise_result'>;
/** One promise's latest result: `{name, status: 'pass' | 'fail', message, date}` (ISO 8601). */
export type PromiseResult = PromiseResults['result_list'][number];

/** Our extension: what the node has made of an instance (deploying, started, failed with its error…). */
export type InstanceStatus = WireResponse<'/slapos.get.ext.software_instance_status'>;
/** Our extension: what lets a user check an invoice (core/invoice-verification.ts reads it). */
export type InvoiceEvidence = WireResponse<'/slapos.get.ext.invoice_evidence'>;
/** Our extension: a compute node's software installations with what the node reported building them. */
export type SoftwareInstallationStatus =
  WireResponse<'/slapos.get.ext.compute_node_software_installation_status'>['result_list'][number];

/** Our extension: an invoice or credit note as the master answers it (amounts as decimal text). */
export type Invoice = WireResponse<'/slapos.get.ext.invoice'>;
/** The filters of `slapos.allDocs.ext.invoice_list`. */
export type InvoiceFilter = WireRequest<'/slapos.allDocs.ext.invoice_list'>;

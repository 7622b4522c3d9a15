/** Tables of the master's database, as Kysely sees them (snake_case, like slapproxy's columns). */
import type { InvoiceKind, InvoiceState } from '../../core/invoice-types.ts';
import type { ColumnType, Generated } from 'kysely';
import type { InstanceEventKind } from '../../core/instance-events.ts';
import type { RequestedState, SlapState, SoftwareInstallationState } from '../../core/states.ts';
import type { AllocationScope, CertificateKind } from './identity-repository.ts';

export interface ComputeNodeTable {
  id: Generated<number>;
  reference: string;
  address: string | null;
  netmask: string | null;
  bang_message: string | null;
  bang_at: number | null;
  created_at: number;
  /** The user who registered the node (master mode); null for proxy mode's nodes. */
  owner: string | null;
  title: string | null;
  allocation_scope: ColumnType<AllocationScope, AllocationScope | undefined, AllocationScope>;
  revoked_at: number | null;
  /** When the node last called for its pass (float seconds), null: never. */
  last_contact_at: number | null;
}

export interface PartitionTable {
  /** Insertion order: "DB order" in slapproxy's rules (allocation takes the first free partition). */
  id: Generated<number>;
  compute_node_reference: string;
  reference: string;
  slap_state: SlapState;
  /** Float seconds; the change signal nodes compare. Kept when the partition is freed. */
  timestamp: number | null;
  /**
   * Bumped when something the partition's instance consumes changed without a timestamp bump (a
   * child's connection parameters): part of the change marker of the node snapshot.
   */
  dependency_serial: Generated<number>;
  /** Float seconds: when dependency_serial was last bumped (null: never). */
  dependency_changed_at: number | null;
}

export interface PartitionAddressTable {
  id: Generated<number>;
  compute_node_reference: string;
  partition_reference: string;
  network_interface: string;
  address: string;
  netmask: string | null;
}

export interface SoftwareInstallationTable {
  id: Generated<number>;
  compute_node_reference: string;
  url: string;
  requested_state: SoftwareInstallationState;
  reported_state: string | null;
  reported_at: number | null;
  error_message: string | null;
  error_at: number | null;
}

export interface InstanceTable {
  id: Generated<number>;
  title: string;
  /** Title of the root of the tree; '' for a root instance. */
  requested_by: string;
  /** 1 for a shared instance, 0 otherwise. */
  shared: number;
  software_release: string;
  software_type: string;
  /** Parameters as parameter XML (canonical: the change test compares it). */
  parameter_xml: string;
  /** Shared instances: the parameters with their original JSON types (Python-number aware JSON). */
  shared_parameters_json: string | null;
  /** The SLA (filter) of the last request, JSON. */
  sla_json: string;
  requested_state: RequestedState;
  connection_xml: string | null;
  /** Allocated partition (non-shared) or host partition (shared); null for a detached shared instance. */
  compute_node_reference: string | null;
  partition_reference: string | null;
  /** Order of a shared instance in its host's list. */
  host_position: number | null;
  reported_state: string | null;
  reported_at: number | null;
  error_message: string | null;
  error_at: number | null;
  bang_message: string | null;
  bang_at: number | null;
  created_at: number;
  updated_at: number;
  /** The partition that requested this instance (null: a person's request). */
  requester_node: string | null;
  requester_partition: string | null;
  /** The user whose namespace the instance is in ('' in proxy mode). */
  owner: Generated<string>;
  /** Why a non-shared instance waits without a partition (master mode), null once allocated. */
  allocation_message: string | null;
}

/** The change stream's revision of each compute node (bumped with every change its node acts on). */
export interface ComputeNodeRevisionTable {
  compute_node_reference: string;
  revision: number;
}

/** The latest promise results a node reported for an instance (one row per instance). */
export interface InstancePromiseResultTable {
  instance_id: number;
  /** The result list as reported: `[{name, status, message, date}]`, JSON. */
  result_list_json: string;
  /** When the master received it (float seconds). */
  reported_at: number;
}

/** What happened to an instance (core/instance-events.ts), one row per change. */
export interface InstanceEventTable {
  id: Generated<number>;
  instance_id: number;
  /** Float seconds. */
  at: number;
  kind: InstanceEventKind;
  detail: string | null;
}

/** A transition of one of an instance's promises (ok → failing, failing → ok, another failure). */
export interface InstancePromiseEventTable {
  id: Generated<number>;
  instance_id: number;
  /** When the master received the report (float seconds). */
  at: number;
  /** The promise's title. */
  name: string;
  status: 'pass' | 'fail';
  message: string;
}

export interface UserTable {
  name: string;
  /** 1 for an administrator, 0 otherwise. */
  admin: number;
  /** 1 for a disabled user (its tokens and certificates refused), 0 otherwise. */
  disabled: ColumnType<number, number | undefined, number>;
  created_at: number;
}

/** A user's API token, as its SHA-256 hex digest. */
export interface UserTokenTable {
  token_hash: string;
  user: string;
  created_at: number;
}

/** A one-time token registering a compute node for its owner, as its SHA-256 hex digest. */
export interface RegistrationTokenTable {
  token_hash: string;
  owner: string;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

/** A certificate the master's CA issued (never its key). */
export interface CertificateTable {
  serial: string;
  kind: CertificateKind;
  /** The user name, `COMP-n` or `SOFTINST-n`. */
  subject: string;
  not_after: number;
  revoked_at: number | null;
  created_at: number;
}

/** A user who may allocate on a compute node of scope 'friend'. */
export interface ComputeNodeFriendTable {
  compute_node_reference: string;
  user: string;
}

/** Who held a partition from `allocated_at` until `released_at` (null: still holds it). */
export interface PartitionAllocationTable {
  id: Generated<number>;
  compute_node_reference: string;
  partition_reference: string;
  instance_id: number;
  /** The namespace of the instance ('' in proxy mode). */
  owner: string;
  /** The title of the instance's root (its tree). */
  instance_tree: string;
  allocated_at: number;
  released_at: number | null;
}

/** One movement of a usage report, attributed to who held the partition then. */
export interface UsageRecordTable {
  id: Generated<number>;
  compute_node_reference: string;
  /** '' for a movement of the node itself. */
  partition_reference: string;
  /** Null when nobody held the partition during the interval (or for the node itself). */
  instance_id: number | null;
  owner: string | null;
  instance_tree: string | null;
  resource: string;
  title: string | null;
  quantity: number;
  start_at: number;
  stop_at: number;
  /** When the master stored it. */
  recorded_at: number;
}

/** A usage report as received (migration 0012). */
export interface UsageJournalTable {
  id: Generated<number>;
  compute_node_reference: string;
  /** SHA-256 (hex) of the document as received. */
  document_hash: string;
  /** The node's chain (core/usage-signature.ts); null when the journal is not signed. */
  sequence: number | string | null;
  previous_hash: string | null;
  /** Base64 signature and the signing certificate (PEM); null when not signed. */
  signature: string | null;
  certificate: string | null;
  document: string;
  received_at: number;
}

/** A partition's reported interval: sent twice, counted once. */
export interface UsageIntervalTable {
  compute_node_reference: string;
  partition_reference: string;
  start_at: number;
  stop_at: number;
  journal_id: number;
}

/** A billed piece of a movement: one holder, one period (YYYYMM), millionths of the priced unit. */
export interface UsageChargeTable {
  id: Generated<number>;
  journal_id: number | null;
  period: number;
  owner: string;
  instance_tree: string;
  instance_id: number;
  compute_node_reference: string;
  partition_reference: string;
  resource: string;
  start_at: number;
  stop_at: number;
  /** PostgreSQL's bigint arrives as text. */
  quantity_micro: number | string;
}

export interface PriceListTable {
  id: Generated<number>;
  /** YYYY-MM-DD (UTC). */
  effective: string;
  currency: string;
  /** The price list as loaded (JSON, normalised). */
  document: string;
  loaded_at: number;
}

export interface InvoiceTable {
  id: Generated<number>;
  /** INV-YYYYMM-NNNNNN or CN-YYYYMM-NNNNNN. */
  reference: string;
  kind: InvoiceKind;
  user: string;
  /** YYYY-MM. */
  period: string;
  currency: string;
  /** JSON array of InvoiceLine (decimal text amounts). */
  lines: string;
  /** Decimal text, rounded to cents. */
  total: string;
  /** SHA-256 of what the invoice bills (currency and lines): generating again compares it. */
  content_hash: string;
  state: InvoiceState;
  /** A credit note: the invoice it cancels; a corrected invoice: the invoice it replaces. */
  corrects: string | null;
  issued_at: number;
  paid_at: number | null;
  /** What the regularisation policy did for this unpaid invoice: null, 'stopped' or 'destroyed'. */
  regularisation: string | null;
}

/** An instance tree the regularisation policy stopped (migration 0015): paying restarts it. */
export interface RegularisationStopTable {
  owner: string;
  instance_tree: string;
  /** The unpaid invoice (reference) that made the policy stop it. */
  invoice: string;
  stopped_at: number;
}

/** An instance tree with backups (migration 0017, storage/backup-repository.ts). */
export interface BackupTreeTable {
  root_instance_id: number;
  password: string;
  clones: number;
  epoch: number;
  backup_requested_at: number | null;
  restore_request_json: string | null;
  /** Migration 0018. */
  restore_source_root_id: number | null;
  last_restore_json: string | null;
  created_at: number;
}

/** A member instance of a tree with backups: its role and what its node reported. */
export interface BackupMemberTable {
  instance_id: number;
  root_instance_id: number;
  role: string;
  restored_backup_id: string | null;
  restored_at: number | null;
  last_backup_id: string | null;
  last_backup_at: number | null;
  fenced_at: number | null;
  updated_at: number;
}

/** A node's backup repository server. */
export interface BackupEndpointTable {
  compute_node_reference: string;
  url: string;
  certificate: string;
  updated_at: number;
}

/** A backup a node reports holding for a tree. */
export interface BackupListingTable {
  root_instance_id: number;
  backup_id: string;
  time: number;
  compute_node_reference: string;
}

/** A signed-in panel session; the secret session id is stored as its SHA-256 digest only. */
export interface PanelSessionTable {
  session_hash: string;
  /** The signed-in user (master mode); '' for proxy mode's local caller. */
  user: string;
  created_at: number;
  expires_at: number;
}

export interface MasterDatabase {
  compute_node: ComputeNodeTable;
  partition: PartitionTable;
  partition_address: PartitionAddressTable;
  software_installation: SoftwareInstallationTable;
  instance: InstanceTable;
  compute_node_revision: ComputeNodeRevisionTable;
  instance_promise_result: InstancePromiseResultTable;
  instance_event: InstanceEventTable;
  instance_promise_event: InstancePromiseEventTable;
  user: UserTable;
  user_token: UserTokenTable;
  registration_token: RegistrationTokenTable;
  certificate: CertificateTable;
  compute_node_friend: ComputeNodeFriendTable;
  partition_allocation: PartitionAllocationTable;
  usage_record: UsageRecordTable;
  panel_session: PanelSessionTable;
  usage_journal: UsageJournalTable;
  usage_interval: UsageIntervalTable;
  usage_charge: UsageChargeTable;
  price_list: PriceListTable;
  invoice: InvoiceTable;
  regularisation_stop: RegularisationStopTable;
  backup_tree: BackupTreeTable;
  backup_member: BackupMemberTable;
  backup_endpoint: BackupEndpointTable;
  backup_listing: BackupListingTable;
}

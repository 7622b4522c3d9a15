/**
 * Rows of the master's tables as the Kysely repository reads and writes them, and their
 * conversion to and from the repository's records (repository.ts).
 */
import { sql, type Kysely } from '../../lib/kysely.ts';
import type { SlapState, SoftwareInstallationState } from '../../core/states.ts';
import type {
  InstanceFields,
  InstanceRecord,
  PartitionRecord,
  SoftwareInstallationRecord,
} from './repository.ts';
import type { InstanceTable, MasterDatabase } from './schema.ts';

export type InstanceRow = Omit<InstanceTable, 'id' | 'owner'> & {
  id: number;
  owner: string;
  partition_timestamp: number | null;
  partition_slap_state: SlapState | null;
  partition_dependency_serial: number | null;
  partition_dependency_changed_at: number | null;
};

export function toInstance(row: InstanceRow): InstanceRecord {
  return {
    id: row.id,
    title: row.title,
    requestedBy: row.requested_by,
    shared: row.shared === 1,
    softwareRelease: row.software_release,
    softwareType: row.software_type,
    parameterXml: row.parameter_xml,
    sharedParametersJson: row.shared_parameters_json,
    slaJson: row.sla_json,
    requestedState: row.requested_state,
    connectionXml: row.connection_xml,
    location:
      row.compute_node_reference === null || row.partition_reference === null
        ? null
        : { computeNodeId: row.compute_node_reference, partitionId: row.partition_reference },
    hostPosition: row.host_position,
    reportedState: row.reported_state,
    reportedAt: row.reported_at,
    errorMessage: row.error_message,
    errorAt: row.error_at,
    bangMessage: row.bang_message,
    partitionTimestamp: row.partition_timestamp,
    partitionSlapState: row.partition_slap_state,
    partitionDependencySerial: row.partition_dependency_serial,
    partitionDependencyChangedAt: row.partition_dependency_changed_at,
    requester:
      row.requester_node === null || row.requester_partition === null
        ? null
        : { computeNodeId: row.requester_node, partitionId: row.requester_partition },
    owner: row.owner,
    allocationMessage: row.allocation_message,
  };
}

const INSTANCE_COLUMNS: Record<keyof InstanceFields, readonly (keyof InstanceTable)[]> = {
  title: ['title'],
  requestedBy: ['requested_by'],
  softwareRelease: ['software_release'],
  softwareType: ['software_type'],
  parameterXml: ['parameter_xml'],
  sharedParametersJson: ['shared_parameters_json'],
  slaJson: ['sla_json'],
  requestedState: ['requested_state'],
  connectionXml: ['connection_xml'],
  location: ['compute_node_reference', 'partition_reference'],
  hostPosition: ['host_position'],
  reportedState: ['reported_state'],
  reportedAt: ['reported_at'],
  errorMessage: ['error_message'],
  errorAt: ['error_at'],
  bangMessage: ['bang_message'],
  bangAt: ['bang_at'],
  requester: ['requester_node', 'requester_partition'],
  allocationMessage: ['allocation_message'],
};

export function instanceColumnValues(
  fields: Partial<InstanceFields> & { now: number },
): Record<string, unknown> {
  const values: Record<string, unknown> = { updated_at: fields.now };
  for (const key of Object.keys(INSTANCE_COLUMNS) as (keyof InstanceFields)[]) {
    if (!(key in fields)) continue;
    if (key === 'location') {
      values.compute_node_reference = fields.location?.computeNodeId ?? null;
      values.partition_reference = fields.location?.partitionId ?? null;
    } else if (key === 'requester') {
      values.requester_node = fields.requester?.computeNodeId ?? null;
      values.requester_partition = fields.requester?.partitionId ?? null;
    } else {
      values[INSTANCE_COLUMNS[key][0] ?? key] = fields[key] ?? null;
    }
  }
  return values;
}

/**
 * `LIMIT 1` written in the SQL: with a bound `LIMIT ?` (Kysely's default) SQLite runs these
 * index searches several times slower (tens of microseconds instead of one or two).
 */
export const ONE = sql.lit(1);

export function selectInstances(db: Kysely<MasterDatabase>) {
  return db
    .selectFrom('instance as i')
    .leftJoin('partition as p', (join) =>
      join
        .onRef('p.compute_node_reference', '=', 'i.compute_node_reference')
        .onRef('p.reference', '=', 'i.partition_reference'),
    )
    .selectAll('i')
    .select([
      'p.timestamp as partition_timestamp',
      'p.slap_state as partition_slap_state',
      'p.dependency_serial as partition_dependency_serial',
      'p.dependency_changed_at as partition_dependency_changed_at',
    ]);
}

export type PartitionRow = {
  compute_node_reference: string;
  reference: string;
  slap_state: SlapState;
  timestamp: number | null;
};

export function selectPartitions(db: Kysely<MasterDatabase>) {
  return db
    .selectFrom('partition')
    .select(['compute_node_reference', 'reference', 'slap_state', 'timestamp']);
}

export function toPartition(row: PartitionRow): PartitionRecord {
  return {
    computeNodeId: row.compute_node_reference,
    reference: row.reference,
    slapState: row.slap_state,
    timestamp: row.timestamp,
  };
}

export type SoftwareInstallationRow = {
  compute_node_reference: string;
  url: string;
  requested_state: SoftwareInstallationState;
  reported_state: string | null;
  reported_at: number | null;
  error_message: string | null;
};

export function selectSoftwareInstallations(db: Kysely<MasterDatabase>) {
  return db
    .selectFrom('software_installation')
    .select([
      'compute_node_reference',
      'url',
      'requested_state',
      'reported_state',
      'reported_at',
      'error_message',
    ]);
}

export function toSoftwareInstallation(row: SoftwareInstallationRow): SoftwareInstallationRecord {
  return {
    computeNodeId: row.compute_node_reference,
    url: row.url,
    requestedState: row.requested_state,
    reportedState: row.reported_state,
    reportedAt: row.reported_at,
    errorMessage: row.error_message,
  };
}

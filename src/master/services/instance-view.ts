/**
 * The instance as the API shows it (docs/protocol.md §2.3 and its variants A–E). Services build
 * these views; the transport turns them into wire documents.
 */
import { decodeParameterXml } from '../../core/parameter-xml.ts';
import { parsePythonJson } from '../../core/python-value.ts';
import type { RequestedState } from '../../core/states.ts';
import type { InstanceRecord, PartitionKey, Repository } from '../storage/repository.ts';
import type { InstanceNaming } from './instance-naming.ts';

export interface InstanceView {
  /** The instance's name on the wire (instance-naming.ts). */
  instanceGuid: string;
  title: string;
  requestedBy: string;
  shared: boolean;
  softwareRelease: string;
  softwareType: string;
  state: RequestedState;
  connectionParameters: Record<string, unknown>;
  /** The connection parameters as stored (parameter XML), null when none were ever published. */
  connectionXml?: string | null;
  parameters: Record<string, unknown>;
  /** `[network interface, address]` pairs. */
  ipList: [string, string][];
  computeNodeId: string;
  partitionId: string;
  /** Float seconds, or null (the API then shows 0). */
  timestamp: number | null;
  /** Set on the fake answer of a frontend bypass (frontend-bypass.ts): nothing is stored. */
  frontendBypass?: true;
}

/** The keys slapproxy adds to a shared instance's entry in its host's list (and strips again). */
const SHARED_ENTRY_KEYS = new Set(['slave_title', 'slap_software_type', 'slave_reference']);

/** A shared instance's parameters with their original JSON types. */
export function sharedParametersOf(record: InstanceRecord): Record<string, unknown> {
  const parsed = record.sharedParametersJson === null ? {} : parsePythonJson(record.sharedParametersJson);
  const parameters: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!SHARED_ENTRY_KEYS.has(key)) parameters[key] = value;
  }
  return parameters;
}

export async function ipListOf(repository: Repository, key: PartitionKey): Promise<[string, string][]> {
  const addresses = await repository.listAddresses(key);
  return addresses.map((address) => [address.networkInterface, address.address]);
}

/** Variant A: a non-shared instance as stored (parameters as strings). */
export async function instanceView(
  repository: Repository,
  record: InstanceRecord,
  naming: InstanceNaming,
): Promise<InstanceView> {
  const location = record.location ?? { computeNodeId: '', partitionId: '' };
  return {
    instanceGuid: naming.guidOf(record),
    title: record.title,
    requestedBy: record.requestedBy,
    shared: false,
    softwareRelease: record.softwareRelease,
    softwareType: record.softwareType,
    state: record.requestedState,
    connectionParameters: decodeParameterXml(record.connectionXml),
    connectionXml: record.connectionXml,
    parameters: decodeParameterXml(record.parameterXml),
    ipList: record.location ? await ipListOf(repository, record.location) : [],
    computeNodeId: location.computeNodeId,
    partitionId: location.partitionId,
    timestamp: record.partitionTimestamp,
  };
}

/** Variant B: a shared instance as stored, seen through its host (original parameter types). */
export function sharedInstanceView(
  shared: InstanceRecord,
  host: InstanceRecord,
  naming: InstanceNaming,
): InstanceView {
  const location = host.location ?? { computeNodeId: '', partitionId: '' };
  return {
    instanceGuid: naming.guidOf(shared),
    title: shared.title,
    requestedBy: shared.requestedBy,
    shared: true,
    softwareRelease: host.softwareRelease,
    softwareType: host.softwareType,
    state: 'started',
    connectionParameters: decodeParameterXml(shared.connectionXml),
    connectionXml: shared.connectionXml,
    parameters: sharedParametersOf(shared),
    ipList: [],
    computeNodeId: location.computeNodeId,
    partitionId: location.partitionId,
    timestamp: host.partitionTimestamp,
  };
}

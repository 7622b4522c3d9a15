/**
 * The legacy SLAP protocol's objects (docs/protocol.md §3.4) read into the JSON API shapes the
 * callers use (types.ts), and JSON values written as marshalled values. Every answer is checked on
 * the way: a field of the wrong type is a SLAP_ERR_UNAVAILABLE naming it, never a crash further on.
 */
import { SlapError } from '../../core/errors.ts';
import { PyNumber } from '../../core/python-value.ts';
import {
  isRequestedState,
  SOFTWARE_INSTALLATION_STATES,
  type RequestedState,
  type SoftwareInstallationState,
} from '../../core/states.ts';
import { PyObject, PyTuple, type MarshalDict, type MarshalValue } from '../../core/xml-marshaller.ts';
import type { Instance } from '../types.ts';

/** An answer that does not follow the legacy API. */
export function badAnswer(what: string, masterUrl: string): SlapError {
  return new SlapError(
    'SLAP_ERR_UNAVAILABLE',
    `the master at ${masterUrl} answered with ${what}, which does not follow the legacy SLAP API`,
    { details: { masterUrl }, hint: `check that ${masterUrl} is the URL of a SlapOS master` },
  );
}

// --- JSON ⇄ marshal ---

/**
 * A marshalled value as JSON: tuples become arrays, numbers JSON numbers (a float that JSON cannot
 * carry, such as inf, its Python text). Objects are refused (`what` names the place).
 */
export function jsonOfMarshal(value: MarshalValue, what: () => string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (value instanceof PyNumber) return Number.isFinite(value.value) ? value.value : value.source;
  if (Array.isArray(value)) return value.map((item) => jsonOfMarshal(item, what));
  if (value instanceof PyTuple) return value.items.map((item) => jsonOfMarshal(item, what));
  if (value instanceof PyObject) throw new Error(`an object where ${what()} holds values`);
  const result: Record<string, unknown> = {};
  // Defined, not assigned: a `__proto__` key from the master stays data, never the prototype.
  for (const [key, item] of Object.entries(value))
    Object.defineProperty(result, key, {
      value: jsonOfMarshal(item, what),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return result;
}

// --- reading answers ---

/** Reads one answer's values, each failure naming the field and the master. */
export class AnswerReader {
  constructor(
    readonly masterUrl: string,
    readonly what: string,
  ) {}

  fail(detail: string): SlapError {
    return badAnswer(`${this.what} where ${detail}`, this.masterUrl);
  }

  object(value: MarshalValue | undefined, field: string, ...classes: string[]): PyObject {
    if (value instanceof PyObject && (classes.length === 0 || classes.includes(value.className)))
      return value;
    throw this.fail(`${field} is not a ${classes.join(' or ') || 'SlapOS object'}`);
  }

  dict(value: MarshalValue | undefined, field: string): MarshalDict {
    if (isDict(value)) return value;
    throw this.fail(`${field} is not a dictionary`);
  }

  list(value: MarshalValue | undefined, field: string): MarshalValue[] {
    if (Array.isArray(value)) return value;
    if (value instanceof PyTuple) return [...value.items];
    throw this.fail(`${field} is not a list`);
  }

  string(value: MarshalValue | undefined, field: string): string {
    if (typeof value === 'string') return value;
    throw this.fail(`${field} is not a string`);
  }

  optionalString(value: MarshalValue | undefined, field: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    return this.string(value, field);
  }

  /** Parameter values (strings, or null), other types as Python prints them not expected: refused. */
  stringDict(value: MarshalValue | undefined, field: string): Record<string, string | null> {
    if (value === undefined || value === null) return {};
    const result: Record<string, string | null> = {};
    for (const [key, item] of Object.entries(this.dict(value, field))) {
      if (item !== null && typeof item !== 'string') throw this.fail(`${field}.${key} is not a string`);
      result[key] = item;
    }
    return result;
  }

  /** `[(interface, address), …]` as `[[interface, address], …]`. */
  addresses(value: MarshalValue | undefined, field: string): string[][] {
    if (value === undefined || value === null) return [];
    return this.list(value, field).map((item, index) =>
      this.list(item, `${field}[${index}]`).map((part, at) => this.string(part, `${field}[${index}][${at}]`)),
    );
  }

  json(value: MarshalValue, field: string): unknown {
    try {
      return jsonOfMarshal(value, () => field);
    } catch (error) {
      throw this.fail((error as Error).message);
    }
  }

  requestedState(value: MarshalValue | undefined, field: string): RequestedState {
    if (isRequestedState(value)) return value;
    throw this.fail(`${field} is not started, stopped or destroyed`);
  }
}

function isDict(value: MarshalValue | undefined): value is MarshalDict {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof PyNumber) &&
    !(value instanceof PyTuple) &&
    !(value instanceof PyObject)
  );
}

/** The keys the legacy API adds to a partition's `_parameter_dict` (protocol.md §3.4.3), not parameters. */
const PARTITION_KEYS = new Set([
  'ip_list',
  'full_ip_list',
  'full_address_list',
  'slap_software_type',
  'instance_title',
  'root_instance_title',
  'slap_computer_id',
  'slap_computer_partition_id',
  'slap_software_release_url',
  'slave_instance_list',
  'timestamp',
]);

/** A shared instance a partition hosts (an entry of its `slave_instance_list`). */
export interface LegacySharedInstance {
  title: string;
  reference: string;
  softwareType: string;
  parameters: Record<string, unknown>;
}

/** A ComputerPartition of getFullComputerInformation or registerComputerPartition. */
export interface LegacyPartition {
  computerGuid: string;
  partitionId: string;
  instanceGuid: string;
  requestedState: RequestedState;
  /** Undefined: a free partition. */
  softwareReleaseUri: string | undefined;
  softwareType: string;
  title: string;
  rootTitle: string;
  parameters: Record<string, string | null>;
  connectionParameters: Record<string, string | null>;
  slaParameters: Record<string, unknown>;
  ipList: string[][];
  fullIpList: string[][];
  /** `str(float)` as the master sent it; '' when there is none. */
  timestamp: string;
  accessStatus: string;
  sharedInstances: LegacySharedInstance[];
}

const SHARED_KEYS = new Set(['slave_title', 'slave_reference', 'slap_software_type']);

export function readPartition(
  reader: AnswerReader,
  value: MarshalValue | undefined,
  field: string,
): LegacyPartition {
  const attributes = reader.object(value, field, 'ComputerPartition').attributes;
  const at = (name: string): string => `${field}.${name}`;
  const computerGuid = reader.string(attributes._computer_id, at('_computer_id'));
  const partitionId = reader.string(attributes._partition_id, at('_partition_id'));
  const document = attributes._software_release_document;
  const softwareReleaseUri =
    document === undefined || document === null
      ? undefined
      : typeof document === 'string'
        ? document
        : reader.string(
            reader.object(document, at('_software_release_document'), 'SoftwareRelease').attributes
              ._software_release,
            at('_software_release_document._software_release'),
          );
  const raw = attributes._parameter_dict;
  const dict = raw === undefined || raw === null ? {} : reader.dict(raw, at('_parameter_dict'));
  const parameters: Record<string, string | null> = {};
  for (const [key, item] of Object.entries(dict)) {
    if (PARTITION_KEYS.has(key)) continue;
    parameters[key] = item === null || typeof item === 'string' ? item : String(reader.json(item, at(key)));
  }
  const sharedInstances = reader
    .list(dict.slave_instance_list ?? [], at('_parameter_dict.slave_instance_list'))
    .map((entry, index) => {
      const where = at(`_parameter_dict.slave_instance_list[${index}]`);
      const shared = reader.dict(entry, where);
      const sharedParameters: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(shared))
        if (!SHARED_KEYS.has(key)) sharedParameters[key] = reader.json(item, `${where}.${key}`);
      const reference = reader.string(shared.slave_reference, `${where}.slave_reference`);
      return {
        title: reader.optionalString(shared.slave_title, `${where}.slave_title`) ?? reference,
        reference,
        softwareType: reader.optionalString(shared.slap_software_type, `${where}.slap_software_type`) ?? '',
        parameters: sharedParameters,
      };
    });
  const title = reader.optionalString(dict.instance_title, at('instance_title')) ?? '';
  const filter = attributes._filter_dict;
  return {
    computerGuid,
    partitionId,
    instanceGuid:
      reader.optionalString(attributes._instance_guid, at('_instance_guid')) ??
      `${computerGuid}-${partitionId}`,
    requestedState: reader.requestedState(attributes._requested_state ?? 'destroyed', at('_requested_state')),
    softwareReleaseUri,
    softwareType: reader.optionalString(dict.slap_software_type, at('slap_software_type')) ?? '',
    title,
    rootTitle: reader.optionalString(dict.root_instance_title, at('root_instance_title')) ?? title,
    parameters,
    connectionParameters: reader.stringDict(attributes._connection_dict, at('_connection_dict')),
    slaParameters:
      filter === undefined || filter === null
        ? {}
        : (reader.json(reader.dict(filter, at('_filter_dict')), at('_filter_dict')) as Record<
            string,
            unknown
          >),
    ipList: reader.addresses(dict.ip_list, at('ip_list')),
    fullIpList: reader.addresses(dict.full_ip_list, at('full_ip_list')),
    timestamp: timestampText(dict.timestamp),
    accessStatus: reader.optionalString(attributes._access_status, at('_access_status')) ?? '',
    sharedInstances,
  };
}

function timestampText(value: MarshalValue | undefined): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value instanceof PyNumber) return value.source;
  return '';
}

/** Whole seconds of a `str(float)` timestamp (0 when there is none). */
export function processingTimestamp(timestamp: string): number {
  const seconds = Math.trunc(Number(timestamp));
  return Number.isSafeInteger(seconds) && seconds >= 0 ? seconds : 0;
}

/** The JSON API instance document of a busy partition. */
export function instanceOfPartition(partition: LegacyPartition): Instance {
  return {
    computer_guid: partition.computerGuid,
    compute_partition_id: partition.partitionId,
    instance_guid: partition.instanceGuid,
    title: partition.title,
    root_instance_title: partition.rootTitle,
    state: partition.requestedState,
    software_release_uri: partition.softwareReleaseUri ?? '',
    software_type: partition.softwareType,
    shared: false,
    processing_timestamp: processingTimestamp(partition.timestamp),
    access_status_message: partition.accessStatus,
    parameters: partition.parameters,
    sla_parameters: partition.slaParameters,
    connection_parameters: partition.connectionParameters,
    ip_list: partition.ipList,
    full_ip_list: partition.fullIpList,
  };
}

/** A Computer of getFullComputerInformation. */
export interface LegacyComputer {
  computerGuid: string;
  partitions: LegacyPartition[];
  software: { url: string; state: SoftwareInstallationState }[];
}

export function readComputer(reader: AnswerReader, value: MarshalValue): LegacyComputer {
  const attributes = reader.object(value, 'the answer', 'Computer').attributes;
  const partitions = reader
    .list(attributes._computer_partition_list ?? [], '_computer_partition_list')
    .map((item, index) => readPartition(reader, item, `_computer_partition_list[${index}]`));
  const software = reader
    .list(attributes._software_release_list ?? [], '_software_release_list')
    .map((item, index) => {
      const field = `_software_release_list[${index}]`;
      const release = reader.object(item, field, 'SoftwareRelease').attributes;
      const state = release._requested_state ?? 'available';
      if (!(SOFTWARE_INSTALLATION_STATES as readonly unknown[]).includes(state))
        throw reader.fail(`${field}._requested_state is not available or destroyed`);
      return {
        url: reader.string(release._software_release, `${field}._software_release`),
        state: state as SoftwareInstallationState,
      };
    });
  return {
    computerGuid: reader.string(attributes._computer_id, '_computer_id'),
    partitions,
    software,
  };
}

/** A busy partition holds an instance (any requested state); a free one is destroyed without a release. */
export function isBusy(partition: LegacyPartition): boolean {
  return partition.softwareReleaseUri !== undefined;
}

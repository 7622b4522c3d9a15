/**
 * How instances are named on the wire (`instance_guid`). Proxy mode keeps slapproxy's
 * `<title>___<root title>___<0|1>` (one namespace, no owner); master mode, where each user has a
 * namespace of their own, names an instance `SOFTINST-<n>` as SlapOS's master does: the name does
 * not change when the instance is renamed and says nothing about its owner.
 */
import {
  formatInstanceGuid,
  parseInstanceGuid,
  parseSharedReference,
  sharedReference,
} from '../../core/instance-guid.ts';
import { SlapError } from '../../core/errors.ts';
import type { InstanceRecord, PartitionKey, Repository } from '../storage/repository.ts';

export interface InstanceNaming {
  guidOf(record: Pick<InstanceRecord, 'id' | 'title' | 'requestedBy' | 'shared'>): string;
  /** The instance a guid names, if any; a malformed guid is refused (SLAP_ERR_INSTANCE_GUID_INVALID). */
  find(repository: Repository, guid: string): Promise<InstanceRecord | undefined>;
  /** Whether a guid names a shared instance as far as the name tells (for the not-found answer). */
  namesShared(guid: string): boolean;
  /** Checks the form of a guid without reading anything (throws when malformed). */
  check(guid: string): void;
  /**
   * The legacy API's `_instance_guid` of a partition holding the instance named `instanceGuid` (its
   * `guidOf`), or free (without one): slapproxy names the partition (`<computer>-<partition>`),
   * SlapOS's master the instance.
   */
  legacyGuidOf(location: PartitionKey, instanceGuid?: string): string;
  /** The legacy API's `slave_reference` of a shared instance (its entry in its host's list). */
  slaveReferenceOf(record: Pick<InstanceRecord, 'id' | 'title' | 'requestedBy' | 'shared'>): string;
  /** The guid of the shared instance a legacy `slave_reference` names (undefined if it names none). */
  sharedGuidOfReference(reference: string): string | undefined;
}

export const proxyNaming: InstanceNaming = {
  guidOf: (record) => formatInstanceGuid(record),
  find: (repository, guid) => repository.findInstance(parseInstanceGuid(guid)),
  namesShared: (guid) => {
    try {
      return parseInstanceGuid(guid).shared;
    } catch {
      return false;
    }
  },
  check: (guid) => void parseInstanceGuid(guid),
  legacyGuidOf: (location) => `${location.computeNodeId}-${location.partitionId}`,
  slaveReferenceOf: (record) => sharedReference(record),
  sharedGuidOfReference: (reference) => {
    const identity = parseSharedReference(reference);
    return identity && formatInstanceGuid({ ...identity, shared: true });
  },
};

const MASTER_GUID = /^SOFTINST-([1-9][0-9]{0,14})$/;

function masterId(guid: string): number {
  const match = MASTER_GUID.exec(guid);
  if (!match?.[1])
    throw new SlapError('SLAP_ERR_INSTANCE_GUID_INVALID', `instance_guid ${guid} not handled.`);
  return Number(match[1]);
}

export const masterNaming: InstanceNaming = {
  guidOf: (record) => `SOFTINST-${record.id}`,
  find: (repository, guid) => repository.getInstanceById(masterId(guid)),
  namesShared: () => false,
  check: (guid) => void masterId(guid),
  legacyGuidOf: (location, instanceGuid) =>
    instanceGuid ?? `${location.computeNodeId}-${location.partitionId}`,
  slaveReferenceOf: (record) => `SOFTINST-${record.id}`,
  sharedGuidOfReference: (reference) => (MASTER_GUID.test(reference) ? reference : undefined),
};

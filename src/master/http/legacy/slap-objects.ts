/**
 * Service results as the objects of `slapos.slap.slap` the legacy API sends (docs/protocol.md §3.4):
 * Computer, ComputerPartition, SoftwareRelease and SoftwareInstance, with the constructor tuples
 * the Python client rebuilds them with and slapproxy's attribute names. Pure: no I/O, no encoding.
 */
import { legacyTimestampString, timestampString } from '../../../core/change-marker.ts';
import {
  marshalOfJson,
  PyObject,
  PyTuple,
  SLAP_MODULE,
  type MarshalDict,
  type MarshalValue,
  type SlapClassName,
} from '../../../core/xml-marshaller.ts';
import type { InstanceView, NodeSnapshot, PartitionSnapshot } from '../../services/index.ts';
import type { InstanceNaming } from '../../services/instance-naming.ts';

function slapObject(className: SlapClassName, args: MarshalValue[], attributes: MarshalDict): PyObject {
  return new PyObject(SLAP_MODULE, className, args, attributes);
}

function marshalDictOf(record: Readonly<Record<string, unknown>>): MarshalDict {
  return marshalOfJson(record) as MarshalDict;
}

function ipTuples(ipList: readonly (readonly [string, string])[]): PyTuple[] {
  return ipList.map(([networkInterface, address]) => new PyTuple([networkInterface, address]));
}

/** A software release; `requestedState` only in a computer's `_software_release_list`. */
export function softwareReleaseObject(url: string, computeNodeId: string, requestedState?: string): PyObject {
  const attributes: MarshalDict = {
    _software_release: url,
    _computer_guid: computeNodeId,
    _software_instance_list: [],
  };
  if (requestedState !== undefined) attributes._requested_state = requestedState;
  return slapObject('SoftwareRelease', [url, computeNodeId], attributes);
}

/** A partition holding no instance: "destroyed", nothing to deploy. */
function freePartitionObject(computeNodeId: string, partitionId: string, naming: InstanceNaming): PyObject {
  return slapObject('ComputerPartition', [computeNodeId, partitionId, null], {
    _computer_id: computeNodeId,
    _partition_id: partitionId,
    _request_dict: null,
    _instance_guid: naming.legacyGuidOf({ computeNodeId, partitionId }),
    _requested_state: 'destroyed',
    _need_modification: 0,
    _software_release_document: null,
  });
}

/** A partition holding an instance, with everything its node deploys it from. */
function busyPartitionObject(
  computeNodeId: string,
  partition: PartitionSnapshot,
  naming: InstanceNaming,
): PyObject {
  const { partitionId } = partition;
  const parameters: MarshalDict = marshalDictOf(partition.parameters);
  parameters.ip_list = ipTuples(partition.ipList);
  parameters.full_address_list = [];
  parameters.slap_software_type = partition.softwareType;
  parameters.instance_title = partition.title;
  parameters.root_instance_title = partition.rootTitle;
  parameters.slap_computer_id = computeNodeId;
  parameters.slap_computer_partition_id = partitionId;
  parameters.slap_software_release_url = partition.softwareRelease;
  parameters.slave_instance_list = partition.sharedInstances.map((shared) => {
    const entry: MarshalDict = {
      slave_title: shared.slaveReference,
      slap_software_type: shared.softwareType,
      slave_reference: shared.slaveReference,
    };
    for (const key of Object.keys(shared.parameters)) entry[key] = marshalOfJson(shared.parameters[key]);
    return entry;
  });
  const timestamp = legacyTimestampString(partition.timestamp, partition.dependencyChangedAt);
  if (timestamp !== '') parameters.timestamp = timestamp;
  const attributes: MarshalDict = {
    _computer_id: computeNodeId,
    _partition_id: partitionId,
    _request_dict: null,
    _instance_guid: naming.legacyGuidOf({ computeNodeId, partitionId }, partition.instanceGuid),
    _requested_state: partition.state,
    _need_modification: 1,
    _software_release_document: softwareReleaseObject(partition.softwareRelease, computeNodeId),
    _connection_dict: marshalDictOf(partition.connectionParameters),
    _parameter_dict: parameters,
  };
  // The SLA, as SlapOS's master sends it (the node reads retention_delay and firewall options).
  if (Object.keys(partition.sla).length > 0) attributes._filter_dict = marshalDictOf(partition.sla);
  return slapObject('ComputerPartition', [computeNodeId, partitionId, null], attributes);
}

/** A partition of a node as `registerComputerPartition` and the node's Computer show it. */
export function partitionObject(
  computeNodeId: string,
  partitionId: string,
  instance: PartitionSnapshot | undefined,
  naming: InstanceNaming,
): PyObject {
  return instance
    ? busyPartitionObject(computeNodeId, instance, naming)
    : freePartitionObject(computeNodeId, partitionId, naming);
}

/** `getFullComputerInformation`: every partition (free too) and every software installation. */
export function computerObject(snapshot: NodeSnapshot, naming: InstanceNaming): PyObject {
  const { computeNodeId } = snapshot;
  const instances = new Map<string, PartitionSnapshot>();
  for (const partition of snapshot.partitions) instances.set(partition.partitionId, partition);
  return slapObject('Computer', [computeNodeId], {
    _computer_id: computeNodeId,
    _computer_partition_list: snapshot.partitionIds.map((partitionId) =>
      partitionObject(computeNodeId, partitionId, instances.get(partitionId), naming),
    ),
    _software_release_list: snapshot.software.map((item) =>
      softwareReleaseObject(item.url, computeNodeId, item.state),
    ),
  });
}

/** The fake partition of a frontend bypass (its id says what it fakes). */
function frontendBypassObject(view: InstanceView): PyObject {
  return slapObject('ComputerPartition', ['', view.partitionId, null], {
    _computer_id: '',
    _partition_id: view.partitionId,
    _request_dict: null,
    _parameter_dict: {},
    _connection_dict: marshalDictOf(view.connectionParameters),
    slap_computer_id: '',
    slap_computer_partition_id: '',
  });
}

/** The answer to `requestComputerPartition` (the client copies its attributes onto a partition). */
export function requestAnswerObject(view: InstanceView, naming: InstanceNaming): PyObject {
  if (view.frontendBypass) return frontendBypassObject(view);
  const location = { computeNodeId: view.computeNodeId, partitionId: view.partitionId };
  const attributes: MarshalDict = {
    _connection_dict: marshalDictOf(view.connectionParameters),
    _parameter_dict: marshalDictOf(view.parameters),
    ip_list: ipTuples(view.ipList),
    slap_computer_id: view.computeNodeId,
    slap_computer_partition_id: view.partitionId,
    slap_server_url: 'slap_server_url',
    slap_software_release_url: view.softwareRelease,
    slap_software_type: view.softwareType,
  };
  if (!view.shared) {
    if (view.timestamp !== null)
      (attributes._parameter_dict as MarshalDict).timestamp = timestampString(view.timestamp);
    attributes._instance_guid = naming.legacyGuidOf(location, view.instanceGuid);
    attributes._requested_state = view.state;
    attributes.connection_xml = view.connectionXml ?? null;
  }
  return slapObject('SoftwareInstance', [], attributes);
}

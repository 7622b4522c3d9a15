/** Service results as JSON API documents (the shapes of the contract's responses). */
import type { ApiResponse } from '../../api/index.ts';
import { processingTimestamp } from '../../core/clock.ts';
import { formatInstanceGuid } from '../../core/instance-guid.ts';
import type { InstanceView } from '../services/instance-view.ts';

/** The contract's instance document (its generated type says `Record<string, never>` for free-form objects). */
export type InstanceDocument = Omit<
  ApiResponse<'/slapos.get.v0.software_instance'>,
  'parameters' | 'connection_parameters' | 'sla_parameters'
> & {
  parameters: Record<string, unknown>;
  connection_parameters: Record<string, unknown>;
  sla_parameters: Record<string, unknown>;
};

export function instanceDocument(view: InstanceView): InstanceDocument {
  return {
    title: view.title,
    instance_guid: formatInstanceGuid(view),
    software_release_uri: view.softwareRelease,
    software_type: view.softwareType,
    state: view.state,
    connection_parameters: view.connectionParameters,
    parameters: view.parameters,
    shared: view.shared,
    root_instance_title: view.requestedBy || view.title,
    ip_list: view.ipList,
    full_ip_list: [],
    sla_parameters: {},
    computer_guid: view.computeNodeId,
    compute_partition_id: view.partitionId,
    processing_timestamp: processingTimestamp(view.timestamp),
    access_status_message: '',
  };
}

export function success(title: string): { type: 'success'; title: string } {
  return { type: 'success', title };
}

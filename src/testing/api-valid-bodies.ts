/**
 * A valid request body for every path of the JSON API (v0 and experimental), and the master state
 * they are valid against: what the bad-input tests start from and mutate.
 */
import { formatTestNode } from './master.ts';

export const SR = 'http://sr//';

/** A valid body for every path of the JSON API (against a master prepared by prepareValidBodiesMaster). */
export const VALID: Record<string, Record<string, unknown>> = {
  '/slapos.post.v0.software_instance': {
    title: 'Root',
    software_release_uri: SR,
    software_type: 'default',
    parameters: { a: 'b' },
    shared: false,
    state: 'started',
    sla_parameters: { computer_guid: 'computer' },
  },
  '/slapos.get.v0.software_instance': { instance_guid: 'Root______0' },
  '/slapos.get.v0.compute_partition': { computer_guid: 'computer', compute_partition_id: 'slappart0' },
  '/slapos.get.v0.instance_tree': { title: 'Root' },
  '/slapos.allDocs.v0.instance_tree_list': {},
  '/slapos.allDocs.v0.compute_node_instance_list': { computer_guid: 'computer' },
  '/slapos.allDocs.v0.instance_node_instance_list': { instance_guid: 'Root______0' },
  '/slapos.allDocs.v0.compute_node_software_installation_list': { computer_guid: 'computer' },
  '/slapos.post.v0.software_installation': {
    software_release_uri: SR,
    computer_guid: 'computer',
    state: 'available',
  },
  '/slapos.put.v0.software_installation_reported_state': {
    software_release_uri: SR,
    computer_guid: 'computer',
    reported_state: 'available',
  },
  '/slapos.put.v0.software_installation_error': {
    software_release_uri: SR,
    computer_guid: 'computer',
    message: 'm',
  },
  '/slapos.put.v0.software_instance_reported_state': {
    instance_guid: 'Root______0',
    reported_state: 'started',
  },
  '/slapos.put.v0.software_instance_error': { instance_guid: 'Root______0', message: 'm' },
  '/slapos.put.v0.software_instance_connection_parameter': {
    instance_guid: 'Root______0',
    connection_parameter_dict: { url: 'http://x' },
  },
  '/slapos.put.v0.software_instance_bang': { instance_guid: 'Root______0', message: 'm' },
  '/slapos.put.v0.software_instance_title': { instance_guid: 'Root______0', title: 'Root' },
  '/slapos.put.v0.compute_node_format': {
    computer_guid: 'computer',
    compute_partition_list: [
      {
        partition_id: 'slappart0',
        ip_list: [{ 'ip-address': '1.2.3.4', 'network-interface': 'tap0', netmask: '255.0.0.0' }],
      },
      { partition_id: 'slappart1', ip_list: [] },
    ],
  },
  '/slapos.put.v0.compute_node_bang': { computer_guid: 'computer', message: 'm' },
  '/slapos.post.v0.compute_node_usage': { computer_guid: 'computer', tioxml: '<journal/>' },
  '/slapos.get.v0.compute_node_status': { computer_guid: 'computer' },
  '/slapos.post.v0.compute_node_certificate': { computer_guid: 'computer' },
  '/slapos.remove.v0.compute_node_certificate': { computer_guid: 'computer' },
  '/slapos.get.v0.software_instance_certificate': { instance_guid: 'Root______0' },
  '/slapos.get.v0.hateoas_url': {},
  '/slapos.allDocs.WIP.compute_node_list': {},
};

/** Formats `computer` (2 partitions), requests the instance `Root`, a shared one and an installation. */
export async function prepareValidBodiesMaster(
  url: string,
  api: (path: string, body: unknown) => Promise<{ status: number }>,
): Promise<void> {
  await formatTestNode(url, { partitions: 2 });
  const root = await api('/slapos.post.v0.software_instance', VALID['/slapos.post.v0.software_instance']);
  if (root.status !== 200) throw new Error(`requesting Root answered ${root.status}`);
  await api('/slapos.post.v0.software_instance', {
    title: 'S',
    software_release_uri: SR,
    software_type: 'default',
    shared: true,
  });
  await api('/slapos.post.v0.software_installation', { software_release_uri: SR, computer_guid: 'computer' });
}

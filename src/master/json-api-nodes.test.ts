/**
 * The JSON API's compute node and software installation behaviours, and the endpoints proxy mode
 * answers without a real implementation (certificates, usage, status, hateoas), over real HTTP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../core/clock.ts';
import { withTestMaster } from '../testing/master.ts';
import { LOCAL_CALLER } from './services/index.ts';

const FORMAT = '/slapos.put.v0.compute_node_format';
const POST = '/slapos.post.v0.software_instance';
const GET = '/slapos.get.v0.software_instance';
const SUPPLY = '/slapos.post.v0.software_installation';
const SOFTWARE_LIST = '/slapos.allDocs.v0.compute_node_software_installation_list';

function ip(name: string): Record<string, string> {
  return {
    'ip-address': `${name}IpAddress`,
    'network-interface': `${name}NetworkInterface`,
    'network-address': `${name}NetworkAddress`,
    'gateway-ip-address': `${name}GatewayIpAddress`,
    netmask: `${name}Netmask`,
  };
}

test('format an empty node: no partition to allocate', async () => {
  await withTestMaster(async ({ api }) => {
    const formatted = await api(FORMAT, { computer_guid: 'computer', compute_partition_list: [] });
    assert.deepEqual(formatted.body, { type: 'success', title: 'Formatted' });
    assert.equal(
      (await api(SUPPLY, { software_release_uri: 'https://mysoft', computer_guid: 'computer' })).status,
      200,
    );
    const answer = await api(POST, {
      title: 'MyFirstInstance',
      software_release_uri: 'https://mysoft',
      software_type: 'foobar',
    });
    assert.deepEqual(answer.body, {
      status: 403,
      type: 'Forbidden',
      title: 'No free computer partition found for: MyFirstInstance',
    });
  });
});

test('format a new partition: its addresses, in order, come with the instance', async () => {
  await withTestMaster(
    async ({ api }) => {
      const formatted = await api(FORMAT, {
        computer_guid: 'computer',
        compute_partition_list: [
          { partition_id: 'MyFirstPartition', ip_list: [ip('MyFirst'), ip('MySecond')] },
        ],
      });
      assert.deepEqual(formatted.body, { type: 'success', title: 'Formatted' });
      const supplied = await api(SUPPLY, {
        software_release_uri: 'https://mysoft',
        computer_guid: 'computer',
      });
      assert.equal(supplied.status, 200);
      const answer = await api(POST, {
        title: 'MyFirstInstance',
        software_release_uri: 'https://mysoft',
        software_type: 'foobar',
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, {
        title: 'MyFirstInstance',
        instance_guid: 'MyFirstInstance______0',
        software_release_uri: 'https://mysoft',
        software_type: 'foobar',
        state: 'started',
        connection_parameters: {},
        parameters: {},
        shared: false,
        root_instance_title: 'MyFirstInstance',
        ip_list: [
          ['MyFirstNetworkInterface', 'MyFirstIpAddress'],
          ['MySecondNetworkInterface', 'MySecondIpAddress'],
        ],
        full_ip_list: [],
        sla_parameters: {},
        computer_guid: 'computer',
        compute_partition_id: 'MyFirstPartition',
        processing_timestamp: 1_700_000_000,
        access_status_message: '',
      });
    },
    { clock: fixedClock(1_700_000_000.5) },
  );
});

test('format again: kept partitions keep their instances and timestamps, dropped ones lose them', async () => {
  const clock = fixedClock(1_700_000_000.5);
  await withTestMaster(
    async ({ api, master }) => {
      await api(FORMAT, {
        computer_guid: 'computer',
        compute_partition_list: [
          { partition_id: 'MyFirstPartition', ip_list: [ip('MyFirst')] },
          { partition_id: 'MySecondPartition', ip_list: [ip('MySecond')] },
        ],
      });
      const sr = 'https://mysoft1';
      await api(SUPPLY, { software_release_uri: sr, computer_guid: 'computer' });
      await api(POST, { title: 'MyFirstInstance', software_release_uri: sr, software_type: 'foobar1' });
      await api(POST, {
        title: 'MyFirstShared',
        software_release_uri: sr,
        software_type: 'foobar1',
        shared: true,
      });
      await api(POST, { title: 'MySecondInstance', software_release_uri: sr, software_type: 'foobar2' });
      await api(POST, {
        title: 'MySecondShared',
        software_release_uri: sr,
        software_type: 'foobar2',
        shared: true,
      });
      clock.advance(100);
      await api(FORMAT, {
        computer_guid: 'computer',
        compute_partition_list: [
          { partition_id: 'MyThirdPartition', ip_list: [ip('MyThird')] },
          { partition_id: 'MySecondPartition', ip_list: [ip('MyNewSecond')] },
        ],
      });
      const second = await api(GET, { instance_guid: 'MySecondInstance______0' });
      assert.deepEqual(second.body, {
        title: 'MySecondInstance',
        instance_guid: 'MySecondInstance______0',
        software_release_uri: sr,
        software_type: 'foobar2',
        state: 'started',
        connection_parameters: {},
        parameters: {},
        shared: false,
        root_instance_title: 'MySecondInstance',
        ip_list: [['MyNewSecondNetworkInterface', 'MyNewSecondIpAddress']],
        full_ip_list: [],
        sla_parameters: {},
        computer_guid: 'computer',
        compute_partition_id: 'MySecondPartition',
        processing_timestamp: 1_700_000_000,
        access_status_message: '',
      });
      // Format does not bump timestamps.
      const view = await master.services.getInstance({
        caller: LOCAL_CALLER,
        instanceGuid: 'MySecondInstance______0',
      });
      assert.equal(view.timestamp, 1_700_000_000.5);
      // The shared instance hosted there is kept too: the get view (no addresses, the host's
      // software type and timestamp).
      const secondShared = await api(GET, { instance_guid: 'MySecondShared______1' });
      assert.deepEqual(secondShared.body, {
        title: 'MySecondShared',
        instance_guid: 'MySecondShared______1',
        software_release_uri: sr,
        software_type: 'foobar2',
        state: 'started',
        connection_parameters: {},
        parameters: {},
        shared: true,
        root_instance_title: 'MySecondShared',
        ip_list: [],
        full_ip_list: [],
        sla_parameters: {},
        computer_guid: 'computer',
        compute_partition_id: 'MySecondPartition',
        processing_timestamp: 1_700_000_000,
        access_status_message: '',
      });
      assert.equal((await api(GET, { instance_guid: 'MyFirstInstance______0' })).status, 403);
      assert.equal((await api(GET, { instance_guid: 'MyFirstShared______1' })).status, 403);
      const third = await api(POST, {
        title: 'MyThirdInstance',
        software_release_uri: sr,
        software_type: 'foobar',
      });
      assert.equal(third.status, 200);
      assert.deepEqual(third.body, {
        title: 'MyThirdInstance',
        instance_guid: 'MyThirdInstance______0',
        software_release_uri: sr,
        software_type: 'foobar',
        state: 'started',
        connection_parameters: {},
        parameters: {},
        shared: false,
        root_instance_title: 'MyThirdInstance',
        ip_list: [['MyThirdNetworkInterface', 'MyThirdIpAddress']],
        full_ip_list: [],
        sla_parameters: {},
        computer_guid: 'computer',
        compute_partition_id: 'MyThirdPartition',
        processing_timestamp: 1_700_000_100,
        access_status_message: '',
      });
    },
    { clock },
  );
});

test('format: a missing interface name is the partition id; a duplicated partition is refused', async () => {
  await withTestMaster(async ({ api }) => {
    await api(FORMAT, {
      computer_guid: 'computer',
      compute_partition_list: [
        { partition_id: 'slappart0', ip_list: [{ 'ip-address': '10.0.0.1' }] },
        { partition_id: 'slappart1' },
      ],
    });
    const answer = await api(POST, { title: 'A', software_release_uri: 'sr', software_type: 't' });
    assert.deepEqual((answer.body as { ip_list: unknown }).ip_list, [['slappart0', '10.0.0.1']]);
    const duplicated = await api(FORMAT, {
      computer_guid: 'computer',
      compute_partition_list: [{ partition_id: 'x' }, { partition_id: 'x' }],
    });
    assert.equal(duplicated.status, 400);
  });
});

test('software installations: supply, list, reports, destroyed removes it', async () => {
  await withTestMaster(async ({ api }) => {
    await api(FORMAT, { computer_guid: 'computer', compute_partition_list: [] });
    const unregistered = await api(SOFTWARE_LIST, { computer_guid: 'COMP-9' });
    assert.deepEqual(unregistered.body, {
      status: 403,
      type: 'Forbidden',
      title: 'COMP-9 is not registered.',
    });
    const supplied = await api(SUPPLY, { software_release_uri: 'https://mysoft', computer_guid: 'computer' });
    assert.deepEqual(supplied.body, { type: 'success', title: 'Supplied https://mysoft to be available' });
    await api(SUPPLY, {
      software_release_uri: 'https://other',
      computer_guid: 'computer',
      state: 'destroyed',
    });
    assert.deepEqual((await api(SOFTWARE_LIST, { computer_guid: 'computer' })).body, {
      result_list: [
        { software_release_uri: 'https://mysoft', state: 'available' },
        { software_release_uri: 'https://other', state: 'destroyed' },
      ],
    });
    const report = '/slapos.put.v0.software_installation_reported_state';
    for (const state of ['building', 'available']) {
      const answer = await api(report, {
        software_release_uri: 'https://mysoft',
        computer_guid: 'computer',
        reported_state: state,
      });
      assert.deepEqual(answer.body, { type: 'success', title: 'Ignored' });
    }
    const error = await api('/slapos.put.v0.software_installation_error', {
      software_release_uri: 'https://mysoft',
      computer_guid: 'computer',
      message: 'it does not work',
    });
    assert.deepEqual(error.body, { type: 'success', title: 'Ignored' });
    // The state shown stays the requested one.
    const listed = (await api(SOFTWARE_LIST, { computer_guid: 'computer' })).body as {
      result_list: { state: string }[];
    };
    assert.equal(listed.result_list[0]?.state, 'available');
    const destroyed = await api(report, {
      software_release_uri: 'https://other',
      computer_guid: 'computer',
      reported_state: 'destroyed',
    });
    assert.deepEqual(destroyed.body, { type: 'success', title: 'Destroyed' });
    await api(report, {
      software_release_uri: 'https://mysoft',
      computer_guid: 'computer',
      reported_state: 'destroyed',
    });
    assert.deepEqual((await api(SOFTWARE_LIST, { computer_guid: 'computer' })).body, { result_list: [] });
    const unknownNode = await api(report, {
      software_release_uri: 'foo',
      computer_guid: 'bar',
      reported_state: 'available',
    });
    assert.deepEqual(unknownNode.body, { type: 'success', title: 'Ignored' });
  });
});

test('software installations of several nodes are separate', async () => {
  await withTestMaster(async ({ api }) => {
    for (const node of ['COMP-0', 'COMP-1'])
      await api(FORMAT, { computer_guid: node, compute_partition_list: [] });
    await api(SUPPLY, { software_release_uri: 'http://sr1', computer_guid: 'COMP-0' });
    await api(SUPPLY, { software_release_uri: 'http://sr2', computer_guid: 'COMP-1' });
    await api(SUPPLY, { software_release_uri: 'http://sr3', computer_guid: 'COMP-0' });
    await api(SUPPLY, { software_release_uri: 'http://sr3', computer_guid: 'COMP-1' });
    await api(SUPPLY, { software_release_uri: 'http://sr1', computer_guid: 'COMP-0', state: 'destroyed' });
    assert.deepEqual((await api(SOFTWARE_LIST, { computer_guid: 'COMP-0' })).body, {
      result_list: [
        { software_release_uri: 'http://sr1', state: 'destroyed' },
        { software_release_uri: 'http://sr3', state: 'available' },
      ],
    });
    assert.deepEqual((await api(SOFTWARE_LIST, { computer_guid: 'COMP-1' })).body, {
      result_list: [
        { software_release_uri: 'http://sr2', state: 'available' },
        { software_release_uri: 'http://sr3', state: 'available' },
      ],
    });
    assert.deepEqual((await api('/slapos.allDocs.WIP.compute_node_list', {})).body, {
      result_list: [{ computer_guid: 'COMP-0' }, { computer_guid: 'COMP-1' }],
    });
  });
});

test('compute node instance list: registered nodes only, busy partitions in partition order', async () => {
  await withTestMaster(async ({ api }) => {
    const unknown = await api('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'computer' });
    assert.deepEqual(unknown.body, { status: 403, type: 'Forbidden', title: 'computer is not registered.' });
    await api(FORMAT, {
      computer_guid: 'computer',
      compute_partition_list: [{ partition_id: 'slappart0' }, { partition_id: 'slappart1' }],
    });
    assert.deepEqual(
      (await api('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'computer' })).body,
      {
        result_list: [],
      },
    );
    await api(POST, {
      title: 'MyFirstInstance',
      software_release_uri: 'http://sr//',
      software_type: 'foobar',
      parameters: { bar: 'foo' },
    });
    assert.deepEqual(
      (await api('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'computer' })).body,
      {
        result_list: [
          {
            title: 'MyFirstInstance',
            instance_guid: 'MyFirstInstance______0',
            state: 'started',
            compute_partition_id: 'slappart0',
            software_release_uri: 'http://sr//',
          },
        ],
      },
    );
  });
});

test('the answers proxy mode gives without an implementation', async () => {
  await withTestMaster(async ({ api, port }) => {
    const ignored = { type: 'success', title: 'Ignored' };
    assert.deepEqual(
      (await api('/slapos.remove.v0.compute_node_certificate', { computer_guid: 'foo' })).body,
      ignored,
    );
    assert.deepEqual((await api('/slapos.post.v0.compute_node_certificate', { computer_guid: 'foo' })).body, {
      key: '',
      certificate: '',
    });
    assert.deepEqual(
      (await api('/slapos.get.v0.software_instance_certificate', { instance_guid: 'foo' })).body,
      {
        key: '',
        certificate: '',
      },
    );
    assert.deepEqual(
      (await api('/slapos.post.v0.compute_node_usage', { computer_guid: 'foo', tioxml: '<journal/>' })).body,
      ignored,
    );
    assert.deepEqual((await api('/slapos.get.v0.compute_node_status', { computer_guid: 'computer' })).body, {
      text: 'Unknown (not implemented)',
    });
    assert.deepEqual(
      (
        await api('/slapos.put.v0.compute_node_bang', {
          computer_guid: 'computer',
          message: 'it does not work',
        })
      ).body,
      ignored,
    );
    assert.deepEqual((await api('/slapos.get.v0.hateoas_url', {})).body, {
      hateoas_url: `http://127.0.0.1:${port}/hateoas/`,
    });
    assert.deepEqual((await api('/slapos.get.v0.hateoas_url', {}, { host: 'localhost' })).body, {
      hateoas_url: 'http://localhost/hateoas/',
    });
    assert.deepEqual(
      (await api('/slapos.get.v0.hateoas_url', {}, { host: 'localhost', 'x-forwarded-proto': 'https' })).body,
      { hateoas_url: 'https://localhost/hateoas/' },
    );
    assert.deepEqual(
      (
        await api(
          '/slapos.get.v0.hateoas_url',
          {},
          { host: 'localhost', 'x-forwarded-proto': 'https', 'x-forwarded-prefix': '/slap/' },
        )
      ).body,
      { hateoas_url: 'https://localhost/slap/hateoas/' },
    );
    // A Host header that is not a host is not echoed back.
    assert.deepEqual((await api('/slapos.get.v0.hateoas_url', {}, { host: 'evil.com/x?' })).body, {
      hateoas_url: `http://127.0.0.1:${port}/hateoas/`,
    });
  });
});

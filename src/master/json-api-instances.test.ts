/**
 * The JSON API's instance behaviours, over real HTTP against a real master (SQLite on disk),
 * covering what slapproxy's own tests (test_slapproxy_json_rpc.py, test_slapproxy.py) check.
 * Every answer is checked against the contract by `api()`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../core/clock.ts';
import { apiResponseProblem } from '../testing/api-schema.ts';
import {
  apiContentTypeProblem,
  formatTestNode,
  postJson,
  withTestMaster,
  type ApiHarness,
} from '../testing/master.ts';
import { LOCAL_CALLER } from './services/index.ts';

const T0 = 1_700_000_000.25;
const SR = 'http://sr//';

function request(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title, software_release_uri: SR, software_type: 'foobar', ...extra };
}

function instanceDocument(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    title: 'MyFirstInstance',
    instance_guid: 'MyFirstInstance______0',
    software_release_uri: SR,
    software_type: 'foobar',
    state: 'started',
    connection_parameters: {},
    parameters: {},
    shared: false,
    root_instance_title: 'MyFirstInstance',
    ip_list: [
      ['tap0', '1.2.3.4'],
      ['tap0', '4.3.2.1'],
    ],
    full_ip_list: [],
    sla_parameters: {},
    computer_guid: 'computer',
    compute_partition_id: 'slappart0',
    processing_timestamp: Math.trunc(T0),
    access_status_message: '',
    ...overrides,
  };
}

/** The exact float timestamp of an instance's partition (the API shows whole seconds only). */
async function timestampOf(harness: ApiHarness, instanceGuid: string): Promise<number | null> {
  return (await harness.master.services.getInstance({ caller: LOCAL_CALLER, instanceGuid })).timestamp;
}

const POST = '/slapos.post.v0.software_instance';
const GET = '/slapos.get.v0.software_instance';

test('no partition: 403 with the allocation failure', async () => {
  await withTestMaster(async ({ api }) => {
    const answer = await api(POST, { title: 'foo', software_release_uri: 'bar', software_type: 'foobar' });
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.body, {
      status: 403,
      type: 'Forbidden',
      title: 'No free computer partition found for: foo',
    });
  });
});

test('first allocation, then a re-request that changes nothing keeps the timestamp', async () => {
  const clock = fixedClock(T0);
  await withTestMaster(
    async (harness) => {
      const { api, url } = harness;
      await formatTestNode(url, { partitions: 2 });
      const first = await api(POST, request('MyFirstInstance', { parameters: { bar: 'foo' } }));
      assert.equal(first.status, 200);
      assert.deepEqual(first.body, instanceDocument({ parameters: { bar: 'foo' } }));
      assert.equal(await timestampOf(harness, 'MyFirstInstance______0'), T0);

      clock.advance(10);
      const again = await api(POST, request('MyFirstInstance', { parameters: { bar: 'foo' } }));
      assert.deepEqual(again.body, first.body);
      assert.equal(await timestampOf(harness, 'MyFirstInstance______0'), T0);
    },
    { clock },
  );
});

test('changing parameters, software release or type updates the same partition and bumps the timestamp', async () => {
  const clock = fixedClock(T0);
  await withTestMaster(
    async (harness) => {
      const { api, url } = harness;
      await formatTestNode(url, { partitions: 2 });
      await api(POST, request('MyFirstInstance', { parameters: { domain: 'fou.org' } }));
      clock.advance(1);
      const changed = await api(POST, request('MyFirstInstance', { parameters: { domain: 'carzy.org' } }));
      assert.deepEqual(
        changed.body,
        instanceDocument({ parameters: { domain: 'carzy.org' }, processing_timestamp: Math.trunc(T0 + 1) }),
      );
      clock.advance(1);
      const otherSr = await api(POST, {
        ...request('MyFirstInstance'),
        software_release_uri: 'http://sr1//',
      });
      assert.equal((otherSr.body as { software_release_uri: string }).software_release_uri, 'http://sr1//');
      assert.equal((otherSr.body as { compute_partition_id: string }).compute_partition_id, 'slappart0');
      assert.equal(await timestampOf(harness, 'MyFirstInstance______0'), T0 + 2);
      clock.advance(1);
      // An empty software type is taken as given on re-request (the default applies at allocation only).
      const emptyType = await api(POST, {
        ...request('MyFirstInstance'),
        software_release_uri: 'http://sr1//',
        software_type: '',
      });
      assert.equal((emptyType.body as { software_type: string }).software_type, '');
      assert.equal(await timestampOf(harness, 'MyFirstInstance______0'), T0 + 3);
    },
    { clock },
  );
});

test('an empty software type becomes "default" at first allocation', async () => {
  await withTestMaster(async ({ api, url }) => {
    await formatTestNode(url, { partitions: 1 });
    const answer = await api(POST, { ...request('A'), software_type: '' });
    assert.equal((answer.body as { software_type: string }).software_type, 'default');
  });
});

test('parameters are stored as strings, as Python str() prints them', async () => {
  await withTestMaster(async ({ api, url }) => {
    await formatTestNode(url, { partitions: 1 });
    const raw =
      '{"title": "P", "software_release_uri": "http://sr//", "software_type": "t", "parameters": ' +
      '{"int": 1, "float": 1.0, "exp": 1e3, "half": 1.5, "big": 12345678901234567890, "true": true, "none": null,' +
      ' "empty": "", "dict": {"a": 1, "b": [true, null, "x"]}, "list": [1, 2], "text": "Привет Мир!"}}';
    const response = await postJson(url, POST, undefined, { rawBody: raw });
    assert.equal(response.status, 200);
    assert.equal(apiResponseProblem(POST, response.status, response.body), undefined);
    assert.equal(apiContentTypeProblem(response), undefined);
    assert.deepEqual((response.body as { parameters: unknown }).parameters, {
      big: '12345678901234567890',
      dict: "{'a': 1, 'b': [True, None, 'x']}",
      empty: null,
      exp: '1000.0',
      float: '1.0',
      half: '1.5',
      int: '1',
      list: '[1, 2]',
      none: 'None',
      text: 'Привет Мир!',
      true: 'True',
    });
    const read = await api(GET, { instance_guid: 'P______0' });
    assert.deepEqual(
      (read.body as { parameters: unknown }).parameters,
      (response.body as { parameters: unknown }).parameters,
    );
  });
});

test('connection parameters: replaced, stringified, returned by post and get, no timestamp bump', async () => {
  const clock = fixedClock(T0);
  await withTestMaster(
    async (harness) => {
      const { api, url } = harness;
      await formatTestNode(url, { partitions: 1 });
      await api(POST, request('MyFirstInstance', { parameters: { bar: 'foo' } }));
      clock.advance(5);
      const put = await api('/slapos.put.v0.software_instance_connection_parameter', {
        instance_guid: 'MyFirstInstance______0',
        connection_parameter_dict: { foo: 'bar', n: 1, nested: { a: 1 } },
      });
      assert.deepEqual(put.body, { type: 'success', title: 'Updated' });
      const again = await api(POST, request('MyFirstInstance', { parameters: { bar: 'foo' } }));
      assert.deepEqual(
        again.body,
        instanceDocument({
          parameters: { bar: 'foo' },
          connection_parameters: { foo: 'bar', n: '1', nested: "{'a': 1}" },
        }),
      );
      const got = await api(GET, { instance_guid: 'MyFirstInstance______0' });
      assert.deepEqual(got.body, again.body);
      const partition = await api('/slapos.get.v0.compute_partition', {
        computer_guid: 'computer',
        compute_partition_id: 'slappart0',
      });
      assert.deepEqual(partition.body, again.body);
      assert.equal(await timestampOf(harness, 'MyFirstInstance______0'), T0);
      // Replaced, not merged.
      await api('/slapos.put.v0.software_instance_connection_parameter', {
        instance_guid: 'MyFirstInstance______0',
        connection_parameter_dict: { other: 'x' },
      });
      const replaced = await api(GET, { instance_guid: 'MyFirstInstance______0' });
      assert.deepEqual((replaced.body as { connection_parameters: unknown }).connection_parameters, {
        other: 'x',
      });
      // An unknown target is a no-op that still answers success (slapproxy).
      const unknown = await api('/slapos.put.v0.software_instance_connection_parameter', {
        instance_guid: 'Nobody______0',
        connection_parameter_dict: { a: 'b' },
      });
      assert.deepEqual(unknown.body, { type: 'success', title: 'Updated' });
    },
    { clock },
  );
});

test('get: unknown or malformed guids, and the empty partition', async () => {
  await withTestMaster(async ({ api, url }) => {
    const noHost = await api('/slapos.allDocs.v0.instance_node_instance_list', {
      instance_guid: 'MyFirstInstance______0',
    });
    assert.equal(noHost.status, 403);
    assert.deepEqual(noHost.body, {
      status: 403,
      type: 'Forbidden',
      title: 'No software instance MyFirstInstance______0 found.',
    });
    const malformed = await api(GET, { instance_guid: 'foo' });
    assert.deepEqual(malformed.body, {
      status: 403,
      type: 'Forbidden',
      title: 'instance_guid foo not handled.',
    });
    const missing = await api(GET, { instance_guid: 'MyFirstInstance______0' });
    assert.deepEqual(missing.body, {
      status: 403,
      type: 'Forbidden',
      title: 'No software instance MyFirstInstance______0 found.',
    });
    const missingShared = await api(GET, { instance_guid: 'S______1' });
    assert.deepEqual(missingShared.body, {
      status: 403,
      type: 'Forbidden',
      title: 'No shared instance S______1 found.',
    });
    const noPartition = await api('/slapos.get.v0.compute_partition', {
      computer_guid: 'foo',
      compute_partition_id: 'bar',
    });
    assert.deepEqual(noPartition.body, {
      status: 403,
      type: 'Forbidden',
      title: 'No instance on partition bar found.',
    });
    await formatTestNode(url, { partitions: 1 });
    const empty = await api('/slapos.get.v0.compute_partition', {
      computer_guid: 'computer',
      compute_partition_id: 'slappart0',
    });
    assert.deepEqual(empty.body, {
      status: 403,
      type: 'Forbidden',
      title: 'No instance on partition slappart0 found.',
    });
    for (const path of [
      '/slapos.allDocs.v0.instance_node_instance_list',
      '/slapos.put.v0.software_instance_bang',
      '/slapos.put.v0.software_instance_title',
      '/slapos.put.v0.software_instance_connection_parameter',
    ]) {
      const body: Record<string, unknown> = { instance_guid: 'a___b' };
      if (path.endsWith('bang')) body.message = 'm';
      if (path.endsWith('title')) body.title = 'x';
      if (path.endsWith('parameter')) body.connection_parameter_dict = {};
      const answer = await api(path, body);
      assert.deepEqual(
        answer.body,
        { status: 403, type: 'Forbidden', title: 'instance_guid a___b not handled.' },
        path,
      );
    }
  });
});

test('shared instances: host selection, post and get views, host list, connection parameters', async () => {
  const clock = fixedClock(T0);
  await withTestMaster(
    async (harness) => {
      const { api, url } = harness;
      await formatTestNode(url, { partitions: 3 });
      const noHost = await api(POST, request('MySharedInstance', { shared: true }));
      assert.deepEqual(noHost.body, {
        status: 403,
        type: 'Forbidden',
        title: "No partition corresponding to slave request: ['http://sr//', 'computer', 'foobar']",
      });
      await api(POST, { ...request('Other'), software_type: 'other' });
      await api(POST, request('MyFirstInstance', { parameters: { bar: 'foo' } }));
      clock.advance(3);
      const shared = await api(
        POST,
        request('MySharedInstance', { shared: true, parameters: { bar2: 'foo2', n: 2 } }),
      );
      // The post view: parameters as strings, the host's addresses and partition, timestamp 0.
      const sharedPostView = instanceDocument({
        title: 'MySharedInstance',
        instance_guid: 'MySharedInstance______1',
        root_instance_title: 'MySharedInstance',
        shared: true,
        parameters: { bar2: 'foo2', n: '2' },
        compute_partition_id: 'slappart1',
        processing_timestamp: 0,
      });
      assert.deepEqual(shared.body, sharedPostView);
      // The host reprocesses: its timestamp moved.
      assert.equal(await timestampOf(harness, 'MyFirstInstance______0'), T0 + 3);
      assert.equal(await timestampOf(harness, 'Other______0'), T0);

      const published = await api('/slapos.put.v0.software_instance_connection_parameter', {
        instance_guid: 'MySharedInstance______1',
        connection_parameter_dict: { foo: 'bar' },
      });
      assert.equal(published.status, 200);
      assert.deepEqual(published.body, { type: 'success', title: 'Updated' });
      const got = await api(GET, { instance_guid: 'MySharedInstance______1' });
      assert.deepEqual(
        got.body,
        instanceDocument({
          title: 'MySharedInstance',
          instance_guid: 'MySharedInstance______1',
          root_instance_title: 'MySharedInstance',
          shared: true,
          // the get view keeps the original JSON types
          parameters: { bar2: 'foo2', n: 2 },
          connection_parameters: { foo: 'bar' },
          ip_list: [],
          compute_partition_id: 'slappart1',
          processing_timestamp: Math.trunc(T0 + 3),
        }),
      );
      const again = await api(
        POST,
        request('MySharedInstance', { shared: true, parameters: { bar2: 'foo2', n: 2 } }),
      );
      // The whole post view again, now with the published connection parameters.
      assert.deepEqual(again.body, { ...sharedPostView, connection_parameters: { foo: 'bar' } });

      const hosted = await api('/slapos.allDocs.v0.instance_node_instance_list', {
        instance_guid: 'MyFirstInstance______0',
      });
      assert.deepEqual(hosted.body, {
        result_list: [
          {
            title: 'MySharedInstance',
            instance_guid: 'MySharedInstance______1',
            software_type: 'foobar',
            state: 'started',
            parameters: { bar2: 'foo2', n: 2 },
            compute_partition_id: 'slappart1',
          },
        ],
      });
      const none = await api('/slapos.allDocs.v0.instance_node_instance_list', {
        instance_guid: 'Other______0',
      });
      assert.deepEqual(none.body, { result_list: [] });
      const sharedGuid = await api('/slapos.allDocs.v0.instance_node_instance_list', {
        instance_guid: 'MySharedInstance______1',
      });
      assert.equal(sharedGuid.status, 403);
    },
    { clock },
  );
});

test('shared instances: the host timestamp moves when the list changes, not on a no-op', async () => {
  const clock = fixedClock(T0);
  await withTestMaster(
    async (harness) => {
      const { api, url } = harness;
      await formatTestNode(url, { partitions: 1 });
      await api(POST, request('MyMasterInstance'));
      const host = 'MyMasterInstance______0';
      const step = async (body: Record<string, unknown>): Promise<number | null> => {
        clock.advance(1);
        await api(POST, body);
        return timestampOf(harness, host);
      };
      assert.equal(await step(request('MyFirstSlave', { shared: true })), T0 + 1);
      assert.equal(await step(request('MySecondSlave', { shared: true })), T0 + 2);
      assert.equal(await step(request('MySecondSlave', { shared: true, parameters: { a: 'b' } })), T0 + 3);
      assert.equal(await step(request('MySecondSlave', { shared: true, parameters: { a: 'b' } })), T0 + 3);
      assert.equal(await step(request('MyFirstSlave', { shared: true, state: 'destroyed' })), T0 + 5);
      const hosted = await api('/slapos.allDocs.v0.instance_node_instance_list', { instance_guid: host });
      assert.deepEqual(
        (hosted.body as { result_list: { title: string }[] }).result_list.map((item) => item.title),
        ['MySecondSlave'],
      );
      // destroying again changes nothing
      assert.equal(await step(request('MyFirstSlave', { shared: true, state: 'destroyed' })), T0 + 5);
      const gone = await api(GET, { instance_guid: 'MyFirstSlave______1' });
      assert.equal(gone.status, 403);
      // requested again: back at the end of the list
      await step(request('MyFirstSlave', { shared: true }));
      const back = await api('/slapos.allDocs.v0.instance_node_instance_list', { instance_guid: host });
      assert.deepEqual(
        (back.body as { result_list: { title: string }[] }).result_list.map((item) => item.title),
        ['MySecondSlave', 'MyFirstSlave'],
      );
    },
    { clock },
  );
});

test('shared instances: instance_guid SLA picks the host (legacy partition guid or partition id)', async () => {
  await withTestMaster(async ({ api, url }) => {
    await formatTestNode(url, { partitions: 3 });
    await api(POST, request('First'));
    await api(POST, request('Second'));
    const legacy = await api(
      POST,
      request('S1', { shared: true, sla_parameters: { instance_guid: 'computer-slappart1' } }),
    );
    assert.equal((legacy.body as { compute_partition_id: string }).compute_partition_id, 'slappart1');
    const plain = await api(
      POST,
      request('S2', { shared: true, sla_parameters: { instance_guid: 'slappart1' } }),
    );
    assert.equal((plain.body as { compute_partition_id: string }).compute_partition_id, 'slappart1');
    const free = await api(
      POST,
      request('S3', { shared: true, sla_parameters: { instance_guid: 'slappart2' } }),
    );
    assert.deepEqual(free.body, {
      status: 403,
      type: 'Forbidden',
      title:
        "No partition corresponding to slave request: ['http://sr//', 'computer', 'foobar', 'slappart2']",
    });
    const anyType = await api(POST, { ...request('S4', { shared: true }), software_type: '' });
    assert.equal((anyType.body as { compute_partition_id: string }).compute_partition_id, 'slappart0');
  });
});

test('several compute nodes: computer_guid SLA, unknown nodes, and an instance never moves', async () => {
  await withTestMaster(async ({ api, url }) => {
    await formatTestNode(url, { computerGuid: 'COMP-1', partitions: 2 });
    const unknown = await api(
      POST,
      request('MyFirstInstance', { sla_parameters: { computer_guid: 'COMP-0' } }),
    );
    assert.deepEqual(unknown.body, {
      status: 403,
      type: 'Forbidden',
      title: 'No free computer partition found for: MyFirstInstance',
    });
    // Without SLA the default compute node (not formatted here) is used.
    const noDefault = await api(POST, request('MyFirstInstance'));
    assert.equal(noDefault.status, 403);
    await formatTestNode(url, { computerGuid: 'COMP-0', partitions: 2 });
    const first = await api(
      POST,
      request('MyFirstInstance', { sla_parameters: { computer_guid: 'COMP-0' } }),
    );
    assert.equal((first.body as { computer_guid: string }).computer_guid, 'COMP-0');
    assert.equal((first.body as { compute_partition_id: string }).compute_partition_id, 'slappart0');
    const second = await api(POST, {
      ...request('MySecondInstance'),
      software_release_uri: 'http://othersr//',
      sla_parameters: { computer_guid: 'COMP-1' },
    });
    assert.equal((second.body as { computer_guid: string }).computer_guid, 'COMP-1');
    const moved = await api(
      POST,
      request('MyFirstInstance', { sla_parameters: { computer_guid: 'COMP-1' } }),
    );
    assert.equal((moved.body as { computer_guid: string }).computer_guid, 'COMP-0');
    const onOne = await api('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'COMP-1' });
    assert.deepEqual(
      (onOne.body as { result_list: { title: string }[] }).result_list.map((item) => item.title),
      ['MySecondInstance'],
    );
    // A shared instance needs a host on the requested (or default) node.
    const sharedDefault = await api(POST, {
      ...request('MySlave', { shared: true }),
      software_release_uri: 'http://othersr//',
    });
    assert.equal(sharedDefault.status, 403);
    const sharedWrong = await api(POST, {
      ...request('MySlave', { shared: true, sla_parameters: { computer_guid: 'COMP-0' } }),
      software_release_uri: 'http://othersr//',
    });
    assert.equal(sharedWrong.status, 403);
    const sharedRight = await api(POST, {
      ...request('MySlave', { shared: true, sla_parameters: { computer_guid: 'COMP-1' } }),
      software_release_uri: 'http://othersr//',
    });
    assert.equal((sharedRight.body as { computer_guid: string }).computer_guid, 'COMP-1');
    const stopped = await api(POST, request('MyFirstInstance', { state: 'stopped' }));
    assert.equal((stopped.body as { state: string }).state, 'stopped');
    const list = await api('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'COMP-1' });
    assert.equal((list.body as { result_list: { state: string }[] }).result_list[0]?.state, 'started');
  });
});

test('children: requested_by is the root, root state propagates to re-requested children only', async () => {
  await withTestMaster(async ({ api, url, master }) => {
    await formatTestNode(url, { partitions: 4 });
    const services = master.services;
    await api(POST, request('Root'));
    const asChild = (title: string, state?: 'started' | 'stopped' | 'destroyed', requester = 'slappart0') =>
      services.requestInstance({
        caller: LOCAL_CALLER,
        title,
        softwareRelease: SR,
        softwareType: 'foobar',
        parameters: {},
        shared: false,
        state,
        sla: {},
        requester: { computeNodeId: 'computer', partitionId: requester },
      });
    const child = await asChild('Child');
    assert.equal(child.requestedBy, 'Root');
    assert.equal(child.partitionId, 'slappart1');
    // A grandchild (requested by the child) still belongs to the root's tree.
    const grandchild = await asChild('Grandchild', undefined, 'slappart1');
    assert.equal(grandchild.requestedBy, 'Root');
    const read = await api(GET, { instance_guid: 'Grandchild___Root___0' });
    assert.equal((read.body as { root_instance_title: string }).root_instance_title, 'Root');
    // A free or unknown requester makes a root request.
    const orphan = await asChild('Orphan', undefined, 'slappart9');
    assert.equal(orphan.requestedBy, '');

    // A child may be stopped while its root is started.
    assert.equal((await asChild('Child', 'stopped')).state, 'stopped');
    assert.equal((await asChild('Child', 'started')).state, 'started');
    // Stopping the root does not touch the children until they are requested again.
    await api(POST, request('Root', { state: 'stopped' }));
    const before = await api('/slapos.get.v0.software_instance', { instance_guid: 'Child___Root___0' });
    assert.equal((before.body as { state: string }).state, 'started');
    assert.equal((await asChild('Child', 'started')).state, 'stopped');
    const after = await api('/slapos.get.v0.software_instance', { instance_guid: 'Child___Root___0' });
    assert.equal((after.body as { state: string }).state, 'stopped');
    await api(POST, request('Root', { state: 'started' }));
    assert.equal((await asChild('Child', 'started')).state, 'started');
    await api(POST, request('Root', { state: 'destroyed' }));
    assert.equal((await asChild('Child', 'started')).state, 'destroyed');
  });
});

test('destroyed report: frees the partition; a root with children first marks them destroyed', async () => {
  const clock = fixedClock(T0);
  await withTestMaster(
    async (harness) => {
      const { api, url, master } = harness;
      await formatTestNode(url, { partitions: 3 });
      await api(POST, request('Root'));
      await master.services.requestInstance({
        caller: LOCAL_CALLER,
        title: 'B',
        softwareRelease: SR,
        softwareType: 'foobar',
        parameters: {},
        shared: false,
        sla: {},
        requester: { computeNodeId: 'computer', partitionId: 'slappart0' },
      });
      await master.services.requestInstance({
        caller: LOCAL_CALLER,
        title: 'A',
        softwareRelease: SR,
        softwareType: 'foobar',
        parameters: {},
        shared: false,
        sla: {},
        requester: { computeNodeId: 'computer', partitionId: 'slappart0' },
      });
      clock.advance(1);
      const destroy = await api(POST, request('Root', { state: 'destroyed' }));
      assert.equal((destroy.body as { state: string }).state, 'destroyed');
      clock.advance(1);
      const report = '/slapos.put.v0.software_instance_reported_state';
      const notYet = await api(report, { instance_guid: 'Root______0', reported_state: 'destroyed' });
      assert.deepEqual(notYet.body, {
        status: 403,
        type: 'Forbidden',
        title: 'Not destroying yet because this partition has child partitions: A, B',
      });
      const states = await api('/slapos.allDocs.v0.compute_node_instance_list', {
        computer_guid: 'computer',
      });
      assert.deepEqual(
        (states.body as { result_list: { title: string; state: string }[] }).result_list.map((item) => [
          item.title,
          item.state,
        ]),
        [
          ['Root', 'destroyed'],
          ['B', 'destroyed'],
          ['A', 'destroyed'],
        ],
      );
      // Children marked without a timestamp bump.
      assert.equal(await timestampOf(harness, 'B___Root___0'), T0);
      for (const guid of ['A___Root___0', 'B___Root___0', 'Root______0']) {
        const done = await api(report, { instance_guid: guid, reported_state: 'destroyed' });
        assert.deepEqual(done.body, { type: 'success', title: 'Destroyed' }, guid);
      }
      const gone = await api(GET, { instance_guid: 'Root______0' });
      assert.deepEqual(gone.body, {
        status: 403,
        type: 'Forbidden',
        title: 'No software instance Root______0 found.',
      });
      const again = await api(report, { instance_guid: 'Root______0', reported_state: 'destroyed' });
      assert.equal(again.status, 403);
      const empty = await api('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'computer' });
      assert.deepEqual(empty.body, { result_list: [] });
      // The freed partitions are allocated again, first one first.
      const reused = await api(POST, request('Another instance'));
      assert.equal((reused.body as { compute_partition_id: string }).compute_partition_id, 'slappart0');
    },
    { clock },
  );
});

test('reported states and errors: started and stopped are acknowledged; shared destroyed and errors are ignored', async () => {
  await withTestMaster(async ({ api, url }) => {
    const report = '/slapos.put.v0.software_instance_reported_state';
    for (const state of ['started', 'stopped']) {
      const answer = await api(report, { instance_guid: 'foo', reported_state: state });
      assert.deepEqual(answer.body, { type: 'success', title: 'Ignored' });
    }
    // An error report for a guid that does not even parse is ignored too (not a 403).
    const unparsable = await api('/slapos.put.v0.software_instance_error', {
      instance_guid: 'foo',
      message: 'it does not work',
    });
    assert.equal(unparsable.status, 200);
    assert.deepEqual(unparsable.body, { type: 'success', title: 'Ignored' });
    await formatTestNode(url, { partitions: 1 });
    await api(POST, request('Host'));
    await api(POST, request('S', { shared: true }));
    const shared = await api(report, { instance_guid: 'S______1', reported_state: 'destroyed' });
    assert.deepEqual(shared.body, { type: 'success', title: 'Ignored' });
    const error = await api('/slapos.put.v0.software_instance_error', {
      instance_guid: 'Host______0',
      message: 'boom',
    });
    assert.deepEqual(error.body, { type: 'success', title: 'Ignored' });
    const bad = await api(report, { instance_guid: 'foo', reported_state: 'destroyed' });
    assert.deepEqual(bad.body, { status: 403, type: 'Forbidden', title: 'instance_guid foo not handled.' });
  });
});

test('bang: bumps the timestamp (the tree for a root); shared instances cannot be banged', async () => {
  const clock = fixedClock(T0);
  await withTestMaster(
    async (harness) => {
      const { api, url, master } = harness;
      await formatTestNode(url, { partitions: 3 });
      await api(POST, request('MyFirstInstance'));
      await master.services.requestInstance({
        caller: LOCAL_CALLER,
        title: 'Child',
        softwareRelease: SR,
        softwareType: 'foobar',
        parameters: {},
        shared: false,
        sla: {},
        requester: { computeNodeId: 'computer', partitionId: 'slappart0' },
      });
      await api(POST, request('Other'));
      const before = await api(GET, { instance_guid: 'MyFirstInstance______0' });
      clock.advance(1);
      const bang = await api('/slapos.put.v0.software_instance_bang', {
        instance_guid: 'MyFirstInstance______0',
        message: 'Please reprocess',
      });
      assert.deepEqual(bang.body, { type: 'success', title: 'Bang handled' });
      const after = await api(GET, { instance_guid: 'MyFirstInstance______0' });
      assert.notEqual(
        (after.body as { processing_timestamp: number }).processing_timestamp,
        (before.body as { processing_timestamp: number }).processing_timestamp,
      );
      assert.equal(await timestampOf(harness, 'Child___MyFirstInstance___0'), T0 + 1);
      assert.equal(await timestampOf(harness, 'Other______0'), T0);
      clock.advance(1);
      await api('/slapos.put.v0.software_instance_bang', {
        instance_guid: 'Child___MyFirstInstance___0',
        message: 'x',
      });
      assert.equal(await timestampOf(harness, 'Child___MyFirstInstance___0'), T0 + 2);
      assert.equal(await timestampOf(harness, 'MyFirstInstance______0'), T0 + 1);

      await api(POST, request('MyFirstShared', { shared: true }));
      const shared = await api('/slapos.put.v0.software_instance_bang', {
        instance_guid: 'MyFirstShared______1',
        message: 'Please reprocess',
      });
      assert.deepEqual(shared.body, { status: 403, type: 'Forbidden', title: 'NotImplemented' });
      const unknown = await api('/slapos.put.v0.software_instance_bang', {
        instance_guid: 'X______0',
        message: 'm',
      });
      assert.deepEqual(unknown.body, { type: 'success', title: 'Bang handled' });
    },
    { clock },
  );
});

test('rename: the new guid resolves, the old one does not; shared cannot be renamed; no clash', async () => {
  await withTestMaster(async ({ api, url }) => {
    await formatTestNode(url, { partitions: 2 });
    await api(POST, request('MyFirstInstance'));
    await api(POST, request('Taken'));
    const renamed = await api('/slapos.put.v0.software_instance_title', {
      instance_guid: 'MyFirstInstance______0',
      title: 'MyRenamedFirstInstance',
    });
    assert.deepEqual(renamed.body, { type: 'success', title: 'Renamed' });
    assert.equal((await api(GET, { instance_guid: 'MyRenamedFirstInstance______0' })).status, 200);
    assert.equal((await api(GET, { instance_guid: 'MyFirstInstance______0' })).status, 403);
    const clash = await api('/slapos.put.v0.software_instance_title', {
      instance_guid: 'MyRenamedFirstInstance______0',
      title: 'Taken',
    });
    assert.equal(clash.status, 409);
    await api(POST, request('MyFirstShared', { shared: true }));
    const shared = await api('/slapos.put.v0.software_instance_title', {
      instance_guid: 'MyFirstShared______1',
      title: 'MyRenamedFirstShared',
    });
    assert.deepEqual(shared.body, { status: 403, type: 'Forbidden', title: 'NotImplemented' });
  });
});

test('instance trees: the list (roots, then root shared instances) and one tree', async () => {
  await withTestMaster(async ({ api, url }) => {
    await formatTestNode(url, { partitions: 1 });
    await api(POST, request('MyFirstInstance'));
    await api(POST, request('MyFirstShared', { shared: true, parameters: { a: 1 } }));
    const list = await api('/slapos.allDocs.v0.instance_tree_list', {});
    assert.deepEqual(list.body, { result_list: [{ title: 'MyFirstInstance' }, { title: 'MyFirstShared' }] });
    const tree = await api('/slapos.get.v0.instance_tree', { title: 'MyFirstInstance' });
    assert.deepEqual(tree.body, (await api(GET, { instance_guid: 'MyFirstInstance______0' })).body);
    const sharedTree = await api('/slapos.get.v0.instance_tree', { title: 'MyFirstShared' });
    assert.deepEqual(sharedTree.body, (await api(GET, { instance_guid: 'MyFirstShared______1' })).body);
    const missing = await api('/slapos.get.v0.instance_tree', { title: 'FOO' });
    assert.deepEqual(missing.body, { status: 403, type: 'Forbidden', title: 'No instance tree FOO found.' });
  });
});

test("frontend bypass: the backend URL directly, or the master's http_proxy when reached over https", async () => {
  await withTestMaster(async ({ api }) => {
    const url = 'https://[::1]:123/my/path?my=query&string=value#myanchor';
    const cdn = {
      title: 'MyCDNInstance',
      software_release_uri:
        'http://git.erp5.org/gitweb/slapos.git/blob_plain/HEAD:/software/apache-frontend/software.cfg',
      software_type: 'default',
      parameters: { url },
      shared: true,
    };
    const expected = {
      title: 'MyCDNInstance',
      instance_guid: 'MyCDNInstance______1',
      software_release_uri: cdn.software_release_uri,
      software_type: 'default',
      state: 'started',
      connection_parameters: { secure_access: url, domain: '[::1]:123' },
      parameters: { url },
      shared: true,
      root_instance_title: 'MyCDNInstance',
      ip_list: [],
      full_ip_list: [],
      sla_parameters: {},
      computer_guid: '',
      compute_partition_id: `Fake frontend for ${url}`,
      processing_timestamp: 0,
      access_status_message: '',
    };
    assert.deepEqual((await api(POST, cdn, { host: 'localhost' })).body, expected);
    const secure = await api(POST, cdn, { host: 'localhost', 'x-forwarded-proto': 'https' });
    assert.deepEqual(secure.body, {
      ...expected,
      connection_parameters: {
        secure_access:
          'https://localhost/http_proxy/https/%5B::1%5D:123/my/path?my=query&string=value#myanchor',
        domain: 'localhost',
      },
    });
    const kvm = await api(POST, {
      title: 'vnc',
      software_release_uri:
        'http://git.erp5.org/gitweb/slapos.git/blob_plain/refs/tags/slapos-0.92:/software/kvm/software.cfg',
      software_type: 'frontend',
      parameters: { host: '::1', port: '123' },
      shared: true,
    });
    const kvmBody = kvm.body as { connection_parameters: unknown; compute_partition_id: string };
    assert.deepEqual(kvmBody.connection_parameters, {
      url: 'https://[::1]:123/',
      domainname: '[::1]',
      port: '123',
      path: '/',
    });
    assert.equal(kvmBody.compute_partition_id, 'Fake KVM VNC frontend for https://[::1]:123/');
    // Nothing was stored.
    assert.deepEqual((await api('/slapos.allDocs.v0.instance_tree_list', {})).body, { result_list: [] });
  });
});

/** Every MasterClient method against a real master on 127.0.0.1. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMasterWithNode, type MasterWithNode } from '../testing/master-with-node.ts';
import type { MasterClient } from './master-client.ts';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';

const SR = 'https://example.com/software/hello/software.cfg';
let master: MasterWithNode;
let client: MasterClient;

before(async () => {
  master = await startMasterWithNode({ computerGuid: 'COMP-CLIENT', partitions: 3 });
  client = master.client;
});
after(() => master.close());

test('compute nodes: listed after format; their instances and software installations start empty', async () => {
  const nodes = await client.listComputeNodes();
  assert.ok(nodes.some((node) => node.computer_guid === 'COMP-CLIENT'));
  assert.deepEqual(await client.listComputeNodeInstances('COMP-CLIENT'), []);
  assert.deepEqual(await client.listSoftwareInstallations('COMP-CLIENT'), []);
  const status = await client.getComputeNodeStatus('COMP-CLIENT');
  assert.equal(typeof status.text, 'string');
});

test('an unknown compute node is COMPUTE_NODE_NOT_FOUND with the master message', async () => {
  const error = await rejectsWithSlapError(
    client.listComputeNodeInstances('COMP-NOPE'),
    'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
  );
  assert.match(error.message, /COMP-NOPE/);
  assert.equal(error.status, 403);
  await rejectsWithSlapError(
    client.listSoftwareInstallations('COMP-NOPE'),
    'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
  );
});

test('supply, remove and the node reports of software installations', async () => {
  const supplied = await client.supply({ softwareReleaseUri: SR, computerGuid: 'COMP-CLIENT' });
  assert.equal(supplied.type, 'success');
  assert.deepEqual(await client.listSoftwareInstallations('COMP-CLIENT'), [
    { software_release_uri: SR, state: 'available' },
  ]);
  const other = 'https://example.com/software/other/software.cfg';
  await client.supply({ softwareReleaseUri: other, computerGuid: 'COMP-CLIENT', state: 'destroyed' });
  const listed = await client.listSoftwareInstallations('COMP-CLIENT');
  assert.deepEqual(
    listed.find((item) => item.software_release_uri === other),
    { software_release_uri: other, state: 'destroyed' },
  );
  for (const state of ['building', 'available'] as const) {
    const answer = await client.reportSoftwareInstallationState({
      softwareReleaseUri: SR,
      computerGuid: 'COMP-CLIENT',
      state,
    });
    assert.equal(answer.type, 'success');
  }
  await client.reportSoftwareInstallationError({
    softwareReleaseUri: SR,
    computerGuid: 'COMP-CLIENT',
    message: 'boom',
  });
  await client.reportSoftwareInstallationState({
    softwareReleaseUri: other,
    computerGuid: 'COMP-CLIENT',
    state: 'destroyed',
  });
  assert.deepEqual(await client.listSoftwareInstallations('COMP-CLIENT'), [
    { software_release_uri: SR, state: 'available' },
  ]);
});

test('request an instance, read it every way, publish connection parameters, bang, report', async () => {
  const instance = await client.requestInstance({
    title: 'MyInstance',
    softwareReleaseUri: SR,
    parameters: { foo: 'bar', n: 1 },
    slaParameters: { computer_guid: 'COMP-CLIENT' },
  });
  assert.equal(instance.title, 'MyInstance');
  assert.equal(instance.instance_guid, 'MyInstance______0');
  assert.equal(instance.software_type, 'default');
  assert.equal(instance.state, 'started');
  assert.equal(instance.computer_guid, 'COMP-CLIENT');
  assert.deepEqual(instance.connection_parameters, {});
  assert.deepEqual(instance.parameters, { foo: 'bar', n: '1' });
  assert.ok(master.partitionIds.includes(instance.compute_partition_id));

  const byGuid = await client.getInstance(instance.instance_guid);
  assert.equal(byGuid.compute_partition_id, instance.compute_partition_id);
  const byPartition = await client.getComputePartition({
    computerGuid: 'COMP-CLIENT',
    partitionId: instance.compute_partition_id,
  });
  assert.equal(byPartition.instance_guid, instance.instance_guid);
  const tree = await client.getInstanceTree('MyInstance');
  assert.equal(tree.instance_guid, instance.instance_guid);
  assert.ok((await client.listInstanceTrees()).some((item) => item.title === 'MyInstance'));
  const onNode = await client.listComputeNodeInstances('COMP-CLIENT');
  assert.deepEqual(
    onNode.find((item) => item.title === 'MyInstance'),
    {
      title: 'MyInstance',
      instance_guid: 'MyInstance______0',
      state: 'started',
      compute_partition_id: instance.compute_partition_id,
      software_release_uri: SR,
    },
  );

  await client.setConnectionParameters({
    instanceGuid: instance.instance_guid,
    parameters: { url: 'http://x/' },
  });
  const again = await client.requestInstance({
    title: 'MyInstance',
    softwareReleaseUri: SR,
    parameters: { foo: 'bar', n: 1 },
  });
  assert.deepEqual(again.connection_parameters, { url: 'http://x/' });

  assert.equal(
    (await client.bang({ instanceGuid: instance.instance_guid, message: 'promise failed' })).type,
    'success',
  );
  assert.equal(
    (await client.reportInstanceState({ instanceGuid: instance.instance_guid, state: 'started' })).type,
    'success',
  );
  await client.reportInstanceError({ instanceGuid: instance.instance_guid, message: 'buildout failed' });
  const certificate = await client.getInstanceCertificate(instance.instance_guid);
  assert.equal(typeof certificate.key, 'string');
  assert.equal(typeof certificate.certificate, 'string');
});

test('shared instances are listed by their host', async () => {
  const host = await client.requestInstance({
    title: 'Host',
    softwareReleaseUri: 'https://example.com/frontend/software.cfg',
    slaParameters: { computer_guid: 'COMP-CLIENT' },
  });
  const shared = await client.requestInstance({
    title: 'MyShared',
    softwareReleaseUri: 'https://example.com/frontend/software.cfg',
    shared: true,
    parameters: { url: 'https://backend/' },
    slaParameters: { computer_guid: 'COMP-CLIENT' },
  });
  assert.equal(shared.shared, true);
  assert.equal(shared.instance_guid, 'MyShared______1');
  assert.equal(shared.compute_partition_id, host.compute_partition_id);
  const hosted = await client.listHostedSharedInstances(host.instance_guid);
  assert.deepEqual(
    hosted.map((item) => [item.title, item.instance_guid, item.parameters]),
    [['MyShared', 'MyShared______1', { url: 'https://backend/' }]],
  );
});

test('rename, then destroy: the reported destruction frees the partition', async () => {
  const instance = await client.requestInstance({
    title: 'ToRename',
    softwareReleaseUri: SR,
    slaParameters: { computer_guid: 'COMP-CLIENT' },
  });
  await client.renameInstance({ instanceGuid: instance.instance_guid, title: 'Renamed' });
  await rejectsWithSlapError(client.getInstance('ToRename______0'), 'SLAP_ERR_INSTANCE_NOT_FOUND');
  const renamed = await client.getInstance('Renamed______0');
  assert.equal(renamed.compute_partition_id, instance.compute_partition_id);

  const destroying = await client.requestInstance({
    title: 'Renamed',
    softwareReleaseUri: SR,
    state: 'destroyed',
  });
  assert.equal(destroying.state, 'destroyed');
  await client.reportInstanceState({ instanceGuid: 'Renamed______0', state: 'destroyed' });
  await rejectsWithSlapError(
    client.getInstance('Renamed______0'),
    'SLAP_ERR_INSTANCE_NOT_FOUND',
    /Renamed______0/,
  );
  await rejectsWithSlapError(
    client.getComputePartition({ computerGuid: 'COMP-CLIENT', partitionId: instance.compute_partition_id }),
    'SLAP_ERR_PARTITION_NOT_FOUND',
  );
});

test('compute node calls: bang, usage, certificates, HATEOAS URL', async () => {
  assert.equal(
    (await client.bangComputeNode({ computerGuid: 'COMP-CLIENT', message: 'reboot' })).type,
    'success',
  );
  const usage =
    '<?xml version="1.0"?><journal><transaction type="Sale Packing List"><start_date></start_date>' +
    '<stop_date>2023-11-14 at 22:13:20</stop_date><reference>COMP-CLIENT</reference><currency></currency><payment_mode></payment_mode>' +
    '<arrow type="Administration"><source></source><destination></destination></arrow><movement>' +
    '<resource>CPU Consumption</resource><reference>slappart0</reference><quantity>1.0</quantity>' +
    '<price>0.0</price><VAT></VAT></movement></transaction></journal>';
  assert.equal(
    (await client.reportComputeNodeUsage({ computerGuid: 'COMP-CLIENT', usageXml: usage })).type,
    'success',
  );
  const certificate = await client.createComputeNodeCertificate('COMP-CLIENT');
  assert.equal(typeof certificate.certificate, 'string');
  assert.equal((await client.revokeComputeNodeCertificate('COMP-CLIENT')).type, 'success');
  assert.match(await client.getHateoasUrl(), /^https?:\/\/.*hateoas/);
});

test('master errors keep their message: allocation failure (403), bad guid, invalid input (400)', async () => {
  const small = await startMasterWithNode({ computerGuid: 'COMP-SMALL', partitions: 1 });
  try {
    await small.client.requestInstance({
      title: 'First',
      softwareReleaseUri: SR,
      slaParameters: { computer_guid: 'COMP-SMALL' },
    });
    const error = await rejectsWithSlapError(
      small.client.requestInstance({
        title: 'Second',
        softwareReleaseUri: SR,
        slaParameters: { computer_guid: 'COMP-SMALL' },
      }),
      'SLAP_ERR_ALLOCATION_FAILED',
      /^No free computer partition found for: Second$/,
    );
    assert.equal(error.status, 403);
    assert.equal(error.exitCode, 1);
  } finally {
    await small.close();
  }
  await rejectsWithSlapError(
    client.getInstance('not-a-guid'),
    'SLAP_ERR_INSTANCE_GUID_INVALID',
    /not-a-guid/,
  );
  await rejectsWithSlapError(
    client.getInstanceTree('NoSuchTree'),
    'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
    /NoSuchTree/,
  );
  const invalid = await rejectsWithSlapError(
    client.requestInstance({ title: 'x'.repeat(201), softwareReleaseUri: SR }),
    'SLAP_ERR_INVALID_INPUT',
  );
  assert.equal(invalid.status, 400);
});

test('promise results: reported for an instance, read back; an unknown instance is INSTANCE_NOT_FOUND', async () => {
  const instance = await client.requestInstance({
    title: 'Promised',
    softwareReleaseUri: SR,
    slaParameters: { computer_guid: 'COMP-CLIENT' },
  });
  assert.deepEqual(await client.getPromiseResults(instance.instance_guid), {
    instance_guid: instance.instance_guid,
    result_list: [],
    reported_at: null,
  });
  const results = [
    { name: 'apache', status: 'pass' as const, message: 'ok', date: '2023-11-14T22:13:20Z' },
    { name: 'backup', status: 'fail' as const, message: 'too old', date: '2023-11-14T22:13:21Z' },
  ];
  const answer = await client.reportPromiseResults({ instanceGuid: instance.instance_guid, results });
  assert.deepEqual(answer, { type: 'success', title: 'Updated' });
  const read = await client.getPromiseResults(instance.instance_guid);
  assert.deepEqual(read?.result_list, results);
  assert.equal(typeof read?.reported_at, 'string');
  await rejectsWithSlapError(client.getPromiseResults('Nothing______0'), 'SLAP_ERR_INSTANCE_NOT_FOUND');
  await rejectsWithSlapError(
    client.reportPromiseResults({ instanceGuid: 'Nothing______0', results }),
    'SLAP_ERR_INSTANCE_NOT_FOUND',
  );
  assert.equal(client.supportsPromiseResults, true);
});

test('many concurrent calls share the client', async () => {
  const answers = await Promise.all(Array.from({ length: 50 }, () => client.listComputeNodes()));
  assert.equal(answers.length, 50);
  for (const nodes of answers) assert.ok(nodes.some((node) => node.computer_guid === 'COMP-CLIENT'));
});

/**
 * The legacy client's methods against our master serving only the legacy SLAP API (real HTTP on
 * 127.0.0.1): every answer converted to the JSON API shapes, the guid map, what the legacy API lacks.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MasterClient } from '../master-client.ts';
import { createMasterClient } from '../master-api.ts';
import { startTestMaster, type TestMaster } from '../../testing/master.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { SlapError } from '../../core/errors.ts';

const NODE = 'COMP-L';
const SR = 'https://example.com/software/hello/software.cfg';
const HOST_SR = 'https://example.com/software/frontend/software.cfg';
let master: TestMaster;
let client: MasterClient;

function legacyClient(computerGuid?: string): MasterClient {
  return createMasterClient({
    api: 'legacy',
    masterUrl: master.url,
    ...(computerGuid ? { computerGuid } : {}),
  });
}

before(async () => {
  master = await startTestMaster({ api: 'legacy', computerId: NODE });
  client = legacyClient(NODE);
  await client.formatComputeNode({
    computerGuid: NODE,
    partitions: Array.from({ length: 4 }, (_, index) => ({
      reference: `slappart${index}`,
      addresses: [{ address: `127.0.1.${index + 1}`, networkInterface: 'lo', netmask: '255.0.0.0' }],
    })),
  });
});

after(async () => {
  await client.close();
  await master.close();
});

test('format, supply and the software reports; the computer information lists them', async () => {
  assert.deepEqual(await client.listComputeNodeInstances(NODE), []);
  assert.equal((await client.supply({ softwareReleaseUri: SR, computerGuid: NODE })).type, 'success');
  await client.supply({ softwareReleaseUri: HOST_SR, computerGuid: NODE });
  const other = 'https://example.com/software/other/software.cfg';
  await client.supply({ softwareReleaseUri: other, computerGuid: NODE, state: 'destroyed' });
  const listed = await client.listSoftwareInstallations(NODE);
  assert.deepEqual(
    listed.find((item) => item.software_release_uri === SR),
    { software_release_uri: SR, state: 'available' },
  );
  assert.deepEqual(
    listed.find((item) => item.software_release_uri === other),
    { software_release_uri: other, state: 'destroyed' },
  );
  for (const state of ['building', 'available'] as const)
    assert.equal(
      (await client.reportSoftwareInstallationState({ softwareReleaseUri: SR, computerGuid: NODE, state }))
        .type,
      'success',
    );
  await client.reportSoftwareInstallationError({
    softwareReleaseUri: SR,
    computerGuid: NODE,
    message: 'boom',
  });
  await client.reportSoftwareInstallationState({
    softwareReleaseUri: other,
    computerGuid: NODE,
    state: 'destroyed',
  });
  assert.equal(
    (await client.listSoftwareInstallations(NODE)).some((item) => item.software_release_uri === other),
    false,
  );
});

test('request an instance, read it every way, publish connection parameters, bang, report', async () => {
  const instance = await client.requestInstance({
    title: 'MyInstance',
    softwareReleaseUri: SR,
    parameters: { foo: 'bar', n: 1 },
  });
  assert.equal(instance.title, 'MyInstance');
  assert.equal(instance.instance_guid, `${NODE}-${instance.compute_partition_id}`, 'the legacy guid');
  assert.equal(instance.computer_guid, NODE);
  assert.equal(instance.root_instance_title, 'MyInstance');
  assert.equal(instance.software_type, 'default');
  assert.equal(instance.state, 'started');
  assert.equal(instance.shared, false);
  assert.deepEqual(instance.parameters, { foo: 'bar', n: '1' });
  assert.deepEqual(instance.connection_parameters, {});
  assert.ok(instance.processing_timestamp > 0);
  assert.deepEqual(instance.ip_list, [['lo', instance.ip_list[0]?.[1]]]);

  const byGuid = await client.getInstance(instance.instance_guid);
  const byPartition = await client.getComputePartition({
    computerGuid: NODE,
    partitionId: instance.compute_partition_id,
  });
  for (const document of [byGuid, byPartition]) {
    assert.equal(document.instance_guid, instance.instance_guid);
    assert.equal(document.title, 'MyInstance');
    assert.equal(document.root_instance_title, 'MyInstance');
    assert.equal(document.software_release_uri, SR);
    assert.deepEqual(document.parameters, { foo: 'bar', n: '1' }, 'the legacy keys are not parameters');
    assert.deepEqual(document.ip_list, instance.ip_list);
    assert.equal(Object.keys(document).length, 16);
  }
  assert.deepEqual(
    (await client.listComputeNodeInstances(NODE)).find((item) => item.title === 'MyInstance'),
    {
      instance_guid: instance.instance_guid,
      title: 'MyInstance',
      state: 'started',
      compute_partition_id: instance.compute_partition_id,
      software_release_uri: SR,
    },
  );
  const tree = await client.getInstanceTree('MyInstance');
  assert.equal(tree.instance_guid, instance.instance_guid);
  assert.ok((await client.listInstanceTrees()).some((item) => item.title === 'MyInstance'));
  await rejectsWithSlapError(client.getInstanceTree('NoSuchTree'), 'SLAP_ERR_INSTANCE_TREE_NOT_FOUND');

  await client.setConnectionParameters({
    instanceGuid: instance.instance_guid,
    parameters: { url: 'http://a?x=1&y=2' },
  });
  const again = await client.requestInstance({
    title: 'MyInstance',
    softwareReleaseUri: SR,
    parameters: { foo: 'bar', n: 1 },
  });
  assert.deepEqual(again.connection_parameters, { url: 'http://a?x=1&y=2' });
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
  await client.bangComputeNode({ computerGuid: NODE, message: 'reprocess' });
  await client.reportComputeNodeUsage({ computerGuid: NODE, usageXml: '<journal/>' });
});

test('a child requested by a partition joins its tree; a client that never saw a guid finds it on its node', async () => {
  const parent = await client.getInstanceTree('MyInstance');
  const child = await client.requestInstance({
    title: 'child',
    softwareReleaseUri: SR,
    softwareType: 'kid',
    requester: { computerGuid: NODE, partitionId: parent.compute_partition_id },
  });
  assert.equal(child.root_instance_title, 'MyInstance');
  const fresh = legacyClient(NODE);
  try {
    const read = await fresh.getInstance(child.instance_guid);
    assert.equal(read.title, 'child');
    assert.equal(read.root_instance_title, 'MyInstance');
    assert.equal(read.software_type, 'kid');
  } finally {
    await fresh.close();
  }
  const nowhere = legacyClient();
  try {
    await rejectsWithSlapError(nowhere.getInstance(child.instance_guid), 'SLAP_ERR_INSTANCE_NOT_FOUND');
  } finally {
    await nowhere.close();
  }
  await rejectsWithSlapError(client.getInstance('COMP-L-nowhere'), 'SLAP_ERR_INSTANCE_NOT_FOUND');
});

test('shared instances: named by their reference, listed by their host, publishing through it', async () => {
  const host = await client.requestInstance({ title: 'frontend', softwareReleaseUri: HOST_SR });
  const shop = await client.requestInstance({
    title: 'shop',
    softwareReleaseUri: HOST_SR,
    shared: true,
    parameters: { path: 'shop', n: 2 },
  });
  assert.equal(shop.shared, true);
  assert.equal(shop.compute_partition_id, host.compute_partition_id);
  const hosted = await client.listHostedSharedInstances(host.instance_guid);
  assert.equal(hosted.length, 1);
  assert.equal(hosted[0]?.instance_guid, shop.instance_guid);
  assert.deepEqual(hosted[0]?.parameters, { path: 'shop', n: 2 }, 'with their original types');
  await client.setConnectionParameters({
    instanceGuid: shop.instance_guid,
    parameters: { url: 'http://h/shop' },
  });
  const reread = await client.requestInstance({
    title: 'shop',
    softwareReleaseUri: HOST_SR,
    shared: true,
    parameters: { path: 'shop', n: 2 },
  });
  assert.deepEqual(reread.connection_parameters, { url: 'http://h/shop' });
  assert.equal((await client.getInstance(shop.instance_guid)).shared, true);
});

test('the node snapshot: the partitions holding an instance, markers and revision moving with changes', async () => {
  const first = await client.readNodeSnapshot(NODE);
  assert.equal(first.computer_guid, NODE);
  const entry = first.compute_partition_list.find((item) => item.title === 'MyInstance');
  assert.ok(entry);
  assert.deepEqual(entry.parameters, { foo: 'bar', n: '1' });
  assert.equal(entry.root_instance_title, 'MyInstance');
  assert.ok(entry.marker.startsWith(`${entry.timestamp}-`));
  const frontend = first.compute_partition_list.find((item) => item.title === 'frontend');
  assert.deepEqual(
    frontend?.shared_instance_list.map((item) => item.parameters),
    [{ path: 'shop', n: 2 }],
  );
  assert.deepEqual(await client.readNodeSnapshot(NODE), first, 'nothing changed: the same snapshot');
  await client.setConnectionParameters({
    instanceGuid: entry.instance_guid,
    parameters: { published: 'yes' },
  });
  const published = (await client.readNodeSnapshot(NODE)).compute_partition_list.find(
    (item) => item.title === 'MyInstance',
  );
  assert.equal(
    published?.marker,
    entry.marker,
    'its own publication does not make the node process it again',
  );
  await client.requestInstance({ title: 'MyInstance', softwareReleaseUri: SR, parameters: { foo: 'baz' } });
  const second = await client.readNodeSnapshot(NODE);
  assert.notEqual(second.revision, first.revision);
  assert.notEqual(
    second.compute_partition_list.find((item) => item.title === 'MyInstance')?.marker,
    entry.marker,
  );
});

test('parameters round-trip exactly, or are refused before sending (hostile strings)', async () => {
  const random = seededRandom(9);
  for (let round = 0; round < 25; round++) {
    const key = `k${round}`;
    const value = hostileString(random);
    let sent;
    try {
      sent = await client.requestInstance({
        title: 'MyInstance',
        softwareReleaseUri: SR,
        parameters: { [key]: value },
      });
    } catch (error) {
      assert.ok(error instanceof SlapError && error.code === 'SLAP_ERR_INVALID_INPUT', String(error));
      continue;
    }
    const read = await client.getInstance(sent.instance_guid);
    assert.deepEqual(read.parameters, { [key]: value === '' ? null : value }, JSON.stringify(value));
  }
});

test('compute nodes and the HATEOAS URL', async () => {
  assert.ok((await client.listComputeNodes()).some((node) => node.computer_guid === NODE));
  assert.match(await client.getHateoasUrl(), /^http:\/\/127\.0\.0\.1:\d+\/hateoas/);
});

test('connection parameters round-trip exactly, or are refused before sending (hostile strings)', async () => {
  const instance = await client.getInstanceTree('MyInstance');
  const random = seededRandom(21);
  for (let round = 0; round < 25; round++) {
    const value = hostileString(random);
    try {
      await client.setConnectionParameters({
        instanceGuid: instance.instance_guid,
        parameters: { v: value },
      });
    } catch (error) {
      assert.ok(error instanceof SlapError && error.code === 'SLAP_ERR_INVALID_INPUT', String(error));
      continue;
    }
    const read = await client.getInstance(instance.instance_guid);
    assert.deepEqual(read.connection_parameters, { v: value === '' ? null : value }, JSON.stringify(value));
  }
});

test('renaming an instance: its new title is read back under the same guid', async () => {
  const renamed = await client.requestInstance({ title: 'to-rename', softwareReleaseUri: SR });
  await client.renameInstance({ instanceGuid: renamed.instance_guid, title: 'renamed' });
  assert.equal((await client.getInstance(renamed.instance_guid)).title, 'renamed');
  await client.requestInstance({ title: 'renamed', softwareReleaseUri: SR, state: 'destroyed' });
  await client.reportInstanceState({ instanceGuid: renamed.instance_guid, state: 'destroyed' });
});

test('allocation failure, lookups the legacy API answers with text, what it lacks', async () => {
  const error = await rejectsWithSlapError(
    client.requestInstance({
      title: 'nowhere',
      softwareReleaseUri: SR,
      slaParameters: { computer_guid: 'COMP-NOPE' },
    }),
    'SLAP_ERR_ALLOCATION_FAILED',
  );
  assert.match(error.message, /nowhere|COMP-NOPE/);
  await rejectsWithSlapError(
    client.getComputePartition({ computerGuid: NODE, partitionId: 'slappart3' }),
    'SLAP_ERR_PARTITION_NOT_FOUND',
  );
  await rejectsWithSlapError(client.readNodeSnapshot('COMP-NOPE'), 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND');
  await rejectsWithSlapError(
    client.listSoftwareInstallations('COMP-NOPE'),
    'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
  );
  await rejectsWithSlapError(
    client.getComputePartition({ computerGuid: NODE, partitionId: 'slappart99' }),
    'SLAP_ERR_PARTITION_NOT_FOUND',
  );
  await rejectsWithSlapError(
    client.watchComputeNode({ computerGuid: NODE, afterRevision: 0, timeoutMs: 10 }),
    'SLAP_ERR_NOT_FOUND',
  );
  await rejectsWithSlapError(client.createRegistrationToken({}), 'SLAP_ERR_NOT_FOUND');
  await rejectsWithSlapError(client.getComputeNodeStatus(NODE), 'SLAP_ERR_NOT_FOUND');
  assert.equal(client.supportsPromiseResults, false);
  assert.equal(await client.getPromiseResults('x'), undefined);
  assert.equal(await client.getInstanceStatus('x'), undefined);
  assert.equal(await client.listSoftwareInstallationStatuses(NODE), undefined);
});

test('destroying: the report frees the partition; a root with children is kept (HAS_CHILDREN)', async () => {
  const parent = await client.getInstanceTree('MyInstance');
  await client.requestInstance({ title: 'MyInstance', softwareReleaseUri: SR, state: 'destroyed' });
  await rejectsWithSlapError(
    client.reportInstanceState({ instanceGuid: parent.instance_guid, state: 'destroyed' }),
    'SLAP_ERR_HAS_CHILDREN',
  );
  const child = (await client.listComputeNodeInstances(NODE)).find((item) => item.title === 'child');
  assert.ok(child);
  await client.reportInstanceState({ instanceGuid: child.instance_guid, state: 'destroyed' });
  await client.reportInstanceState({ instanceGuid: parent.instance_guid, state: 'destroyed' });
  const left = (await client.listComputeNodeInstances(NODE)).map((item) => item.title);
  assert.ok(!left.includes('MyInstance') && !left.includes('child'), left.join());
});

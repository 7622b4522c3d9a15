/**
 * The legacy SLAP API in master mode over real TLS on 127.0.0.1: the caller is the client
 * certificate's (or token's) owner, as on SlapOS's master. A node reads only its own node, an
 * instance only its own partition; instances are named `SOFTINST-n`; a request made over the legacy
 * API reads back the same over the JSON API.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createKeyAndCertificateRequest } from '../lib/certificate-request.ts';
import { decodeMarshal, encodeMarshal, PyObject, type MarshalDict } from '../core/xml-marshaller.ts';
import { postTls, startTestMasterMode, type TestMasterMode } from '../testing/master-mode.ts';
import { legacyTls, type LegacyTlsOptions } from '../testing/legacy.ts';

const SR = 'https://example.com/software/hello/software.cfg';
let master: TestMasterMode;
let userTls: LegacyTlsOptions;

async function registerNode(title: string): Promise<{ id: string; tls: LegacyTlsOptions }> {
  const tokenAnswer = await postTls(master.url, '/slapos.post.ext.registration_token', {}, userTls);
  assert.equal(tokenAnswer.status, 200, tokenAnswer.text);
  const registration = (tokenAnswer.body as { token: string }).token;
  const { keyPem, csrPem } = await createKeyAndCertificateRequest(title);
  const answer = await postTls(
    master.url,
    '/slapos.post.ext.compute_node_registration',
    { title, certificate_request: csrPem },
    { ca: master.caPem, token: registration },
  );
  assert.equal(answer.status, 200, answer.text);
  const node = answer.body as { computer_guid: string; certificate: string };
  return { id: node.computer_guid, tls: { ca: master.caPem, key: keyPem, cert: node.certificate } };
}

function formatXml(computeNodeId: string, partitions: string[]): string {
  return encodeMarshal({
    reference: computeNodeId,
    address: '10.0.0.1',
    netmask: '255.255.255.0',
    partition_list: partitions.map((reference, index) => ({
      reference,
      tap: { name: `slaptap${index}` },
      address_list: [{ addr: `10.0.0.${10 + index}`, netmask: '255.255.255.0' }],
    })),
  });
}

function requestFields(title: string, computeNodeId: string): Record<string, string> {
  return {
    software_release: SR,
    software_type: 'default',
    partition_reference: title,
    state: encodeMarshal('started'),
    shared_xml: encodeMarshal(false),
    partition_parameter_xml: encodeMarshal({ greeting: title }),
    filter_xml: encodeMarshal({ computer_guid: computeNodeId }),
  };
}

/** A string attribute of a decoded object (the test fails if it is anything else). */
function text(value: unknown): string {
  assert.equal(typeof value, 'string');
  return value as string;
}

function attributesOf(xml: string): MarshalDict {
  const value = decodeMarshal(xml);
  assert.ok(value instanceof PyObject, xml);
  return value.attributes;
}

before(async () => {
  master = await startTestMasterMode();
  const alice = await master.admin.addUser({ name: 'alice', admin: false });
  userTls = { ca: master.caPem, token: alice.token };
});

after(async () => {
  await master.close();
});

test('master mode: identity from the certificate; a node reads its own node, an instance its own partition', async () => {
  const one = await registerNode('one');
  const two = await registerNode('two');
  for (const node of [one, two]) {
    const formatted = await legacyTls(
      master.url,
      'POST',
      '/loadComputerConfigurationFromXML',
      { xml: formatXml(node.id, ['slappart0', 'slappart1']) },
      node.tls,
    );
    assert.equal(formatted.status, 200, formatted.text);
    assert.equal(formatted.text, 'done');
  }
  // A node may not format another one.
  const foreign = await legacyTls(
    master.url,
    'POST',
    '/loadComputerConfigurationFromXML',
    { xml: formatXml(two.id, ['slappart0']) },
    one.tls,
  );
  assert.notEqual(foreign.status, 200);
  const supplied = await legacyTls(
    master.url,
    'POST',
    '/supplySupply',
    { url: SR, computer_id: one.id, state: 'available' },
    userTls,
  );
  assert.equal(supplied.text, `Supplied '${SR}' to be available`);

  const requested = await legacyTls(
    master.url,
    'POST',
    '/requestComputerPartition',
    requestFields('hello', one.id),
    userTls,
  );
  assert.equal(requested.status, 200, requested.text);
  const answer = attributesOf(requested.text);
  const guid = answer._instance_guid;
  assert.match(text(guid), /^SOFTINST-\d+$/);
  assert.equal(answer.slap_computer_id, one.id);
  const partitionId = text(answer.slap_computer_partition_id);

  // Node two full: the next request there is accepted, not ready (408), as SlapOS's master answers.
  for (const title of ['fill0', 'fill1']) {
    const placed = await legacyTls(
      master.url,
      'POST',
      '/requestComputerPartition',
      requestFields(title, two.id),
      userTls,
    );
    assert.equal(placed.status, 200, placed.text);
  }
  const waiting = await legacyTls(
    master.url,
    'POST',
    '/requestComputerPartition',
    requestFields('waiting', two.id),
    userTls,
  );
  assert.equal(waiting.status, 408, waiting.text);
  assert.match(waiting.text, /Resource not ready/);

  // The JSON API reads the same instance.
  const json = await postTls(
    master.url,
    '/slapos.get.v0.software_instance',
    { instance_guid: guid },
    userTls,
  );
  assert.equal(json.status, 200, json.text);
  assert.deepEqual((json.body as { parameters: unknown }).parameters, { greeting: 'hello' });
  assert.equal((json.body as { compute_partition_id: string }).compute_partition_id, partitionId);

  // The node reads its own node (the instance named SOFTINST-n), not another one.
  const full = await legacyTls(
    master.url,
    'GET',
    '/getFullComputerInformation',
    { computer_id: one.id },
    one.tls,
  );
  assert.equal(full.status, 200, full.text);
  const partitions = attributesOf(full.text)._computer_partition_list as PyObject[];
  const busy = partitions.find((partition) => partition.attributes._partition_id === partitionId);
  assert.equal(busy?.attributes._instance_guid, guid);
  assert.deepEqual({ ...(busy?.attributes._filter_dict as MarshalDict) }, { computer_guid: one.id });
  const free = partitions.find((partition) => partition.attributes._partition_id !== partitionId);
  assert.equal(free?.attributes._instance_guid, `${one.id}-${text(free?.attributes._partition_id)}`);
  const other = await legacyTls(
    master.url,
    'GET',
    '/getFullComputerInformation',
    { computer_id: two.id },
    one.tls,
  );
  assert.equal(other.status, 404, other.text);
  assert.match(other.text, /is not registered/);

  // The node fetches the instance's certificate; the instance then reads only its own partition.
  const certificate = await legacyTls(
    master.url,
    'GET',
    '/getComputerPartitionCertificate',
    { computer_id: one.id, computer_partition_id: partitionId },
    one.tls,
  );
  assert.equal(certificate.status, 200, certificate.text);
  const pair = decodeMarshal(certificate.text) as { certificate: string; key: string };
  assert.match(pair.key, /^-----BEGIN PRIVATE KEY-----/);
  const instanceTls = { ca: master.caPem, key: pair.key, cert: pair.certificate };
  const own = await legacyTls(
    master.url,
    'GET',
    '/registerComputerPartition',
    { computer_reference: one.id, computer_partition_reference: partitionId },
    instanceTls,
  );
  assert.equal(own.status, 200, own.text);
  assert.equal(attributesOf(own.text)._instance_guid, guid);
  const otherPartition = await legacyTls(
    master.url,
    'GET',
    '/registerComputerPartition',
    { computer_reference: one.id, computer_partition_reference: text(free?.attributes._partition_id) },
    instanceTls,
  );
  assert.equal(otherPartition.status, 500, otherPartition.text);
  const wholeNode = await legacyTls(
    master.url,
    'GET',
    '/getFullComputerInformation',
    { computer_id: one.id },
    instanceTls,
  );
  assert.equal(wholeNode.status, 404, wholeNode.text);

  // The instance requests a child (its certificate says who asks) and publishes connection parameters.
  const child = await legacyTls(
    master.url,
    'POST',
    '/requestComputerPartition',
    { ...requestFields('child', one.id), computer_id: one.id, computer_partition_id: partitionId },
    instanceTls,
  );
  assert.equal(child.status, 200, child.text);
  const childAnswer = attributesOf(child.text);
  assert.match(text(childAnswer._instance_guid), /^SOFTINST-\d+$/);
  const published = await legacyTls(
    master.url,
    'POST',
    '/setComputerPartitionConnectionXml',
    {
      computer_id: one.id,
      computer_partition_id: partitionId,
      connection_xml: encodeMarshal({ url: 'https://hello' }),
    },
    instanceTls,
  );
  assert.equal(published.text, 'done');
  const after = await postTls(
    master.url,
    '/slapos.get.v0.software_instance',
    { instance_guid: guid },
    userTls,
  );
  assert.deepEqual((after.body as { connection_parameters: unknown }).connection_parameters, {
    url: 'https://hello',
  });

  // The node reports the root destroyed while it has a child: 200 and the children are named.
  const destroyed = await legacyTls(
    master.url,
    'POST',
    '/destroyedComputerPartition',
    { computer_id: one.id, computer_partition_id: partitionId },
    one.tls,
  );
  assert.equal(destroyed.status, 200, destroyed.text);
  assert.equal(destroyed.text, 'Not destroying yet because this partition has child partitions: child');
  // Another node's report on it is refused as not found.
  const stranger = await legacyTls(
    master.url,
    'POST',
    '/destroyedComputerPartition',
    { computer_id: one.id, computer_partition_id: partitionId },
    two.tls,
  );
  assert.equal(stranger.status, 404, stranger.text);
});

test('master mode: node certificate calls exist (slapproxy has none); anonymous callers get 401', async () => {
  const node = await registerNode('three');
  const generated = await legacyTls(
    master.url,
    'POST',
    '/generateComputerCertificate',
    { computer_id: node.id },
    node.tls,
  );
  assert.equal(generated.status, 200, generated.text);
  assert.ok(decodeMarshal(generated.text) !== null);
  const anonymous = await legacyTls(
    master.url,
    'GET',
    '/getFullComputerInformation',
    { computer_id: node.id },
    {
      ca: master.caPem,
    },
  );
  assert.equal(anonymous.status, 401, anonymous.text);
  assert.match(anonymous.text, /^<!doctype html>/);
});

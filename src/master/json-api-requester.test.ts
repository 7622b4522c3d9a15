/**
 * Our requester extension of `post.v0.software_instance` (src/master/http/requester.ts): an
 * instance requesting a child names its partition in two headers, and the child joins its tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';
import { startMasterWithNode } from '../testing/master-with-node.ts';
import { callApi } from '../testing/master.ts';

const SR = 'http://sr/software.cfg';
const POST = '/slapos.post.v0.software_instance';

test('a request naming its requester partition joins the requester tree, as the legacy API does', async () => {
  const env = await startMasterWithNode({ computerGuid: 'computer', partitions: 3 });
  try {
    const root = await env.client.requestInstance({ title: 'root', softwareReleaseUri: SR });
    assert.equal(root.compute_partition_id, 'slappart0');
    const requester = { computerGuid: env.computerGuid, partitionId: root.compute_partition_id };
    const child = await env.client.requestInstance({
      title: 'child',
      softwareReleaseUri: SR,
      softwareType: 'worker',
      parameters: { size: '2' },
      requester,
    });
    assert.equal(child.instance_guid, 'child___root___0');
    assert.equal(child.root_instance_title, 'root');
    assert.equal(child.compute_partition_id, 'slappart1');

    // A grandchild requested by the child still belongs to the root's tree.
    const grandchild = await env.client.requestInstance({
      title: 'grandchild',
      softwareReleaseUri: SR,
      requester: { computerGuid: env.computerGuid, partitionId: 'slappart1' },
    });
    assert.equal(grandchild.instance_guid, 'grandchild___root___0');

    // Re-requesting with the same inputs is the same instance, not a new allocation.
    const again = await env.client.requestInstance({
      title: 'child',
      softwareReleaseUri: SR,
      softwareType: 'worker',
      parameters: { size: '2' },
      requester,
    });
    assert.equal(again.compute_partition_id, 'slappart1');

    // A free or unknown requester partition makes a root request (slapproxy's rule).
    await env.client.formatComputeNode({
      computerGuid: env.computerGuid,
      partitions: ['slappart0', 'slappart1', 'slappart2', 'slappart3'].map((reference, index) => ({
        reference,
        addresses: [{ address: `127.0.1.${index + 1}`, networkInterface: 'lo', netmask: '255.0.0.0' }],
      })),
    });
    const orphan = await env.client.requestInstance({
      title: 'orphan',
      softwareReleaseUri: SR,
      requester: { computerGuid: env.computerGuid, partitionId: 'no-such-partition' },
    });
    assert.equal(orphan.instance_guid, 'orphan______0');
  } finally {
    await env.close();
  }
});

test('requester headers: both or neither, once each; a bad pair is a 400 with a clear title', async () => {
  const env = await startMasterWithNode({ computerGuid: 'computer', partitions: 1 });
  try {
    const body = { title: 'x', software_release_uri: SR, software_type: 'default' };
    const one = await callApi(env.url, POST, body, {
      headers: { 'x-slapos-requester-computer-guid': env.computerGuid },
    });
    assert.equal(one.status, 400);
    assert.match(
      (one.body as { title: string }).title,
      /needs both x-slapos-requester-computer-guid and x-slapos-requester-partition-id/,
    );
    const empty = await callApi(env.url, POST, body, {
      headers: { 'x-slapos-requester-computer-guid': '', 'x-slapos-requester-partition-id': 'slappart0' },
    });
    assert.equal(empty.status, 400);
    await rejectsWithSlapError(
      env.client.requestInstance({
        title: 'x',
        softwareReleaseUri: SR,
        requester: { computerGuid: env.computerGuid, partitionId: ' ' },
      }),
      'SLAP_ERR_INVALID_INPUT',
      /requester partition needs both/,
    );
    // Nothing was allocated by the refused requests.
    const free = await env.client.requestInstance({ title: 'x', softwareReleaseUri: SR });
    assert.equal(free.compute_partition_id, 'slappart0');
  } finally {
    await env.close();
  }
});

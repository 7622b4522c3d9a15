/** Concurrent requests over real HTTP (separate connections): writes are serialised, nothing is allocated twice. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { apiResponseProblem } from '../testing/api-schema.ts';
import { formatTestNode, withTestMaster } from '../testing/master.ts';

const POST = '/slapos.post.v0.software_instance';

async function concurrently(url: string, bodies: unknown[]): Promise<{ status: number; body: unknown }[]> {
  // One connection per request, so that they really are in flight together.
  const agent = new Agent({ connections: bodies.length, pipelining: 0 });
  try {
    return await Promise.all(
      bodies.map(async (body) => {
        const response = await agent.request({
          origin: url,
          path: POST,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        const parsed: unknown = await response.body.json();
        assert.equal(apiResponseProblem(POST, response.statusCode, parsed), undefined);
        return { status: response.statusCode, body: parsed };
      }),
    );
  } finally {
    await agent.close();
  }
}

test('the same request sent 8 times at once creates one instance on one partition', async () => {
  await withTestMaster(async ({ url, api }) => {
    await formatTestNode(url, { partitions: 4 });
    const body = {
      title: 'Once',
      software_release_uri: 'http://sr//',
      software_type: 'default',
      parameters: { a: 'b' },
    };
    const answers = await concurrently(
      url,
      Array.from({ length: 8 }, () => body),
    );
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, answers[0]?.body);
    }
    const list = await api('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'computer' });
    assert.deepEqual(list.body, {
      result_list: [
        {
          title: 'Once',
          instance_guid: 'Once______0',
          state: 'started',
          compute_partition_id: 'slappart0',
          software_release_uri: 'http://sr//',
        },
      ],
    });
  });
});

test('8 different requests at once get 8 different partitions, and the 9th finds none', async () => {
  await withTestMaster(async ({ url, api }) => {
    await formatTestNode(url, { partitions: 8 });
    const bodies = Array.from({ length: 9 }, (_, index) => ({
      title: `I${index}`,
      software_release_uri: 'http://sr//',
      software_type: 'default',
    }));
    const answers = await concurrently(url, bodies);
    const partitions = answers
      .filter((answer) => answer.status === 200)
      .map((answer) => (answer.body as { compute_partition_id: string }).compute_partition_id);
    assert.equal(partitions.length, 8);
    assert.equal(new Set(partitions).size, 8);
    assert.equal(answers.filter((answer) => answer.status === 403).length, 1);
    const list = await api('/slapos.allDocs.v0.compute_node_instance_list', { computer_guid: 'computer' });
    assert.equal((list.body as { result_list: unknown[] }).result_list.length, 8);
  });
});

/**
 * gzip'd answers: the memoized reads (a node's instance list, its snapshot) of 1 KiB or more go
 * gzip'd to a client whose Accept-Encoding allows it, and decompress to the very bytes of the
 * identity answer; other answers, and clients that do not ask or refuse gzip (q=0), get identity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { formatTestNode, withTestMaster } from '../testing/master.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { acceptsGzip } from './http/request-context.ts';

const LIST = '/slapos.allDocs.v0.compute_node_instance_list';
const SNAPSHOT = '/slapos.get.ext.compute_node_snapshot';

interface RawAnswer {
  status: number;
  encoding: string | undefined;
  vary: string | undefined;
  /** The body as JSON text, decompressed when it came gzip'd. */
  text: string;
}

async function post(url: string, path: string, body: unknown, acceptEncoding?: string): Promise<RawAnswer> {
  const response = await request(`${url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding }),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const header = (name: string): string | undefined => {
    const value = response.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const encoding = header('content-encoding');
  return {
    status: response.statusCode,
    encoding,
    vary: header('vary'),
    text: (encoding === 'gzip' ? gunzipSync(bytes) : bytes).toString('utf8'),
  };
}

/** A node with `instances` instances allocated on it (each list item is ~200 bytes of JSON). */
async function nodeWithInstances(
  url: string,
  api: (path: string, body: unknown) => Promise<{ status: number }>,
  instances: number,
  partitions = instances,
): Promise<void> {
  await formatTestNode(url, { partitions });
  for (let index = 0; index < instances; index++) {
    const answer = await api('/slapos.post.v0.software_instance', {
      title: `instance-${index}`,
      software_release_uri: 'http://sr//',
      software_type: 'default',
    });
    assert.equal(answer.status, 200);
  }
}

test('a memoized list of 1 KiB or more is gzip’d only for a client that accepts gzip, and decompresses to the same JSON', async () => {
  await withTestMaster(async ({ url, api }) => {
    await nodeWithInstances(url, api, 20);
    const body = { computer_guid: 'computer' };
    const identity = await post(url, LIST, body);
    assert.equal(identity.status, 200);
    assert.equal(identity.encoding, undefined);
    assert.equal(identity.vary, 'accept-encoding');
    assert.ok(identity.text.length >= 1024, `the list is ${identity.text.length} bytes`);
    assert.equal((JSON.parse(identity.text) as { result_list: unknown[] }).result_list.length, 20);

    for (const accept of [
      'gzip',
      'gzip, deflate, br',
      'br;q=1, GZIP;q=0.5',
      'x-gzip',
      '*',
      'identity, *;q=0.1',
    ]) {
      const gzipped = await post(url, LIST, body, accept);
      assert.equal(gzipped.status, 200, accept);
      assert.equal(gzipped.encoding, 'gzip', accept);
      assert.equal(gzipped.vary, 'accept-encoding', accept);
      assert.equal(gzipped.text, identity.text, accept);
    }
    for (const accept of ['', 'identity', 'gzip;q=0', 'deflate, br', '*;q=0', 'gzip;q=0, *', 'br, *;q=0']) {
      const plain = await post(url, LIST, body, accept);
      assert.equal(plain.encoding, undefined, JSON.stringify(accept));
      assert.equal(plain.text, identity.text, JSON.stringify(accept));
    }

    // The change stream's snapshot is memoized too.
    const snapshot = await post(url, SNAPSHOT, body);
    const gzippedSnapshot = await post(url, SNAPSHOT, body, 'gzip');
    assert.equal(gzippedSnapshot.encoding, 'gzip');
    assert.equal(gzippedSnapshot.text, snapshot.text);

    // A change makes a new memoized answer: its gzip bytes are the new list's, not the cached old ones.
    await api('/slapos.post.v0.software_instance', {
      title: 'instance-0',
      software_release_uri: 'http://sr//',
      software_type: 'default',
      state: 'stopped',
    });
    const changed = await post(url, LIST, body, 'gzip');
    assert.equal(changed.encoding, 'gzip');
    assert.notEqual(changed.text, identity.text);
    assert.equal(changed.text, (await post(url, LIST, body)).text);
  });
});

test('small memoized answers, other answers and errors are never gzip’d', async () => {
  await withTestMaster(async ({ url, api }) => {
    await nodeWithInstances(url, api, 1, 2);
    const small = await post(url, LIST, { computer_guid: 'computer' }, 'gzip');
    assert.equal(small.status, 200);
    assert.ok(small.text.length < 1024);
    assert.equal(small.encoding, undefined);
    assert.equal(small.vary, undefined);

    // Not memoized, however large: an instance with 4 KB of parameters.
    const large = await post(
      url,
      '/slapos.post.v0.software_instance',
      {
        title: 'large',
        software_release_uri: 'http://sr//',
        software_type: 'default',
        parameters: { text: 'x'.repeat(4096) },
      },
      'gzip',
    );
    assert.equal(large.status, 200, large.text);
    assert.ok(large.text.length > 4096);
    assert.equal(large.encoding, undefined);
    const tree = await post(url, '/slapos.get.v0.instance_tree', { title: 'instance-0' }, 'gzip');
    assert.equal(tree.status, 200);
    assert.equal(tree.encoding, undefined);
    const refused = await post(url, LIST, { computer_guid: 'NOPE' }, 'gzip');
    assert.equal(refused.status, 403);
    assert.equal(refused.encoding, undefined);
  });
});

test('acceptsGzip: any Accept-Encoding, however hostile, gives an answer (gzip only when a q>0 allows it)', () => {
  const random = seededRandom(7);
  let checked = 0;
  while (checked < 2000) {
    const header = hostileString(random);
    if (/gzip|\*/i.test(header)) continue;
    checked++;
    assert.equal(acceptsGzip(header), false, JSON.stringify(header));
    assert.equal(acceptsGzip(`${header},gzip`), true, JSON.stringify(header));
    assert.equal(acceptsGzip(`${header},gzip;q=0`), false, JSON.stringify(header));
    assert.equal(acceptsGzip(`gzip;q=0.5,${header}`), true, JSON.stringify(header));
  }
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip(['deflate', 'gzip;q=0.001']), true);
  assert.equal(acceptsGzip('gzip;q=abc'), false);
  assert.equal(acceptsGzip('gzip;q='), false);
  assert.equal(acceptsGzip('gzip ; q = 0'), false);
  assert.equal(acceptsGzip('gzipped, gzip2'), false);
});

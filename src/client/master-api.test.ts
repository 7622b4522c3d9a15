/**
 * createMasterClient's `auto`: one probe (`slapos.get.v0.hateoas_url`) at the first call, 404 → the
 * legacy API, any other answer → the JSON API, no answer → decided at a later call; and the legacy
 * transport's error mapping against peers on 127.0.0.1 that answer what a legacy master may.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { createMasterClient, probedMasterApi } from './master-api.ts';
import { errorPageMessage } from './legacy/legacy-transport.ts';
import { startHttpServer, type TestHttpServer } from '../testing/http-server.ts';
import { startTestMaster, type TestMaster } from '../testing/master.ts';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';

const SR = 'https://example.com/software/hello/software.cfg';
const PROBE = '/slapos.get.v0.hateoas_url';

function page(status: number, title: string, message: string): string {
  return `<!doctype html>\n<html lang=en>\n<title>${status} ${title}</title>\n<h1>${title}</h1>\n<p>${message}</p>\n`;
}

let legacyOnly: TestMaster;
let jsonOnly: TestMaster;

before(async () => {
  legacyOnly = await startTestMaster({ api: 'legacy' });
  jsonOnly = await startTestMaster({ api: 'json' });
});

after(async () => {
  await legacyOnly.close();
  await jsonOnly.close();
});

test('auto against our masters: JSON-only → json, legacy-only → legacy, both work', async () => {
  for (const [master, api] of [
    [jsonOnly, 'json'],
    [legacyOnly, 'legacy'],
  ] as const) {
    const client = createMasterClient({ masterUrl: master.url });
    try {
      assert.equal(probedMasterApi(client), undefined, 'nothing probed before the first call');
      const answer = await client.supply({ softwareReleaseUri: SR, computerGuid: 'computer' });
      assert.equal(answer.type, 'success');
      assert.equal(probedMasterApi(client), api);
    } finally {
      await client.close();
    }
  }
});

test('auto probes once, whatever the number of calls, concurrent or not', async () => {
  const server = await startHttpServer((request, response) => {
    if (request.url === PROBE) {
      response.writeHead(404, { 'content-type': 'text/html' }).end(page(404, 'Not Found', 'no such path'));
    } else {
      response.writeHead(200, { 'content-type': 'text/html' }).end(`Supplied '${SR}' to be available`);
    }
  });
  const client = createMasterClient({ masterUrl: server.url });
  try {
    const call = (): Promise<unknown> => client.supply({ softwareReleaseUri: SR, computerGuid: 'C' });
    await Promise.all([call(), call(), call()]);
    await call();
    assert.equal(server.requests.filter((request) => request.url === PROBE).length, 1);
    assert.deepEqual(
      server.requests.filter((request) => request.url !== PROBE).map((request) => request.url),
      ['/supplySupply', '/supplySupply', '/supplySupply', '/supplySupply'],
    );
    assert.equal(probedMasterApi(client), 'legacy');
  } finally {
    await client.close();
    await server.close();
  }
});

test('auto: a probe without an answer decides nothing; the next call probes again', async () => {
  let up = false;
  const server = await startHttpServer((request, response) => {
    if (!up) {
      request.socket.destroy();
      return;
    }
    if (request.url === PROBE) response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ hateoas_url: 'http://127.0.0.1/hateoas' }));
  });
  const client = createMasterClient({ masterUrl: server.url, timeoutMs: 5_000 });
  try {
    await rejectsWithSlapError(client.getHateoasUrl(), 'SLAP_ERR_UNAVAILABLE');
    assert.equal(probedMasterApi(client), undefined);
    up = true;
    assert.equal(await client.getHateoasUrl(), 'http://127.0.0.1/hateoas');
    assert.equal(probedMasterApi(client), 'json');
  } finally {
    await client.close();
    await server.close();
  }
});

test('legacy errors: the page message, 404, 408, 500, oversized and unreadable answers', async () => {
  let answer: (response: ServerResponse) => void = () => undefined;
  const server: TestHttpServer = await startHttpServer((_request, response) => answer(response));
  const client = createMasterClient({ api: 'legacy', masterUrl: server.url, maxResponseBytes: 4096 });
  const request = (): Promise<unknown> => client.requestInstance({ title: 'T', softwareReleaseUri: SR });
  const reply = (status: number, body: string): void => {
    answer = (response) => response.writeHead(status, { 'content-type': 'text/html' }).end(body);
  };
  try {
    reply(404, page(404, 'Not Found', 'No free computer partition found for: T &lt;&amp;&#39;x&#39;&gt;'));
    const allocation = await rejectsWithSlapError(request(), 'SLAP_ERR_ALLOCATION_FAILED');
    assert.equal(allocation.message, "No free computer partition found for: T <&'x'>");
    const missing = await rejectsWithSlapError(
      client.supply({ softwareReleaseUri: SR, computerGuid: 'C' }),
      'SLAP_ERR_NOT_FOUND',
    );
    assert.match(missing.message, /No free computer partition/);
    await rejectsWithSlapError(client.listSoftwareInstallations('C'), 'SLAP_ERR_COMPUTE_NODE_NOT_FOUND');
    reply(500, page(500, 'Internal Server Error', 'No instance on partition slappart9 found.'));
    await rejectsWithSlapError(
      client.getComputePartition({ computerGuid: 'C', partitionId: 'slappart9' }),
      'SLAP_ERR_PARTITION_NOT_FOUND',
    );

    reply(408, page(408, 'Request Timeout', 'Resource not ready'));
    const notReady = await rejectsWithSlapError(request(), 'SLAP_ERR_NOT_READY');
    assert.equal(notReady.message, 'Resource not ready');
    assert.ok(notReady.hint);

    reply(500, page(500, 'Internal Server Error', 'The server encountered an internal error'));
    await rejectsWithSlapError(request(), 'SLAP_ERR_INTERNAL');
    reply(401, JSON.stringify({ status: 401, type: 'Unauthorized', title: 'Authentication required' }));
    const json = await rejectsWithSlapError(request(), 'SLAP_ERR_UNAUTHENTICATED');
    assert.equal(json.message, 'Authentication required');
    reply(400, 'no page at all');
    const bad = await rejectsWithSlapError(request(), 'SLAP_ERR_INVALID_INPUT');
    assert.match(bad.message, /HTTP 400/);

    reply(200, `<marshal><string>${'x'.repeat(10_000)}</string></marshal>`);
    const large = await rejectsWithSlapError(request(), 'SLAP_ERR_UNAVAILABLE');
    assert.match(large.message, /more than 4096 bytes/);
    reply(200, '<html>not marshalled</html>');
    await rejectsWithSlapError(request(), 'SLAP_ERR_UNAVAILABLE');
    reply(200, '<marshal><string>a string, not an instance</string></marshal>');
    const shape = await rejectsWithSlapError(request(), 'SLAP_ERR_UNAVAILABLE');
    assert.match(shape.message, /does not follow the legacy SLAP API/);
    reply(302, '');
    await rejectsWithSlapError(request(), 'SLAP_ERR_UNAVAILABLE');
  } finally {
    await client.close();
    await server.close();
  }
});

test('error pages: the first <p>, its tags dropped and entities decoded, bounded', () => {
  assert.equal(
    errorPageMessage('<p>a &#x41;&#66; &quot;q&quot; &bogus; <b>bold</b></p><p>second</p>'),
    'a AB "q" &bogus; bold',
  );
  assert.equal(errorPageMessage('<p>&#1114112; &#xD800;</p>'), '&#1114112; &#xD800;');
  assert.equal(errorPageMessage('no paragraph'), undefined);
  assert.equal(errorPageMessage('<p>  </p>'), undefined);
  assert.equal(errorPageMessage(`<p>${'y'.repeat(5000)}</p>`)?.length, 2001);
});

test('a link in an answer never leads the client to another server', async () => {
  const server = await startHttpServer((request, response) => {
    if (!(request.url ?? '').startsWith('/prefix/hateoas/')) {
      response.writeHead(404, { 'content-type': 'text/html' }).end(page(404, 'Not Found', 'not here'));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    const relative = new URL(request.url ?? '/', 'http://x').searchParams.get('query')?.includes('title:=')
      ? '/http://127.0.0.2:9/steal'
      : '/hateoas/';
    response.end(JSON.stringify({ _embedded: { contents: [{ title: 'T', relative_url: relative }] } }));
  });
  const client = createMasterClient({ api: 'legacy', masterUrl: `${server.url}/prefix` });
  try {
    const error = await rejectsWithSlapError(client.getInstanceTree('T'), 'SLAP_ERR_UNAVAILABLE');
    assert.match(error.message, /not a path of the master/);
    assert.ok(server.requests.every((request) => request.url.startsWith('/prefix/')));
  } finally {
    await client.close();
    await server.close();
  }
});

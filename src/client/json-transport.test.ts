/**
 * How the client copes with masters that misbehave or are missing: a plain HTTP server on loopback
 * plays the broken master (a real master never answers garbage). The real master is exercised in
 * master-client.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { sendJson, startHttpServer, type TestHttpServer } from '../testing/http-server.ts';
import { JsonMasterClient } from './master-client.ts';
import { rejectsWithSlapError, throwsSlapError } from '../testing/slap-error-assert.ts';

const INSTANCE = {
  title: 'MyInstance',
  instance_guid: 'MyInstance______0',
  software_release_uri: 'http://sr/software.cfg',
  software_type: 'default',
  state: 'started',
  connection_parameters: {},
  parameters: {},
  shared: false,
  root_instance_title: 'MyInstance',
  ip_list: [],
  full_ip_list: [],
  sla_parameters: {},
  computer_guid: 'COMP-0',
  compute_partition_id: 'slappart0',
  processing_timestamp: 0,
  access_status_message: '',
};

async function withServer(
  handler: Parameters<typeof startHttpServer>[0],
  body: (server: TestHttpServer, client: JsonMasterClient) => Promise<void>,
  clientOptions: { timeoutMs?: number; maxResponseBytes?: number } = {},
): Promise<void> {
  const server = await startHttpServer(handler);
  const client = new JsonMasterClient({ masterUrl: server.url, ...clientOptions });
  try {
    await body(server, client);
  } finally {
    await client.close();
    await server.close();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a master URL that is not http(s) is a configuration error', () => {
  for (const masterUrl of ['not a url', 'ftp://host/', 'http://host/?q=1']) {
    throwsSlapError(() => new JsonMasterClient({ masterUrl }), 'SLAP_ERR_CONFIG', /master URL/);
  }
});

test('the master URL may carry a path prefix and a trailing slash', async () => {
  await withServer(
    (_request, response) => sendJson(response, 200, { result_list: [] }),
    async (server) => {
      const client = new JsonMasterClient({ masterUrl: `${server.url}/prefix/` });
      try {
        assert.equal(client.masterUrl, `${server.url}/prefix`);
        assert.deepEqual(await client.listInstanceTrees(), []);
        assert.equal(server.requests[0]?.url, '/prefix/slapos.allDocs.v0.instance_tree_list');
        assert.equal(server.requests[0]?.method, 'POST');
        assert.deepEqual(JSON.parse(server.requests[0]?.body ?? ''), {});
      } finally {
        await client.close();
      }
    },
  );
});

test('an unreachable master fails fast with UNAVAILABLE and a hint naming its URL', async () => {
  const masterUrl = `http://127.0.0.1:${await freePort()}`;
  const client = new JsonMasterClient({ masterUrl, timeoutMs: 5_000 });
  try {
    const error = await rejectsWithSlapError(
      client.listInstanceTrees(),
      'SLAP_ERR_UNAVAILABLE',
      /cannot reach the master/,
    );
    assert.match(error.message, new RegExp(masterUrl.replace(/\./g, '\\.')));
    assert.match(error.hint ?? '', new RegExp(`${masterUrl.replace(/\./g, '\\.')}.*--master-url`));
    assert.equal(error.exitCode, 69);
  } finally {
    await client.close();
  }
});

test('a master that does not answer in time fails with TIMEOUT', async () => {
  await withServer(
    () => {
      /* never answers */
    },
    async (_server, client) => {
      const error = await rejectsWithSlapError(
        client.listInstanceTrees(),
        'SLAP_ERR_TIMEOUT',
        /did not answer/,
      );
      assert.equal(error.exitCode, 69);
      // A per-call deadline overrides the client's.
      await rejectsWithSlapError(
        client.getHateoasUrl({ timeoutMs: 100 }),
        'SLAP_ERR_TIMEOUT',
        /within 0\.1 s/,
      );
    },
    { timeoutMs: 200 },
  );
});

test("a call aborted by the caller's signal rejects with the signal's reason", async () => {
  await withServer(
    () => {
      /* never answers */
    },
    async (_server, client) => {
      const controller = new AbortController();
      const reason = new Error('shutting down');
      const call = client.listComputeNodes({ signal: controller.signal });
      controller.abort(reason);
      await assert.rejects(call, (error: unknown) => error === reason);
      const already = AbortSignal.abort(reason);
      await assert.rejects(
        client.listComputeNodes({ signal: already }),
        (error: unknown) => error === reason,
      );
    },
  );
});

test('a 200 answer that is not JSON is UNAVAILABLE, not a crash', async () => {
  await withServer(
    (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html><body>Welcome to nginx</body></html>');
    },
    async (_server, client) => {
      await rejectsWithSlapError(
        client.listInstanceTrees(),
        'SLAP_ERR_UNAVAILABLE',
        /not JSON: "<html><body>Welcome/,
      );
    },
  );
});

test('an answer that violates the API contract is UNAVAILABLE with what is wrong', async () => {
  await withServer(
    (request, response) => {
      if (request.url === '/slapos.allDocs.v0.instance_tree_list')
        sendJson(response, 200, { result_list: [{}] });
      else sendJson(response, 200, { ...INSTANCE, state: 'exploded' });
    },
    async (_server, client) => {
      await rejectsWithSlapError(
        client.listInstanceTrees(),
        'SLAP_ERR_UNAVAILABLE',
        /does not follow the JSON API.*title/,
      );
      await rejectsWithSlapError(client.getInstance('MyInstance______0'), 'SLAP_ERR_UNAVAILABLE', /state/);
    },
  );
});

test('a well-formed instance answer is returned as the API object', async () => {
  await withServer(
    (_request, response) => sendJson(response, 200, INSTANCE),
    async (server, client) => {
      const instance = await client.requestInstance({
        title: 'MyInstance',
        softwareReleaseUri: 'http://sr/software.cfg',
        parameters: { a: '1' },
        slaParameters: { computer_guid: 'COMP-0', retention_delay: 2 },
      });
      assert.deepEqual(instance, INSTANCE);
      assert.deepEqual(JSON.parse(server.requests[0]?.body ?? ''), {
        title: 'MyInstance',
        software_release_uri: 'http://sr/software.cfg',
        software_type: 'default',
        parameters: { a: '1' },
        sla_parameters: { computer_guid: 'COMP-0', retention_delay: 2 },
      });
    },
  );
});

test('API error bodies become SlapErrors with fitting codes, keeping the message', async () => {
  const answers: Record<string, [number, string]> = {
    '/slapos.post.v0.software_instance': [403, 'No free computer partition found for: foo'],
    '/slapos.get.v0.software_instance': [403, 'No software instance foo______0 found.'],
    '/slapos.get.v0.instance_tree': [403, 'No instance tree FOO found.'],
    '/slapos.allDocs.v0.compute_node_instance_list': [403, 'COMP-9 is not registered.'],
    '/slapos.put.v0.software_instance_reported_state': [
      403,
      'Not destroying yet because this partition has child partitions: a, b',
    ],
    '/slapos.put.v0.software_instance_bang': [403, 'Some policy says no'],
    '/slapos.post.v0.software_installation': [400, "'computer_guid' is a required property"],
    '/slapos.get.v0.compute_node_status': [408, 'Resource not ready'],
    '/slapos.get.v0.hateoas_url': [500, 'Internal server error'],
    '/slapos.allDocs.WIP.compute_node_list': [503, 'Starting up'],
  };
  await withServer(
    (request, response) => {
      const [status, title] = answers[request.url ?? ''] ?? [418, 'unexpected'];
      sendJson(response, status, { status, type: 'Whatever', title });
    },
    async (_server, client) => {
      const request = { title: 'foo', softwareReleaseUri: 'http://sr/' };
      let error = await rejectsWithSlapError(client.requestInstance(request), 'SLAP_ERR_ALLOCATION_FAILED');
      assert.equal(error.message, 'No free computer partition found for: foo');
      assert.equal(error.status, 403);
      await rejectsWithSlapError(
        client.getInstance('foo______0'),
        'SLAP_ERR_INSTANCE_NOT_FOUND',
        /^No software instance/,
      );
      await rejectsWithSlapError(client.getInstanceTree('FOO'), 'SLAP_ERR_INSTANCE_TREE_NOT_FOUND');
      await rejectsWithSlapError(
        client.listComputeNodeInstances('COMP-9'),
        'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
      );
      await rejectsWithSlapError(
        client.reportInstanceState({ instanceGuid: 'a______0', state: 'destroyed' }),
        'SLAP_ERR_HAS_CHILDREN',
      );
      error = await rejectsWithSlapError(
        client.bang({ instanceGuid: 'x', message: 'm' }),
        'SLAP_ERR_FORBIDDEN',
      );
      assert.equal(error.message, 'Some policy says no');
      error = await rejectsWithSlapError(
        client.supply({ softwareReleaseUri: 'u', computerGuid: '' }),
        'SLAP_ERR_INVALID_INPUT',
      );
      assert.equal(error.message, "'computer_guid' is a required property");
      await rejectsWithSlapError(client.getComputeNodeStatus('COMP-0'), 'SLAP_ERR_NOT_READY');
      await rejectsWithSlapError(client.getHateoasUrl(), 'SLAP_ERR_INTERNAL');
      await rejectsWithSlapError(client.listComputeNodes(), 'SLAP_ERR_UNAVAILABLE', /Starting up/);
    },
  );
});

test('an error status without an API body (an HTML 404) names the status and the path', async () => {
  await withServer(
    (_request, response) => {
      response.writeHead(404, { 'content-type': 'text/html' });
      response.end('<title>404 Not Found</title>');
    },
    async (server, client) => {
      const error = await rejectsWithSlapError(client.listComputeNodes(), 'SLAP_ERR_NOT_FOUND', /HTTP 404/);
      assert.match(error.message, /slapos\.allDocs\.WIP\.compute_node_list/);
      assert.match(error.hint ?? '', new RegExp(server.url.replace(/\./g, '\\.')));
    },
  );
});

test('the {message, name, status} form of a request answer is an error, 408 meaning not ready', async () => {
  await withServer(
    (_request, response) =>
      sendJson(response, 200, { status: 408, name: 'Resource not ready', message: 'Wait' }),
    async (_server, client) => {
      const error = await rejectsWithSlapError(
        client.requestInstance({ title: 'a', softwareReleaseUri: 'b' }),
        'SLAP_ERR_NOT_READY',
      );
      assert.equal(error.exitCode, 2);
    },
  );
});

test('an answer over the size limit is refused', async () => {
  await withServer(
    (_request, response) => sendJson(response, 200, { result_list: [{ title: 'x'.repeat(10_000) }] }),
    async (_server, client) => {
      await rejectsWithSlapError(client.listInstanceTrees(), 'SLAP_ERR_UNAVAILABLE', /more than 1000 bytes/);
    },
    { maxResponseBytes: 1000 },
  );
});

test('a connection that breaks mid-answer is UNAVAILABLE', async () => {
  await withServer(
    (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      response.write('{"result_list": [');
      setTimeout(() => response.socket?.destroy(), 20);
    },
    async (_server, client) => {
      await rejectsWithSlapError(client.listInstanceTrees(), 'SLAP_ERR_UNAVAILABLE');
    },
  );
});

test('calls reuse one keep-alive connection; close() is idempotent and later calls fail', async () => {
  const ports = new Set<number>();
  await withServer(
    (request, response) => {
      ports.add(request.socket.remotePort ?? 0);
      sendJson(response, 200, { result_list: [] });
    },
    async (_server, client) => {
      for (let i = 0; i < 10; i++) await client.listInstanceTrees();
      // undici may open a second connection while the first is being released, never one per call.
      assert.ok(ports.size <= 2, `${ports.size} connections for 10 calls`);
      await client.close();
      await client.close();
      await rejectsWithSlapError(client.listInstanceTrees(), 'SLAP_ERR_INTERNAL', /closed/);
    },
  );
});

test('a master without the promise results extension (404) is remembered: one call, then none', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const server = await startHttpServer((request, response) => {
    if (request.url === '/slapos.get.v0.software_instance') return sendJson(response, 200, INSTANCE);
    // What a master without our extensions answers (SlapOS's own: an HTML page).
    response.writeHead(404, { 'content-type': 'text/html' });
    response.end('<title>404 Not Found</title>');
  });
  const client = new JsonMasterClient({ masterUrl: server.url, logger });
  try {
    assert.equal(client.supportsPromiseResults, true);
    const results = [
      { name: 'apache', status: 'pass' as const, message: 'ok', date: '2023-11-14T22:13:20Z' },
    ];
    assert.equal(
      await client.reportPromiseResults({ instanceGuid: 'MyInstance______0', results }),
      undefined,
    );
    assert.equal(client.supportsPromiseResults, false);
    assert.equal(
      await client.reportPromiseResults({ instanceGuid: 'MyInstance______0', results }),
      undefined,
    );
    assert.equal(await client.getPromiseResults('MyInstance______0'), undefined);
    assert.deepEqual(
      server.requests.map((r) => r.url),
      ['/slapos.put.ext.software_instance_promise_result'],
      'no call after the first 404',
    );
    // The v0 calls are not affected.
    assert.equal((await client.getInstance('MyInstance______0')).title, 'MyInstance');
    const notes = lines.filter((line) => line.includes('does not know promise results'));
    assert.equal(notes.length, 1, 'logged once');
    assert.equal((JSON.parse(notes[0] ?? '{}') as { level: number }).level, 20, 'at debug');
  } finally {
    await client.close();
    await server.close();
  }
});

test('other promise results failures are errors, and the extension is not given up', async () => {
  let status = 503;
  await withServer(
    (_request, response) => sendJson(response, status, { status, type: 'Error', title: 'busy' }),
    async (server, client) => {
      await rejectsWithSlapError(client.getPromiseResults('x______0'), 'SLAP_ERR_UNAVAILABLE');
      status = 403;
      await rejectsWithSlapError(
        client.reportPromiseResults({ instanceGuid: 'x______0', results: [] }),
        'SLAP_ERR_FORBIDDEN',
      );
      assert.equal(client.supportsPromiseResults, true);
      assert.equal(server.requests.length, 2);
    },
  );
});

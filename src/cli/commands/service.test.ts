import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance } from '../../client/types.ts';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { sendJson, startHttpServer } from '../../testing/http-server.ts';
import { startMasterWithNode, type MasterWithNode } from '../../testing/master-with-node.ts';

const SR = 'https://example.com/software/hello/software.cfg';
const env = isolatedClientEnv();
let master: MasterWithNode;

before(async () => {
  master = await startMasterWithNode({ computerGuid: 'COMP-SERVICE' });
});
after(() => master.close());

function slapos(args: string[]): ReturnType<typeof runSlapos> {
  return runSlapos([...args, '--master-url', master.url], { env });
}

test('service list with no service says so', async () => {
  const run = await slapos(['service', 'list']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'No existing service.\n');
  const json = await slapos(['service', 'list', '--json']);
  assert.deepEqual(JSON.parse(json.stdout), []);
});

test('service list and service info show the requested services', async () => {
  await master.client.requestInstance({
    title: 'blog',
    softwareReleaseUri: SR,
    parameters: { theme: 'dark' },
    slaParameters: { computer_guid: 'COMP-SERVICE' },
  });
  await master.client.requestInstance({
    title: 'wiki',
    softwareReleaseUri: `${SR}?v=2`,
    slaParameters: { computer_guid: 'COMP-SERVICE' },
  });
  await master.client.setConnectionParameters({
    instanceGuid: 'blog______0',
    parameters: { url: 'http://blog/' },
  });

  const list = await slapos(['service', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout, `List of services:\nblog ${SR}\nwiki ${SR}?v=2\n`);
  const listJson = JSON.parse((await slapos(['service', 'list', '--json'])).stdout) as Instance[];
  assert.deepEqual(
    listJson.map((instance) => [instance.title, instance.instance_guid, instance.state]),
    [
      ['blog', 'blog______0', 'started'],
      ['wiki', 'wiki______0', 'started'],
    ],
  );

  const info = await slapos(['service', 'info', 'blog']);
  assert.equal(info.code, 0, info.stderr);
  assert.equal(
    info.stdout,
    [
      `Software Release URL: ${SR}`,
      'Instance state: started',
      'Node status: waiting for its software release (not supplied to its compute node: slapos supply)',
      'Instance parameters:',
      "{'theme': 'dark'}",
      'Connection parameters:',
      "{'url': 'http://blog/'}",
      '',
    ].join('\n'),
  );
  const infoJson = JSON.parse((await slapos(['service', 'info', 'blog', '--json'])).stdout) as Instance;
  assert.deepEqual(infoJson.connection_parameters, { url: 'http://blog/' });
  assert.equal(infoJson.compute_partition_id.startsWith('slappart'), true);
});

test('service info of an unknown service: a message and exit 1, no stack trace', async () => {
  const run = await slapos(['service', 'info', 'nothing-here']);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.match(
    run.stderr,
    /slapos: error: Instance nothing-here does not exist\.\nhint: `slapos service list`/,
  );
  const missing = await slapos(['service', 'info']);
  assert.equal(missing.code, 5);
  assert.match(missing.stderr, /missing required argument 'reference'/);
});

test('service info shows the promise results the node reported; --json adds them under promise_results', async () => {
  await master.client.requestInstance({
    title: 'shop',
    softwareReleaseUri: SR,
    slaParameters: { computer_guid: 'COMP-SERVICE' },
  });
  const before = JSON.parse((await slapos(['service', 'info', 'shop', '--json'])).stdout) as Record<
    string,
    unknown
  >;
  assert.deepEqual(before.promise_results, { reported_at: null, stale: false, result_list: [] });
  const none = await slapos(['service', 'info', 'shop']);
  assert.doesNotMatch(none.stdout, /Promises/, 'nothing reported: nothing shown');

  const results = [
    {
      name: 'apache',
      status: 'pass' as const,
      message: 'socket connection OK',
      date: '2026-01-02T03:04:05Z',
    },
    {
      name: 'backup',
      status: 'fail' as const,
      message: 'too old\nsee the log',
      date: '2026-01-02T03:04:06Z',
    },
  ];
  await master.client.reportPromiseResults({ instanceGuid: 'shop______0', results });
  const reportedAt = (await master.client.getPromiseResults('shop______0'))?.reported_at;
  assert.equal(typeof reportedAt, 'string');

  await master.client.supply({ softwareReleaseUri: SR, computerGuid: 'COMP-SERVICE' });
  await master.client.reportSoftwareInstallationState({
    softwareReleaseUri: SR,
    computerGuid: 'COMP-SERVICE',
    state: 'available',
  });
  await master.client.reportInstanceState({ instanceGuid: 'shop______0', state: 'started' });
  const status = await master.client.getInstanceStatus('shop______0');
  const info = await slapos(['service', 'info', 'shop']);
  assert.equal(info.code, 0, info.stderr);
  assert.equal(
    info.stdout,
    [
      `Software Release URL: ${SR}`,
      'Instance state: started',
      `Node status: started (reported ${status?.reported_at})`,
      'Instance parameters:',
      '{}',
      'Connection parameters:',
      '{}',
      `Promises (reported at ${reportedAt}):`,
      '  apache: pass (2026-01-02T03:04:05Z) socket connection OK',
      '  backup: fail (2026-01-02T03:04:06Z) too old',
      '    see the log',
      '',
    ].join('\n'),
  );
  const json = JSON.parse((await slapos(['service', 'info', 'shop', '--json'])).stdout) as Instance & {
    promise_results: unknown;
    instance_status: unknown;
  };
  assert.deepEqual(json.promise_results, { reported_at: reportedAt, stale: false, result_list: results });
  assert.deepEqual(json.instance_status, status);
  // The instance document itself is the JSON API v0's, unchanged.
  const { promise_results: _promises, instance_status: _status, ...document } = json;
  assert.deepEqual(document, await master.client.getInstanceTree('shop'));

  // Stopped: its promises no longer run, their last results are stale (and say so).
  await master.client.requestInstance({ title: 'shop', softwareReleaseUri: SR, state: 'stopped' });
  const stopped = await slapos(['service', 'info', 'shop']);
  assert.match(
    stopped.stdout,
    new RegExp(
      `^Promises \\(reported at ${reportedAt}\\) — stale: the instance is stopped, its promises no longer run:\n` +
        '  apache: pass \\(2026-01-02T03:04:05Z\\) \\[stale\\] socket connection OK\n' +
        '  backup: fail \\(2026-01-02T03:04:06Z\\) \\[stale\\] too old\n' +
        '    see the log\n$',
      'm',
    ),
  );
  const stoppedJson = JSON.parse((await slapos(['service', 'info', 'shop', '--json'])).stdout) as {
    promise_results: { stale: boolean };
  };
  assert.equal(stoppedJson.promise_results.stale, true);
});

test('service info against a master without promise results (404): the v0 information, promise_results null', async () => {
  const instance = await master.client.getInstanceTree('blog');
  const server = await startHttpServer((request, response) => {
    if (request.url === '/slapos.get.v0.instance_tree') return sendJson(response, 200, instance);
    // A JSON API master (what the client's probe asks), without our extensions.
    if (request.url === '/slapos.get.v0.hateoas_url')
      return sendJson(response, 200, { hateoas_url: `${server.url}/hateoas` });
    response.writeHead(404, { 'content-type': 'text/html' });
    response.end('<title>404 Not Found</title>');
  });
  try {
    const run = await runSlapos(['service', 'info', 'blog', '--master-url', server.url], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.match(run.stdout, /^Software Release URL: /);
    assert.doesNotMatch(run.stdout, /Promises/);
    const json = await runSlapos(['service', 'info', 'blog', '--json', '--master-url', server.url], { env });
    assert.deepEqual(JSON.parse(json.stdout), { ...instance, instance_status: null, promise_results: null });
  } finally {
    await server.close();
  }
});

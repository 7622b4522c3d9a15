import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Instance } from '../../client/types.ts';
import { INSTANCE_STATUSES, type InstanceStatus } from '../../core/instance-status.ts';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { startMasterWithNode, type MasterWithNode } from '../../testing/master-with-node.ts';

const SR = 'https://example.com/software/hello/software.cfg';
const env = isolatedClientEnv();
let master: MasterWithNode;
let dir: string;

before(async () => {
  master = await startMasterWithNode({ computerGuid: 'COMP-REQUEST', partitions: 10 });
  dir = mkdtempSync(join(tmpdir(), 'slapos-request-'));
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await master.close();
});

function request(args: string[]): ReturnType<typeof runSlapos> {
  return runSlapos(['request', ...args, '--master-url', master.url], { env, cwd: dir });
}

test('request prints the state and the connection parameters, as the original does', async () => {
  const first = await request([
    'hello',
    SR,
    '--node',
    'computer_guid=COMP-REQUEST',
    '--parameters',
    'name=world',
    'n=1',
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stderr, `Requesting hello as instance of ${SR}...\n`);
  assert.equal(
    first.stdout,
    [
      'Instance requested.',
      'State is : started.',
      'Node status: waiting for its software release (not supplied to its compute node: slapos supply)',
      'Connection parameters of instance are:',
      '{}',
      'You can rerun the command to get up-to-date information.',
      '',
    ].join('\n'),
  );
  const instance = await master.client.getInstance('hello______0');
  assert.deepEqual(instance.parameters, { name: 'world', n: '1' });
  assert.equal(instance.computer_guid, 'COMP-REQUEST');

  await master.client.setConnectionParameters({
    instanceGuid: 'hello______0',
    parameters: { url: 'http://[::1]:8080/', "it's": 'quoted' },
  });
  const again = await request(['hello', SR, '--parameters', 'name=world', 'n=1']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /\n\{"it's": 'quoted', 'url': 'http:\/\/\[::1\]:8080\/'\}\n/);
});

test('request shows what the node reported: its software release, deploying, started, failed with its message', async () => {
  const software = { softwareReleaseUri: SR, computerGuid: 'COMP-REQUEST' };
  const nodeStatus = async (): Promise<string[]> => {
    const run = await request(['reported', SR, '--node', 'computer_guid=COMP-REQUEST']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    return lines.slice(2, lines.indexOf('Connection parameters of instance are:'));
  };
  await master.client.supply(software);
  await master.client.reportSoftwareInstallationState({ ...software, state: 'building' });
  assert.deepEqual(await nodeStatus(), ['Node status: waiting for its software release (building)']);
  // The build failed: its error and the end of its log, under the instance that waits for it.
  await master.client.reportSoftwareInstallationError({
    ...software,
    message: 'exit status 3\n\nLast lines of the build log (/soft/x/.build.log):\nconfigure: error: libfoo\n',
  });
  assert.deepEqual(await nodeStatus(), [
    'Node status: waiting for its software release, whose build failed:',
    '    exit status 3',
    '',
    '    Last lines of the build log (/soft/x/.build.log):',
    '    configure: error: libfoo',
  ]);
  await master.client.reportSoftwareInstallationState({ ...software, state: 'available' });
  assert.deepEqual(await nodeStatus(), [
    'Node status: deploying (the node has not reported on the latest request yet)',
  ]);
  await master.client.reportInstanceState({ instanceGuid: 'reported______0', state: 'started' });
  const started = await master.client.getInstanceStatus('reported______0');
  assert.match(started?.reported_at ?? '', /^\d{4}-.*Z$/);
  assert.deepEqual(await nodeStatus(), [`Node status: started (reported ${started?.reported_at})`]);
  await master.client.reportInstanceError({
    instanceGuid: 'reported______0',
    message: 'Error: promise web failed\rconnection refused\u2028on 127.0.0.1:8080',
  });
  const failed = await master.client.getInstanceStatus('reported______0');
  assert.deepEqual(await nodeStatus(), [
    `Node status: failed (reported ${failed?.error_at}):`,
    '    Error: promise web failed',
    '    connection refused',
    '    on 127.0.0.1:8080',
  ]);
  const json = await request(['reported', SR, '--json']);
  const parsed = JSON.parse(json.stdout) as Instance & { instance_status: Record<string, unknown> };
  assert.equal(parsed.instance_status.status, 'failed');
  assert.equal(
    parsed.instance_status.status_message,
    'Error: promise web failed\rconnection refused\u2028on 127.0.0.1:8080',
  );
  assert.equal(parsed.instance_status.reported_state, 'started');
});

test('request --json prints the API instance object, connection parameters included', async () => {
  const run = await request([
    'json-one',
    SR,
    '--type',
    'custom',
    '--node',
    'computer_guid=COMP-REQUEST',
    '--json',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const instance = JSON.parse(run.stdout) as Instance;
  assert.equal(instance.title, 'json-one');
  assert.equal(instance.instance_guid, 'json-one______0');
  assert.equal(instance.software_type, 'custom');
  assert.equal(instance.software_release_uri, SR);
  assert.deepEqual(instance.connection_parameters, {});
  assert.equal(typeof instance.compute_partition_id, 'string');
  // The API's 16 keys, and our extension's status (the next test follows it through its values).
  assert.equal(Object.keys(instance).length, 17);
  const { status } = (instance as Instance & { instance_status: { status: InstanceStatus } }).instance_status;
  assert.ok(INSTANCE_STATUSES.includes(status), status);
});

test('request --state stopped|destroyed changes the requested state', async () => {
  assert.equal((await request(['stateful', SR, '--node', 'computer_guid=COMP-REQUEST'])).code, 0);
  const stopped = await request(['stateful', SR, '--state', 'stopped']);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stdout, /^State is : stopped\.$/m);
  const destroyed = await request(['stateful', SR, '--state', 'destroyed', '--json']);
  assert.equal((JSON.parse(destroyed.stdout) as Instance).state, 'destroyed');
});

test('request --parameters-file reads JSON and parameter XML; --force-serialisation json-in-xml wraps them', async () => {
  writeFileSync(join(dir, 'params.json'), JSON.stringify({ a: 'b', nested: { x: 1 } }));
  const fromJson = await request([
    'from-json',
    SR,
    '--node',
    'computer_guid=COMP-REQUEST',
    '--parameters-file',
    'params.json',
  ]);
  assert.equal(fromJson.code, 0, fromJson.stderr);
  assert.equal((await master.client.getInstance('from-json______0')).parameters.a, 'b');

  writeFileSync(
    join(dir, 'params.xml'),
    '<?xml version="1.0" encoding="utf-8"?>\n<instance>\n  <parameter id="p1">v1</parameter>\n  <parameter id="p2">a &amp; b</parameter>\n</instance>\n',
  );
  const fromXml = await request([
    'from-xml',
    SR,
    '--node',
    'computer_guid=COMP-REQUEST',
    '--parameters-file',
    join(dir, 'params.xml'),
  ]);
  assert.equal(fromXml.code, 0, fromXml.stderr);
  assert.deepEqual((await master.client.getInstance('from-xml______0')).parameters, {
    p1: 'v1',
    p2: 'a & b',
  });

  const serialised = await request([
    'json-in-xml',
    SR,
    '--node',
    'computer_guid=COMP-REQUEST',
    '--parameters-file',
    'params.json',
    '--force-serialisation',
    'json-in-xml',
  ]);
  assert.equal(serialised.code, 0, serialised.stderr);
  const stored = (await master.client.getInstance('json-in-xml______0')).parameters;
  assert.deepEqual(Object.keys(stored), ['_']);
  assert.deepEqual(JSON.parse(String(stored._)), { a: 'b', nested: { x: 1 } });

  // Connection parameters published as JSON-in-XML are shown decoded.
  await master.client.setConnectionParameters({
    instanceGuid: 'json-in-xml______0',
    parameters: { _: JSON.stringify({ url: 'http://decoded/' }) },
  });
  const shown = await request([
    'json-in-xml',
    SR,
    '--parameters-file',
    'params.json',
    '--force-serialisation',
    'json-in-xml',
  ]);
  assert.match(shown.stdout, /^\{'url': 'http:\/\/decoded\/'\}$/m);
});

test('request --slave asks for a shared instance on a host of the same software release', async () => {
  const frontend = 'https://example.com/software/frontend/software.cfg';
  assert.equal((await request(['frontend', frontend, '--node', 'computer_guid=COMP-REQUEST'])).code, 0);
  const run = await request([
    'my-site',
    frontend,
    '--slave',
    '--node',
    'computer_guid=COMP-REQUEST',
    '--parameters',
    'url=https://backend/',
    '--json',
  ]);
  assert.equal(run.code, 0, run.stderr);
  const shared = JSON.parse(run.stdout) as Instance;
  assert.equal(shared.shared, true);
  assert.equal(shared.instance_guid, 'my-site______1');
});

test('request errors: allocation failure keeps the master message, exit 1', async () => {
  const small = await startMasterWithNode({ computerGuid: 'COMP-FULL', partitions: 1 });
  try {
    const args = ['--node', 'computer_guid=COMP-FULL', '--master-url', small.url];
    assert.equal((await runSlapos(['request', 'one', SR, ...args], { env })).code, 0);
    const full = await runSlapos(['request', 'two', SR, ...args], { env });
    assert.equal(full.code, 1);
    assert.match(full.stderr, /slapos: error: No free computer partition found for: two\n/);
    assert.equal(full.stdout, '');
  } finally {
    await small.close();
  }
});

test('request bad input: state, parameters, parameters file, node options, missing master URL', async () => {
  const badState = await request(['x', SR, '--state', 'running']);
  assert.equal(badState.code, 5);
  assert.match(
    badState.stderr,
    /argument 'running' is invalid\. Allowed choices are started, stopped, destroyed/,
  );

  const badParameters = await request(['x', SR, '--parameters', 'novalue']);
  assert.equal(badParameters.code, 5);
  assert.match(badParameters.stderr, /slapos: error: --parameters: expected KEY=VALUE, got "novalue"/);

  const repeated = await request(['x', SR, '--parameters', 'a=1', 'a=2']);
  assert.equal(repeated.code, 5);
  assert.match(repeated.stderr, /same key 'a'/);

  const both = await request(['x', SR, '--parameters', 'a=1', '--parameters-file', 'params.json']);
  assert.equal(both.code, 5);
  assert.match(both.stderr, /cannot be used with option/);

  const unreadable = await request(['x', SR, '--parameters-file', 'does-not-exist.json']);
  assert.equal(unreadable.code, 5);
  assert.match(unreadable.stderr, /slapos: error: cannot read the parameters file does-not-exist\.json/);

  writeFileSync(join(dir, 'broken.json'), '{"a": ');
  const broken = await request(['x', SR, '--parameters-file', 'broken.json']);
  assert.equal(broken.code, 5);
  assert.match(broken.stderr, /is not valid JSON/);

  const badNode = await request(['x', SR, '--node', 'computer_guid']);
  assert.equal(badNode.code, 5);
  assert.match(badNode.stderr, /--node: expected KEY=VALUE/);

  const badDelay = await request(['x', SR, '--node', 'retention_delay=soon']);
  assert.equal(badDelay.code, 5);
  assert.match(badDelay.stderr, /retention_delay must be a number/);

  const badSerialisation = await request(['x', SR, '--force-serialisation', 'yaml']);
  assert.equal(badSerialisation.code, 5);

  const tooLong = await request(['x'.repeat(201), SR]);
  assert.equal(tooLong.code, 5);
  assert.match(tooLong.stderr, /slapos: error: /);

  const noMaster = await runSlapos(['request', 'x', SR], { env, cwd: dir });
  assert.equal(noMaster.code, 5);
  assert.match(noMaster.stderr, /slapos: error: No master URL given\nhint: pass --master-url/);
  assert.equal(noMaster.stdout, '');

  for (const run of [badState, badParameters, unreadable, broken, noMaster]) {
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  }
});

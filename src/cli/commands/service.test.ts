import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance } from '../../client/types.ts';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
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

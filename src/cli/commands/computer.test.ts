import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { startMasterWithNode, type MasterWithNode } from '../../testing/master-with-node.ts';

const SR = 'https://example.com/software/hello/software.cfg';
const env = isolatedClientEnv();
let master: MasterWithNode;

before(async () => {
  master = await startMasterWithNode({ computerGuid: 'COMP-INFO' });
});
after(() => master.close());

function slapos(args: string[]): ReturnType<typeof runSlapos> {
  return runSlapos([...args, '--master-url', master.url], { env });
}

test('computer list shows the registered compute nodes', async () => {
  const run = await slapos(['computer', 'list']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^List of Computers:\n/);
  assert.match(run.stdout, /^COMP-INFO COMP-INFO$/m);
  const json = JSON.parse((await slapos(['computer', 'list', '--json'])).stdout) as {
    computer_guid: string;
  }[];
  assert.ok(json.some((node) => node.computer_guid === 'COMP-INFO'));
});

test('computer info shows the node, its software installations and its instances', async () => {
  const empty = await slapos(['computer', 'info', 'COMP-INFO']);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(
    empty.stdout,
    'Computer Reference: COMP-INFO\nComputer Title    : COMP-INFO\nSoftware installations: none\nInstances: none\n',
  );

  await master.client.supply({ softwareReleaseUri: SR, computerGuid: 'COMP-INFO' });
  const instance = await master.client.requestInstance({
    title: 'site',
    softwareReleaseUri: SR,
    slaParameters: { computer_guid: 'COMP-INFO' },
  });
  const run = await slapos(['computer', 'info', 'COMP-INFO']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    [
      'Computer Reference: COMP-INFO',
      'Computer Title    : COMP-INFO',
      'Software installations:',
      `  available ${SR}`,
      'Instances:',
      `  ${instance.compute_partition_id.padEnd(10)} started   site ${SR}`,
      '',
    ].join('\n'),
  );
  const json = JSON.parse((await slapos(['computer', 'info', 'COMP-INFO', '--json'])).stdout) as unknown;
  assert.deepEqual(json, {
    computer_guid: 'COMP-INFO',
    software_installation_list: [{ software_release_uri: SR, state: 'available' }],
    instance_list: [
      {
        title: 'site',
        instance_guid: 'site______0',
        state: 'started',
        compute_partition_id: instance.compute_partition_id,
        software_release_uri: SR,
      },
    ],
  });
});

test('computer info of an unknown node: a message, a hint and exit 1', async () => {
  const run = await slapos(['computer', 'info', 'COMP-UNKNOWN']);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.match(
    run.stderr,
    /slapos: error: Computer COMP-UNKNOWN does not exist\.\nhint: `slapos computer list`/,
  );
});

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
  const lines = async (): Promise<string[]> => {
    const run = await slapos(['computer', 'info', 'COMP-INFO']);
    assert.equal(run.code, 0, run.stderr);
    return run.stdout.split('\n');
  };
  const instanceLine = `  ${instance.compute_partition_id.padEnd(10)} started   site ${SR}`;
  const withSoftware = (...software: string[]): string[] => [
    'Computer Reference: COMP-INFO',
    'Computer Title    : COMP-INFO',
    'Software installations:',
    ...software,
    'Instances:',
    instanceLine,
    '',
  ];
  // Supplied, the node has not said anything yet: requested, not "available".
  assert.deepEqual(await lines(), withSoftware(`  requested  ${SR}`));
  const report = { softwareReleaseUri: SR, computerGuid: 'COMP-INFO' };
  await master.client.reportSoftwareInstallationState({ ...report, state: 'building' });
  assert.deepEqual(await lines(), withSoftware(`  building   ${SR}`));
  await master.client.reportSoftwareInstallationError({
    ...report,
    message:
      'buildout failed\r\n\nLast lines of the build log:\nconfigure: error: libfoo not found\u2028end\x1b[0m',
  });
  assert.deepEqual(
    await lines(),
    withSoftware(
      `  failed     ${SR}`,
      '    error: buildout failed',
      '',
      '           Last lines of the build log:',
      '           configure: error: libfoo not found',
      '           end\\u001b[0m',
    ),
  );
  const failed = JSON.parse((await slapos(['computer', 'info', 'COMP-INFO', '--json'])).stdout) as {
    software_installation_list: { status: string; error_message: string; reported_at: string }[];
  };
  assert.equal(failed.software_installation_list[0]?.status, 'failed');
  assert.match(failed.software_installation_list[0]?.error_message ?? '', /^buildout failed\r\n\nLast lines/);
  await master.client.reportSoftwareInstallationState({ ...report, state: 'available' });
  assert.deepEqual(await lines(), withSoftware(`  available  ${SR}`));

  const json = JSON.parse((await slapos(['computer', 'info', 'COMP-INFO', '--json'])).stdout) as {
    software_installation_list: { reported_at: string }[];
  };
  const reportedAt = json.software_installation_list[0]?.reported_at ?? '';
  assert.match(reportedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(json, {
    computer_guid: 'COMP-INFO',
    software_installation_list: [
      {
        software_release_uri: SR,
        state: 'available',
        status: 'available',
        error_message: null,
        reported_at: reportedAt,
      },
    ],
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

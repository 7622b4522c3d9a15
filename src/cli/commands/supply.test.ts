import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { startMasterWithNode, type MasterWithNode } from '../../testing/master-with-node.ts';

const SR = 'https://example.com/software/hello/software.cfg';
const env = isolatedClientEnv();
let master: MasterWithNode;

before(async () => {
  master = await startMasterWithNode({ computerGuid: 'COMP-SUPPLY' });
});
after(() => master.close());

test('slapos supply URL NODE asks the node to install the software release', async () => {
  const run = await runSlapos(['supply', SR, 'COMP-SUPPLY', '--master-url', master.url], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'Done.\n');
  assert.equal(run.stderr, `Requesting software installation of ${SR}...\n`);
  assert.deepEqual(await master.client.listSoftwareInstallations('COMP-SUPPLY'), [
    { software_release_uri: SR, state: 'available' },
  ]);
});

test('slapos remove URL NODE asks the node to remove it; --json prints the API answer', async () => {
  const run = await runSlapos(['remove', SR, 'COMP-SUPPLY', '--master-url', master.url, '--json'], { env });
  assert.equal(run.code, 0, run.stderr);
  const answer = JSON.parse(run.stdout) as { type: string; title: string };
  assert.equal(answer.type, 'success');
  assert.equal(typeof answer.title, 'string');
  assert.equal(run.stderr, `Requesting deletion of ${SR} Software Release...\n`);
  assert.deepEqual(await master.client.listSoftwareInstallations('COMP-SUPPLY'), [
    { software_release_uri: SR, state: 'destroyed' },
  ]);
});

test('slapos remove of a release still used by instances says the node keeps it until they are destroyed', async () => {
  const used = 'https://example.com/software/used/software.cfg';
  await master.client.supply({ softwareReleaseUri: used, computerGuid: 'COMP-SUPPLY' });
  for (const title of ['one', 'two'])
    await master.client.requestInstance({
      title,
      softwareReleaseUri: used,
      slaParameters: { computer_guid: 'COMP-SUPPLY' },
    });
  const run = await runSlapos(['remove', used, 'COMP-SUPPLY', '--master-url', master.url], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    run.stdout,
    `Done. ${used} is still used by 2 instances on COMP-SUPPLY: the node keeps it until they are destroyed, then removes it.\n`,
  );
  const json = await runSlapos(['remove', used, 'COMP-SUPPLY', '--master-url', master.url, '--json'], {
    env,
  });
  assert.equal((JSON.parse(json.stdout) as { used_by_instances: number }).used_by_instances, 2);
});

test('supply reads the master URL from the configuration file and the environment', async () => {
  const fromEnv = await runSlapos(['supply', SR, 'COMP-SUPPLY'], {
    env: { ...env, SLAPOS_MASTER_URL: master.url },
  });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  const dir = mkdtempSync(join(tmpdir(), 'slapos-supply-'));
  try {
    writeFileSync(join(dir, 'slapos-client.cfg'), `[slapconsole]\nmaster_url = ${master.url}\n`);
    const fromFile = await runSlapos(['supply', SR, 'COMP-SUPPLY', '--cfg', 'slapos-client.cfg'], {
      env,
      cwd: dir,
    });
    assert.equal(fromFile.code, 0, fromFile.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad supply input: missing argument, empty node, unreachable master', async () => {
  const missing = await runSlapos(['supply', SR, '--master-url', master.url], { env });
  assert.equal(missing.code, 5);
  assert.match(missing.stderr, /missing required argument 'node'/);
  const empty = await runSlapos(['supply', SR, '', '--master-url', master.url], { env });
  assert.equal(empty.code, 5);
  assert.match(empty.stderr, /slapos: error: the compute node is empty/);
  const unreachable = await runSlapos(['supply', SR, 'COMP-SUPPLY', '--master-url', 'http://127.0.0.1:9'], {
    env,
  });
  assert.equal(unreachable.code, 69);
  assert.match(unreachable.stderr, /slapos: error: cannot reach the master at http:\/\/127\.0\.0\.1:9/);
  assert.match(unreachable.stderr, /hint: is a SlapOS master running at http:\/\/127\.0\.0\.1:9\?/);
  assert.doesNotMatch(unreachable.stderr, /\n\s+at /);
  const badUrl = await runSlapos(['supply', SR, 'COMP-SUPPLY', '--master-url', 'localhost:8080'], { env });
  assert.equal(badUrl.code, 5);
  assert.match(badUrl.stderr, /invalid master URL localhost:8080.* \(from --master-url\)/);
});

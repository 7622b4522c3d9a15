import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createMasterClient } from '../../client/master-api.ts';
import { startTestMaster } from '../../testing/master.ts';
import { makeTempDir, writeSandboxCfg } from '../../testing/node.ts';
import { runSlapos } from '../../testing/cli.ts';

test('slapos node format --dry_run --json shows the plan and changes nothing', async () => {
  const dir = await makeTempDir('slapos-cli-format-');
  try {
    const cfg = await writeSandboxCfg(dir, { slapformat: { sandbox_ipv4_network: '127.78.0.0/24' } });
    const run = await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--dry_run', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const plan = JSON.parse(run.stdout) as {
      mode: string;
      dry_run: boolean;
      changes: { kind: string; description: string }[];
      partitions: { reference: string; addresses: { addr: string }[] }[];
      payload: { computer_guid: string; compute_partition_list: unknown[] };
      sent: boolean;
    };
    assert.equal(plan.mode, 'sandbox');
    assert.equal(plan.dry_run, true);
    assert.equal(plan.sent, false);
    assert.ok(plan.changes.some((c) => c.kind === 'mkdir' && c.description.startsWith('create directory')));
    assert.deepEqual(
      plan.partitions.map((p) => [p.reference, p.addresses[0]?.addr]),
      [
        ['slappart0', '127.78.0.1'],
        ['slappart1', '127.78.0.2'],
        ['slappart2', '127.78.0.3'],
      ],
    );
    assert.equal(plan.payload.computer_guid, 'COMP-TEST');
    await assert.rejects(stat(join(dir, 'srv')), /ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('slapos node format without a reachable master formats and exits 2 (offline success), then has nothing to change', async () => {
  const dir = await makeTempDir('slapos-cli-format-');
  try {
    const cfg = await writeSandboxCfg(dir);
    const first = await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--now']);
    assert.equal(first.code, 2);
    assert.match(first.stderr, /create directory .*slappart0/);
    assert.match(
      first.stderr,
      /The compute node is formatted, but the master at http:\/\/127\.0\.0\.1:1\/ was not told/,
    );
    assert.ok((await stat(join(dir, 'srv', 'slappart2'))).isDirectory());
    const second = await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--now']);
    assert.match(second.stdout, /^Nothing to change\.$/m);
    assert.match(second.stdout, /slappart1 {2}127\.\d+\.\d+\.2/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('slapos node format rejects bad configurations and arguments with exit 5', async () => {
  const dir = await makeTempDir('slapos-cli-format-');
  try {
    const missing = await runSlapos(['node', 'format', '--cfg', join(dir, 'nope.cfg'), '--now']);
    assert.equal(missing.code, 5);
    assert.match(missing.stderr, /Configuration file .*nope.cfg does not exist/);
    const cfg = join(dir, 'slapos.cfg');
    await writeFile(cfg, '[slapos]\ncomputer_id = C\n');
    const incomplete = await runSlapos(['node', 'format', '--cfg', cfg, '--now']);
    assert.equal(incomplete.code, 5);
    assert.match(incomplete.stderr, /\[slapos\] master_url: is required/);
    const bad = await runSlapos(['node', 'format', '--cfg', cfg, '--alter_user', 'maybe']);
    assert.equal(bad.code, 5);
    assert.match(bad.stderr, /expected True or False/);
    const env = {
      ...process.env,
      SLAPOS_CONFIGURATION: await writeSandboxCfg(dir, { slapformat: { partition_amount: 'x' } }),
    };
    const badAmount = await runSlapos(['node', 'format', '--now'], { env });
    assert.equal(badAmount.code, 5);
    assert.match(badAmount.stderr, /\[slapformat\] partition_amount: "x" is not an integer/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('slapos node format registers the partitions on a real master, which allocates instances on them', async () => {
  const master = await startTestMaster({ computerId: 'COMP-TEST' });
  const dir = await makeTempDir('slapos-cli-format-');
  const client = createMasterClient({ api: 'json', masterUrl: master.url });
  try {
    const cfg = await writeSandboxCfg(dir, {
      slapos: { master_url: master.url },
      slapformat: { partition_amount: 2, sandbox_ipv4_network: '127.79.0.0/24' },
    });
    const first = await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--now']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`Registered on ${master.url}`));
    assert.deepEqual(await client.listComputeNodes(), [{ computer_guid: 'COMP-TEST' }]);

    const instance = await client.requestInstance({
      title: 'web',
      softwareReleaseUri: 'http://sr/hello.cfg',
    });
    assert.equal(instance.computer_guid, 'COMP-TEST');
    assert.equal(instance.compute_partition_id, 'slappart0');
    assert.deepEqual(instance.ip_list, [
      ['slappart0', '127.79.0.1'],
      ['slappart0', '::1'],
    ]);
    const second = await client.requestInstance({ title: 'db', softwareReleaseUri: 'http://sr/hello.cfg' });
    assert.equal(second.compute_partition_id, 'slappart1');
    await assert.rejects(
      client.requestInstance({ title: 'third', softwareReleaseUri: 'http://sr/hello.cfg' }),
      /No free computer partition/,
    );

    // A second run changes nothing and re-sends the same description.
    const again = await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--now', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const againJson = JSON.parse(again.stdout) as { changes: unknown[]; sent: boolean };
    assert.deepEqual(againJson.changes, []);
    assert.equal(againJson.sent, true);

    // Growing the node adds a partition; the allocated instances stay where they are.
    await writeSandboxCfg(dir, {
      slapos: { master_url: master.url },
      slapformat: { partition_amount: 3, sandbox_ipv4_network: '127.79.0.0/24' },
    });
    assert.equal((await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--now'])).code, 0);
    assert.equal((await client.getInstance('web______0')).compute_partition_id, 'slappart0');
    const third = await client.requestInstance({ title: 'third', softwareReleaseUri: 'http://sr/hello.cfg' });
    assert.equal(third.compute_partition_id, 'slappart2');
    assert.deepEqual(third.ip_list, [
      ['slappart2', '127.79.0.3'],
      ['slappart2', '::1'],
    ]);
    const listed = await client.listComputeNodeInstances('COMP-TEST');
    assert.deepEqual(listed.map((i) => [i.title, i.compute_partition_id]).sort(), [
      ['db', 'slappart1'],
      ['third', 'slappart2'],
      ['web', 'slappart0'],
    ]);
  } finally {
    await client.close();
    await master.close();
    await rm(dir, { recursive: true, force: true });
  }
});

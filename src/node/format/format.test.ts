import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { SlapError } from '../../core/errors.ts';
import { makeTempDir, RecordingRegistrar, writeSandboxCfg, type CfgSections } from '../../testing/node.ts';
import { loadNodeConfig } from '../config.ts';
import { formatComputeNode } from './format.ts';
import { Host } from './host.ts';
import { loadFormatState, stateFilePath } from './state.ts';

async function sandbox(extra: CfgSections = {}) {
  const dir = await makeTempDir('slapos-format-');
  const extraFormat = { sandbox_ipv4_network: '127.77.1.0/24', ...extra.slapformat };
  const cfg = await writeSandboxCfg(dir, { ...extra, slapformat: extraFormat });
  const registrar = new RecordingRegistrar();
  const run = async (overrides: Record<string, string | number | undefined> = {}, dryRun = false) => {
    const config = await loadNodeConfig({ cfg, overrides, isRoot: false });
    const host = new Host();
    const result = await formatComputeNode(config, {
      registrar,
      host,
      dryRun,
      ipv6Loopback: true,
      currentUser: 'me',
    });
    return { result, host, config };
  };
  return { dir, cfg, registrar, run, instanceRoot: join(dir, 'srv') };
}

test('sandbox format creates partitions with their own loopback IPv4, then a second run changes nothing', async () => {
  const node = await sandbox();
  try {
    const first = await node.run();
    assert.equal(first.result.mode, 'sandbox');
    assert.ok(first.result.actions.length > 0);
    assert.equal(first.result.posted, true);
    for (const [i, partition] of first.result.layout.partitions.entries()) {
      assert.equal(partition.reference, `slappart${i}`);
      const info = await stat(partition.path);
      assert.ok(info.isDirectory());
      assert.equal(info.mode & 0o7777, 0o750);
      const resource = JSON.parse(await readFile(join(partition.path, '.slapos-resource'), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(resource.reference, `slappart${i}`);
      assert.deepEqual(resource.address_list, [
        { addr: `127.77.1.${i + 1}`, netmask: '255.255.255.255' },
        { addr: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' },
      ]);
      assert.deepEqual(resource.ipv6_range, {});
      assert.deepEqual((resource.user as Record<string, unknown>).name, 'me');
    }
    assert.equal((await stat(node.instanceRoot)).mode & 0o7777, 0o755);
    assert.equal((await stat(join(node.dir, 'opt'))).mode & 0o7777, 0o755);
    // Exactly the compute_node_format body, checked against the API schema by the registrar.
    assert.deepEqual(node.registrar.received, [
      {
        computer_guid: 'COMP-TEST',
        compute_partition_list: [0, 1, 2].map((i) => ({
          partition_id: `slappart${i}`,
          ip_list: [
            {
              'ip-address': `127.77.1.${i + 1}`,
              'network-interface': `slappart${i}`,
              netmask: '255.255.255.255',
            },
            {
              'ip-address': '::1',
              'network-interface': `slappart${i}`,
              netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
            },
          ],
        })),
      },
    ]);
    const statePath = stateFilePath(node.instanceRoot);
    const stateBefore = await stat(statePath);

    const second = await node.run();
    assert.deepEqual(second.result.actions, []);
    assert.deepEqual(second.host.commandLog, [], 'a sandbox format spawns no process');
    assert.equal((await stat(statePath)).mtimeMs, stateBefore.mtimeMs, 'unchanged state is not rewritten');
    assert.equal(node.registrar.received.length, 2, 'the description is sent on every run');
    assert.deepEqual(node.registrar.received[1], node.registrar.received[0]);

    // The partition's address is usable at once: 127.0.0.0/8 all reaches lo.
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.77.1.2', resolve);
    });
    server.close();
  } finally {
    await rm(node.dir, { recursive: true, force: true });
  }
});

test('partitions can be added but never removed', async () => {
  const node = await sandbox();
  try {
    await node.run();
    const grown = await node.run({ partition_amount: 5 });
    const created = grown.result.actions
      .filter((a) => a.kind === 'mkdir')
      .map((a) => (a.kind === 'mkdir' ? a.path : ''));
    assert.deepEqual(created, [join(node.instanceRoot, 'slappart3'), join(node.instanceRoot, 'slappart4')]);
    assert.equal(grown.result.layout.partitions[4]?.addresses[0]?.addr, '127.77.1.5');
    assert.equal((await loadFormatState(stateFilePath(node.instanceRoot)))?.partitions.length, 5);

    await assert.rejects(node.run({ partition_amount: 2 }), (error: SlapError) => {
      assert.equal(error.code, 'SLAP_ERR_FORMAT_SHRINK');
      assert.match(error.message, /partition_amount is 2 but 5 partitions are already formatted/);
      assert.match(error.hint ?? '', /5 or more/);
      return true;
    });
    assert.equal((await loadFormatState(stateFilePath(node.instanceRoot)))?.partitions.length, 5);
    assert.equal(node.registrar.received.at(-1)?.compute_partition_list.length, 5);
  } finally {
    await rm(node.dir, { recursive: true, force: true });
  }
});

test('a run repairs only what drifted', async () => {
  const node = await sandbox();
  try {
    await node.run();
    const partition1 = join(node.instanceRoot, 'slappart1');
    await chmod(partition1, 0o777);
    await rm(join(node.instanceRoot, 'slappart2', '.slapos-resource'));
    const repaired = await node.run();
    assert.deepEqual(
      repaired.result.actions.map((a) => a.kind),
      ['chmod', 'resource-file'],
    );
    assert.equal((await stat(partition1)).mode & 0o7777, 0o750);
    assert.deepEqual((await node.run()).result.actions, []);
  } finally {
    await rm(node.dir, { recursive: true, force: true });
  }
});

test('dry run plans without touching anything or calling the master', async () => {
  const node = await sandbox();
  try {
    const planned = await node.run({}, true);
    assert.equal(planned.result.dryRun, true);
    assert.ok(planned.result.actions.some((a) => a.kind === 'mkdir'));
    await assert.rejects(stat(node.instanceRoot), /ENOENT/);
    assert.deepEqual(node.registrar.received, []);
    assert.equal(planned.result.payload.compute_partition_list.length, 3);
  } finally {
    await rm(node.dir, { recursive: true, force: true });
  }
});

test('an unreachable master leaves the local work done and reports it (offline success)', async () => {
  const node = await sandbox();
  try {
    node.registrar.failWith = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const run = await node.run();
    assert.equal(run.result.posted, false);
    assert.match(run.result.postError ?? '', /ECONNREFUSED/);
    assert.ok((await stat(join(node.instanceRoot, 'slappart0'))).isDirectory());
    assert.ok(await loadFormatState(stateFilePath(node.instanceRoot)));
  } finally {
    await rm(node.dir, { recursive: true, force: true });
  }
});

test('format refuses a file where a partition directory goes, a corrupt state, and system mode without root', async () => {
  const node = await sandbox();
  try {
    await mkdir(node.instanceRoot, { recursive: true });
    await writeFile(join(node.instanceRoot, 'slappart1'), 'not a directory');
    await assert.rejects(node.run(), (error: SlapError) => {
      assert.equal(error.code, 'SLAP_ERR_CONFLICT');
      assert.match(error.message, /slappart1 exists and is not a directory/);
      return true;
    });
    await rm(join(node.instanceRoot, 'slappart1'));
    await writeFile(stateFilePath(node.instanceRoot), '{"version": 1, "computer_id": 3');
    await assert.rejects(node.run(), /format state .* is unusable: not JSON/);
    await rm(stateFilePath(node.instanceRoot));

    const config = await loadNodeConfig({
      cfg: node.cfg,
      overrides: { sandbox: false, alter_network: false },
      isRoot: false,
    });
    await assert.rejects(
      formatComputeNode(config, { registrar: node.registrar, isRoot: false }),
      (error: SlapError) => error.code === 'SLAP_ERR_ROOT_REQUIRED',
    );
  } finally {
    await rm(node.dir, { recursive: true, force: true });
  }
});

test('without IPv6 on loopback, sandbox partitions get IPv4 only', async () => {
  const node = await sandbox();
  try {
    const config = await loadNodeConfig({ cfg: node.cfg, isRoot: false });
    const result = await formatComputeNode(config, {
      registrar: node.registrar,
      ipv6Loopback: false,
      currentUser: 'me',
    });
    assert.deepEqual(
      result.payload.compute_partition_list[0]?.ip_list?.map((ip) => ip['ip-address']),
      ['127.77.1.1'],
    );
  } finally {
    await rm(node.dir, { recursive: true, force: true });
  }
});

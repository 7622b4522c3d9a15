import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestedState } from '../../core/states.ts';
import { acquirePidLock } from '../../lib/pid-lock.ts';
import { loadNodeConfig } from '../../node/config.ts';
import { writePartitionRecord } from '../../node/instance/partition-files.ts';
import { makeTempDir, writeSandboxCfg } from '../../testing/node.ts';
import { runSlapos } from '../../testing/cli.ts';

/** A node of 4 partitions: 0 and 1 deployed started, 2 stopped, 3 free. */
async function node() {
  const dir = await makeTempDir('slapos-cli-promise-');
  const cfg = await writeSandboxCfg(dir, { slapformat: { partition_amount: 4 } });
  // The master is unreachable: format does its local work and exits 2 ("offline success").
  const format = await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--now']);
  assert.equal(format.code, 2, format.stderr);
  const partition = (i: number) => join(dir, 'srv', `slappart${i}`);
  const states: RequestedState[] = ['started', 'started', 'stopped'];
  for (const [i, requestedState] of states.entries()) {
    await writePartitionRecord(partition(i), {
      instanceGuid: `SOFTINST-${i}`,
      title: `instance ${i}`,
      requestedState,
      softwareReleaseUrl: 'https://example.com/software.cfg',
      reported: requestedState === 'started' ? 'started' : 'stopped',
    });
  }
  return { dir, cfg, partition };
}

/** A legacy promise that always fails. */
async function failingPromise(partitionPath: string, name: string): Promise<void> {
  await mkdir(join(partitionPath, 'etc', 'promise'), { recursive: true });
  const script = join(partitionPath, 'etc', 'promise', name);
  await writeFile(script, '#!/bin/sh\necho "database is down"\nexit 1\n');
  await chmod(script, 0o755);
}

test('slapos node promise: exit 0 when every promise passes, 2 when one fails, with --only-cp and --json', async () => {
  const { dir, cfg, partition } = await node();
  try {
    const empty = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /No promise to check/);

    await mkdir(join(partition(0), 'etc', 'promise.d'), { recursive: true });
    await writeFile(
      join(partition(0), 'etc', 'promise.d', 'ready.json'),
      JSON.stringify({ kind: 'file', path: 'etc' }),
    );
    await failingPromise(partition(1), 'check-db');
    // Stopped and free partitions are not checked: their services are not meant to answer.
    await failingPromise(partition(2), 'stopped-db');
    await failingPromise(partition(3), 'free-db');

    const all = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg]);
    assert.equal(all.code, 2);
    assert.match(all.stdout, /^slappart0: ready \[OK\] OK .*etc/m);
    assert.match(all.stdout, /^slappart1: check-db \[FAILED\] database is down$/m);
    assert.match(all.stdout, /2 promises checked, 1 failed/);
    assert.doesNotMatch(all.stdout, /slappart[23]/);

    const only = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg, '--only-cp', 'slappart0']);
    assert.equal(only.code, 0, only.stdout);
    assert.doesNotMatch(only.stdout, /slappart1/);

    const json = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg, '--json', '--only', 'slappart1']);
    assert.equal(json.code, 2);
    const parsed = JSON.parse(json.stdout) as {
      ok: boolean;
      partitions: { partition: string; results: { title: string; failed: boolean }[] }[];
    };
    assert.equal(parsed.ok, false);
    assert.deepEqual(
      parsed.partitions.map((p) => [p.partition, p.results.map((r) => [r.title, r.failed])]),
      [['slappart1', [['check-db', true]]]],
    );

    // The instance pass's lock, held by another node process: not while `node instance` runs.
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const lock = await acquirePidLock((await loadNodeConfig({ cfg })).pidfileInstance, {
      pid: holder.pid as number,
    });
    try {
      const locked = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg]);
      assert.equal(locked.code, 10, locked.stderr);
    } finally {
      holder.kill();
      await lock.release();
    }

    const unknown = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg, '--only-cp', 'slappart7']);
    assert.equal(unknown.code, 5);
    assert.match(unknown.stderr, /unknown partition: slappart7/);
    const badTimeout = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg, '--promise-timeout', 'soon']);
    assert.equal(badTimeout.code, 5);
    assert.match(badTimeout.stderr, /expected a positive integer/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('slapos node promise --promise-timeout kills a slow promise', async () => {
  const { dir, cfg, partition } = await node();
  try {
    await mkdir(join(partition(0), 'etc', 'promise'), { recursive: true });
    const script = join(partition(0), 'etc', 'promise', 'slow');
    await writeFile(script, '#!/bin/sh\nsleep 60\n');
    await chmod(script, 0o755);
    const run = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg, '--promise-timeout', '1']);
    assert.equal(run.code, 2);
    assert.match(run.stdout, /slow \[FAILED\] Error: Promise timed out after 1 seconds/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

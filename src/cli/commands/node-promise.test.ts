import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, writeSandboxCfg } from '../../testing/node.ts';
import { runSlapos } from '../../testing/cli.ts';

async function node() {
  const dir = await makeTempDir('slapos-cli-promise-');
  const cfg = await writeSandboxCfg(dir, { slapformat: { partition_amount: 2 } });
  // The master is unreachable: format does its local work and exits 2 ("offline success").
  const format = await runSlapos(['-q', 'node', 'format', '--cfg', cfg, '--now']);
  assert.equal(format.code, 2, format.stderr);
  const partition = (i: number) => join(dir, 'srv', `slappart${i}`);
  return { dir, cfg, partition };
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
    await mkdir(join(partition(1), 'etc', 'promise'), { recursive: true });
    const script = join(partition(1), 'etc', 'promise', 'check-db');
    await writeFile(script, '#!/bin/sh\necho "database is down"\nexit 1\n');
    await chmod(script, 0o755);

    const all = await runSlapos(['-q', 'node', 'promise', '--cfg', cfg]);
    assert.equal(all.code, 2);
    assert.match(all.stdout, /^slappart0: ready \[OK\] OK .*etc/m);
    assert.match(all.stdout, /^slappart1: check-db \[FAILED\] database is down$/m);
    assert.match(all.stdout, /2 promises checked, 1 failed/);

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

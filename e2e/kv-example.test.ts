/**
 * examples/kv, the stateful example of issue 12, deployed like examples/hello (a sandbox node against
 * a real master, the release built with `slapos buildout`, instances run in their partitions with the
 * slapgrid tail): writes acknowledged, the declared backup command copies them, the declared restore
 * and check commands put that copy in place in a second instance, which serves the same data; a torn
 * last line is ignored, a corrupt file fails the check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { appendFile, cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { runBuildout } from '../src/buildout/engine.ts';
import { createMasterClient } from '../src/client/master-api.ts';
import {
  mergeDeclarations,
  readDeclarations,
  type PartitionBackupPlan,
} from '../src/core/backup-declaration.ts';
import { execFile } from '../src/lib/exec.ts';
import { runPromises } from '../src/node/promise/run-promises.ts';
import { closedPort, profileRunner, tempDir } from '../src/testing/buildout.ts';
import { limitFileSize } from '../src/testing/file-size-limit.ts';
import {
  buildSoftware,
  formatSandboxNode,
  startService,
  stopService,
} from '../src/testing/example-release.ts';
import { startTestMaster } from '../src/testing/master.ts';
import { makeTempDir } from '../src/testing/node.ts';
import { preparePartition } from '../src/testing/slapgrid.ts';
import { rejectsWithSlapError } from '../src/testing/slap-error-assert.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/kv/', import.meta.url));
const COMPUTER = 'COMP-KV';

async function call(method: string, url: string, body?: string): Promise<{ status: number; text: string }> {
  const response = await request(url, { method, body: body ?? null, signal: AbortSignal.timeout(5_000) });
  return { status: response.statusCode, text: await response.body.text() };
}

/** GETs `url` until it answers 200 (30 s deadline): the service needs a moment to listen. */
async function whenUp(url: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const answer = await call('GET', url);
      if (answer.status === 200) return answer.text;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs each command as the node does: no shell, cwd = the partition; their results. */
async function runCommands(
  partition: string,
  commands: string[],
): Promise<{ code: number | null; out: string }[]> {
  const results = [];
  for (const command of commands) {
    const result = await execFile(command, [], { cwd: partition });
    results.push({ code: result.exitCode, out: result.stdout + result.stderr });
  }
  return results;
}

interface Deployed {
  partition: string;
  url: string;
  plan: PartitionBackupPlan;
}

async function deploy(
  client: ReturnType<typeof createMasterClient>,
  root: string,
  softwareDir: string,
  softwareUrl: string,
  masterUrl: string,
  title: string,
): Promise<Deployed> {
  const instance = await client.requestInstance({ title, softwareReleaseUri: softwareUrl, parameters: {} });
  const partition = join(root, 'srv', instance.compute_partition_id);
  const profile = await preparePartition({
    partitionDir: partition,
    softwareDir,
    computerId: COMPUTER,
    partitionId: instance.compute_partition_id,
    serverUrl: masterUrl,
    softwareReleaseUrl: softwareUrl,
  });
  const run = await runBuildout({ configFile: profile });
  assert.ok(run.installed.includes('kv-backup'), JSON.stringify(run.installed));
  const url = (await client.getInstance(instance.instance_guid)).connection_parameters.url as string;
  assert.match(url, /^http:\/\/127\.96\.0\.\d+:8080$/);
  const plan = mergeDeclarations(await readDeclarations(partition));
  assert.ok(plan);
  return { partition, url, plan };
}

test('examples/kv: acknowledged writes, declared backup, restore into another instance, check', async () => {
  const root = await makeTempDir('slapos-kv-');
  const master = await startTestMaster({ computerId: COMPUTER });
  const client = createMasterClient({ api: 'json', masterUrl: master.url });
  const services: ChildProcess[] = [];
  try {
    await formatSandboxNode(root, COMPUTER, master.url, '127.96.0.0/24');
    const softwareUrl = join(EXAMPLE, 'software.cfg');
    const softwareDir = await buildSoftware(root, softwareUrl);

    const first = await deploy(client, root, softwareDir, softwareUrl, master.url, 'kv');
    const bin = (name: string): string => join(first.partition, 'bin', name);
    assert.deepEqual(first.plan, {
      paths: ['srv/kv-backup'],
      exclude: [],
      backupCommands: [bin('kv-dump')],
      restoreCommands: [bin('kv-restore')],
      checkCommands: [bin('kv-check')],
      periodSeconds: 10,
      keep: { last: 10, hourly: 24, daily: 7 },
    });

    // Writes, each acknowledged with its sequence number once on disk.
    services.push(startService(join(first.partition, 'etc/service/kv')));
    assert.deepEqual(JSON.parse(await whenUp(`${first.url}/health`)), { ok: true, seq: 0 });
    const hostileKey = 'clé/\u2028"\\';
    const writes: [string, string][] = [
      ['a', '1'],
      ['b', 'deux\nlignes'],
      [hostileKey, '{"k":"x"}'],
      ['a', '3'],
    ];
    for (const [index, [key, value]] of writes.entries()) {
      const answer = await call('PUT', `${first.url}/kv/${encodeURIComponent(key)}`, value);
      assert.deepEqual([answer.status, JSON.parse(answer.text)], [200, { seq: index + 1 }]);
    }
    const expected = { a: '3', b: 'deux\nlignes', [hostileKey]: '{"k":"x"}' };
    assert.deepEqual(JSON.parse((await call('GET', `${first.url}/kv`)).text), expected);
    assert.deepEqual(await call('GET', `${first.url}/kv/b`), { status: 200, text: 'deux\nlignes' });
    assert.equal((await call('GET', `${first.url}/kv/missing`)).status, 404);
    assert.equal((await call('PUT', `${first.url}/kv/big`, 'x'.repeat(64 * 1024 + 1))).status, 413);
    const promises = await runPromises(first.partition, { mode: 'test', force: true, timeout: 20 });
    assert.equal(promises.ok, true, JSON.stringify(promises.failures));

    // The declared backup command makes the copy the node snapshots (the declared paths).
    assert.deepEqual(
      (await runCommands(first.partition, first.plan.backupCommands)).map((r) => r.code),
      [0],
    );
    const copy = await readFile(join(first.partition, 'srv/kv-backup/data.jsonl'), 'utf8');
    assert.equal(copy, await readFile(join(first.partition, 'srv/kv/data.jsonl'), 'utf8'));
    assert.equal(copy.split('\n').length, writes.length + 1);

    // Restored into a second instance (what restic restore puts at the declared paths), then the
    // declared restore and check commands: it serves the same data.
    const second = await deploy(client, root, softwareDir, softwareUrl, master.url, 'kv-restored');
    for (const path of first.plan.paths)
      await cp(join(first.partition, path), join(second.partition, path), { recursive: true });
    const restored = await runCommands(second.partition, [
      ...second.plan.restoreCommands,
      ...second.plan.checkCommands,
    ]);
    assert.deepEqual(
      restored.map((r) => r.code),
      [0, 0],
      JSON.stringify(restored),
    );
    assert.match(restored[1]?.out ?? '', /4 records, seq increasing/);
    const secondWrapper = join(second.partition, 'etc/service/kv');
    services.push(startService(secondWrapper));
    await whenUp(`${second.url}/health`);
    assert.deepEqual(JSON.parse((await call('GET', `${second.url}/kv`)).text), expected);

    // A torn last line (a crash mid-write): the check passes, the service ignores it and goes on.
    await stopService(services.pop() as ChildProcess);
    const data = join(second.partition, 'srv/kv/data.jsonl');
    await appendFile(data, '{"k":"torn","v":"ha');
    const torn = await runCommands(second.partition, second.plan.checkCommands);
    assert.equal(torn[0]?.code, 0, torn[0]?.out);
    assert.match(torn[0]?.out ?? '', /torn last line/);
    services.push(startService(secondWrapper));
    await whenUp(`${second.url}/health`);
    assert.deepEqual(JSON.parse((await call('GET', `${second.url}/kv`)).text), expected);
    assert.deepEqual(JSON.parse((await call('PUT', `${second.url}/kv/c`, 'after')).text), { seq: 5 });
    assert.deepEqual(
      (await runCommands(second.partition, second.plan.checkCommands)).map((r) => r.code),
      [0],
    );
    await stopService(services.pop() as ChildProcess);

    // A corrupt file fails the check: a complete line that is not a record, or a seq going back.
    const good = await readFile(data, 'utf8');
    for (const corrupt of [`{"k":"a","v":"1","seq":1}\nnot json\n`, `${good}{"k":"z","v":"","seq":2}\n`]) {
      await writeFile(data, corrupt);
      const checked = await runCommands(second.partition, second.plan.checkCommands);
      assert.equal(checked[0]?.code, 1, checked[0]?.out);
      assert.match(
        checked[0]?.out ?? '',
        /line 2 (is not JSON|: seq 2 does not increase)|seq 2 does not increase/,
      );
      // Nor is it dumped for a backup, or served: a clear message, no stack trace.
      const dumped = await runCommands(second.partition, second.plan.backupCommands);
      assert.equal(dumped[0]?.code, 1, dumped[0]?.out);
      assert.match(dumped[0]?.out ?? '', /^kv: .*data\.jsonl: line \d+.*restore a backup\)\n$/);
      const served = await execFile(secondWrapper, [], { cwd: second.partition });
      assert.equal(served.exitCode, 1, served.stdout + served.stderr);
      assert.match(served.stderr, /^kv: .*data\.jsonl: line \d+/);
    }
  } finally {
    for (const service of services) await stopService(service);
    await client.close();
    await master.close();
    await rm(root, { recursive: true, force: true });
  }
});

test('examples/kv listens on the partition IPv4 address, or its IPv6 address when it has none', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const profile = (addresses: string): string => `[buildout]
parts = address
[instance-parameter]
${addresses}
[address]
recipe = ${join(EXAMPLE, 'address.mjs')}
parameters = instance-parameter
`;
    const chosen = async (addresses: string): Promise<string> => {
      await run(profile(addresses));
      const installed = await readFile(join(dir.path, '.installed.cfg'), 'utf8');
      return [...installed.matchAll(/^(ip|host) = (.*)$/gm)].map((m) => `${m[1]}=${m[2]}`).join(' ');
    };
    assert.equal(await chosen('ipv4-random = 10.0.0.2\nipv6-random = fd00::2'), 'host=10.0.0.2 ip=10.0.0.2');
    assert.equal(await chosen('ipv6-random = fd00::2'), 'host=[fd00::2] ip=fd00::2');
    await rejectsWithSlapError(run(profile('')), 'SLAP_ERR_RECIPE_FAILED', /no IPv4 or IPv6 address/);
  } finally {
    await dir.remove();
  }
});

test('examples/kv: a write that fails (disk full) is answered 500 and cut off; the next write starts a line of its own', async () => {
  const dir = await tempDir();
  const data = join(dir.path, 'data.jsonl');
  const kv = join(EXAMPLE, 'kv.mjs');
  const url = `http://127.0.0.1:${await closedPort()}`;
  const service = startService(process.execPath, [
    kv,
    'serve',
    ...url.slice('http://'.length).split(':'),
    data,
  ]);
  try {
    await whenUp(`${url}/health`);
    assert.deepEqual(JSON.parse((await call('PUT', `${url}/kv/a`, '1')).text), { seq: 1 });
    const size = (await readFile(data)).length;
    const restore = limitFileSize(service.pid as number, size + 40);
    try {
      // Crosses the limit: written in part, then EFBIG.
      const full = await call('PUT', `${url}/kv/b`, 'x'.repeat(100));
      assert.equal(full.status, 500, full.text);
      assert.deepEqual(JSON.parse((await call('PUT', `${url}/kv/c`, '2')).text), { seq: 2 });
    } finally {
      restore();
    }
    assert.deepEqual(JSON.parse((await call('GET', `${url}/kv`)).text), { a: '1', c: '2' });
    const checked = await execFile(process.execPath, [kv, 'check', data]);
    assert.equal(checked.exitCode, 0, checked.stderr);
    assert.match(checked.stdout, /: 2 records, seq increasing\n$/);
  } finally {
    await stopService(service);
    await dir.remove();
  }
});

/**
 * System mode, for real: the node runs as root, a partition and the software root belong to users
 * this test creates (and deletes): the builds and the instance profile run as those users in
 * separate processes, the services as the partition user. Needs root; without it the test fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecFunction } from '../../buildout/recipe.ts';
import { execFile } from '../../lib/exec.ts';
import { runSoftwarePass, softwareDirectory } from '../software/software-pass.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
} from '../../testing/node-passes.ts';
import { waitFor } from '../../testing/supervisor.ts';
import { runInstancePass } from './instance-pass.ts';

async function sh(argv: string[]): Promise<string> {
  const [file = '', ...args] = argv;
  const result = await execFile(file, args, { timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

test('system mode: builds and instance profiles run as their owners, services as the partition user', async () => {
  assert.equal(process.getuid?.(), 0, 'this test must run as root (it creates users)');
  const tag = randomBytes(3).toString('hex');
  const partitionUser = `t${tag}p`;
  const softwareUser = `t${tag}s`;
  const h = await startNodeHarness({ partitions: 1 });
  try {
    const partition = 'slappart0';
    const path = join(h.config.instanceRoot, partition);
    await sh(['useradd', '-r', '-U', '-d', path, '-s', '/bin/sh', partitionUser]);
    await sh(['useradd', '-r', '-U', '-d', h.config.softwareRoot, '-s', '/bin/sh', softwareUser]);
    await sh(['chown', `${partitionUser}:${partitionUser}`, path]);
    await sh(['chown', `${softwareUser}:${softwareUser}`, h.config.softwareRoot]);
    const uid = Number((await sh(['id', '-u', partitionUser])).trim());
    const gid = Number((await sh(['id', '-g', partitionUser])).trim());
    const softwareUid = Number((await sh(['id', '-u', softwareUser])).trim());

    const spawned: string[] = [];
    const exec: ExecFunction = (file, args, options) => {
      spawned.push(`${options?.uid ?? 'self'} ${args.slice(1, 2).join(' ')}`);
      return execFile(file, args, options);
    };
    const url = await writeSoftwareRelease(h.dir, 'hello', { instance: helloInstance() });
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    const software = await runSoftwarePass(h.config, { master: h.client, exec });
    assert.deepEqual(
      software.items.map((i) => [i.outcome, i.error?.message]),
      [['installed', undefined]],
    );
    assert.deepEqual(spawned, [`${softwareUid} buildout`], 'the build ran as the software user');
    assert.equal(
      (await stat(join(softwareDirectory(h.config.softwareRoot, url), 'instance.cfg'))).uid,
      softwareUid,
    );

    spawned.length = 0;
    await h.client.requestInstance({ title: 'system', softwareReleaseUri: url });
    const result = await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor, exec });
    assert.deepEqual(
      result.items.map((i) => [i.outcome, i.error?.message]),
      [['started', undefined]],
    );
    assert.deepEqual(spawned, [`${uid} buildout`], 'the instance profile ran as the partition user');
    assert.equal((await stat(join(path, '.installed.cfg'))).uid, uid);
    const profile = await stat(join(path, 'buildout.cfg'));
    assert.deepEqual([profile.uid, profile.gid, profile.mode & 0o777], [0, gid, 0o640]);
    const service = (await h.supervisor.status()).processes.find((p) => p.group === partition);
    assert.equal(service?.state, 'RUNNING');
    assert.equal(await uidOf(service?.pid ?? 0), uid, 'the service runs as the partition user');
    await waitFor('the server port', () =>
      readFile(join(path, 'var', 'port'), 'utf8').catch(() => undefined),
    );
    assert.equal((await stat(join(path, 'var', 'port'))).uid, uid);

    spawned.length = 0;
    await h.client.requestInstance({ title: 'system', softwareReleaseUri: url, state: 'destroyed' });
    const destroyed = await runInstancePass(h.config, { master: h.client, supervisor: h.supervisor, exec });
    assert.deepEqual(
      destroyed.items.map((i) => i.outcome),
      ['destroyed'],
    );
    assert.deepEqual(spawned, [`${uid} buildout`], 'parts uninstalled as the partition user');
    assert.deepEqual(await readdir(path), ['.slapos-resource']);
    const kept = await stat(path);
    assert.deepEqual(
      [kept.uid, kept.mode & 0o777],
      [uid, 0o750],
      'the partition directory keeps its owner and mode',
    );
  } finally {
    await h.close();
    for (const user of [partitionUser, softwareUser])
      await execFile('userdel', [user], { timeoutMs: 30_000 });
    for (const group of [partitionUser, softwareUser])
      await execFile('groupdel', [group], { timeoutMs: 30_000 });
  }
  const leftovers = await execFile('getent', ['passwd', partitionUser, softwareUser]);
  assert.equal(leftovers.stdout, '', 'test users are deleted');
});

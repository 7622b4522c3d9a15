/**
 * Restored files reach the partition through a staging directory, path by path: a declared path is
 * replaced as a whole, others are left alone, a symbolic link on the way is refused (the node would
 * write where the link points), nothing is left in the staging directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restoreIntoPlace } from './restore-into-place.ts';

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'restore-place-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'slappart0');
  await mkdir(join(root, 'srv', 'data'), { recursive: true });
  await writeFile(join(root, 'srv', 'data', 'old'), 'old');
  await writeFile(join(root, 'srv', 'keep'), 'keep');
  const restored: Record<string, string> = { 'srv/data/db': 'new', 'etc/conf': 'conf', 'var/log': 'x' };
  const restic = {
    async restore(_target: unknown, _snapshot: string, into: string): Promise<void> {
      for (const [path, text] of Object.entries(restored)) {
        await mkdir(join(into, path, '..'), { recursive: true });
        await writeFile(join(into, path), text);
      }
    },
  };
  const input = {
    restic,
    target: { url: '/nowhere', password: 'p' },
    snapshotId: 'abcd1234',
    partitionRoot: root,
    stagingParent: join(dir, 'staging'),
  };
  return { dir, root, input };
}

test('declared paths are replaced as a whole; the rest of the partition is left alone', async (t) => {
  const { dir, root, input } = await setup(t);
  const { placed, commit } = await restoreIntoPlace({
    ...input,
    paths: ['srv/data', 'etc/conf', 'missing/path'],
  });
  await commit();
  assert.deepEqual(placed, ['srv/data', 'etc/conf']);
  assert.deepEqual(await readdir(join(root, 'srv', 'data')), ['db']);
  assert.equal(await readFile(join(root, 'srv', 'data', 'db'), 'utf8'), 'new');
  assert.equal(await readFile(join(root, 'srv', 'keep'), 'utf8'), 'keep');
  assert.equal(await readFile(join(root, 'etc', 'conf'), 'utf8'), 'conf');
  assert.deepEqual((await readdir(root)).sort(), ['etc', 'srv'], 'var was not declared');
  assert.deepEqual(await readdir(join(dir, 'staging')), []);
});

test('a symbolic link on the way to a path is refused, and what it points to is untouched', async (t) => {
  const { dir, root, input } = await setup(t);
  const elsewhere = join(dir, 'elsewhere');
  await mkdir(elsewhere);
  await symlink(elsewhere, join(root, 'etc'));
  await assert.rejects(restoreIntoPlace({ ...input, paths: ['etc/conf'] }), /is not a directory/);
  assert.deepEqual(await readdir(elsewhere), []);
  assert.deepEqual(await readdir(join(dir, 'staging')), []);
});

test('paths that leave the partition are refused', async (t) => {
  const { input } = await setup(t);
  for (const path of ['../x', '/etc', '', '.', 'a/../../b', 'a\0b'])
    await assert.rejects(restoreIntoPlace({ ...input, paths: [path] }), /not partition-relative/, path);
});

test('committed: no previous copy is left; rolled back: the partition is as it was', async (t) => {
  const { root, input } = await setup(t);
  const committed = await restoreIntoPlace({ ...input, paths: ['srv/data'] });
  await committed.commit();
  assert.deepEqual((await readdir(join(root, 'srv'))).sort(), ['data', 'keep']);

  await writeFile(join(root, 'srv', 'data', 'db'), 'current');
  const rolledBack = await restoreIntoPlace({ ...input, paths: ['srv/data', 'etc/conf'] });
  assert.equal(await readFile(join(root, 'srv', 'data', 'db'), 'utf8'), 'new');
  await rolledBack.rollback();
  assert.equal(await readFile(join(root, 'srv', 'data', 'db'), 'utf8'), 'current');
  assert.deepEqual((await readdir(join(root, 'srv'))).sort(), ['data', 'keep']);
  // etc/conf had no previous copy: it is gone again (its directory, made on the way, stays).
  assert.deepEqual(await readdir(join(root, 'etc')), []);
});

test('a failure half-way puts back the paths already swapped', async (t) => {
  const { dir, root, input } = await setup(t);
  await writeFile(join(root, 'srv', 'data', 'db'), 'current');
  const elsewhere = join(dir, 'elsewhere');
  await mkdir(elsewhere);
  await symlink(elsewhere, join(root, 'etc'));
  await assert.rejects(restoreIntoPlace({ ...input, paths: ['srv/data', 'etc/conf'] }), /is not a directory/);
  assert.equal(await readFile(join(root, 'srv', 'data', 'db'), 'utf8'), 'current');
  assert.deepEqual((await readdir(join(root, 'srv'))).sort(), ['data', 'keep']);
  assert.deepEqual(await readdir(join(dir, 'staging')), []);
});

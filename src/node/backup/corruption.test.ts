/**
 * Damaged repositories (issue 12): a flipped byte in a data pack, a missing pack, a wrong password.
 * Each is found by `check --read-data` and by a restore, which fails rather than leave a file that
 * differs from the original unreported.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import { startBackupRepository, type BackupRepositoryFixture } from '../../testing/backup-repository.ts';
import { newBackupId, type ResticTarget } from './restic.ts';

/** The data packs of a served repository, largest first. */
async function dataPacks(repository: string): Promise<{ path: string; size: number }[]> {
  const packs: { path: string; size: number }[] = [];
  const base = join(repository, 'data');
  for (const prefix of await readdir(base)) {
    for (const name of await readdir(join(base, prefix))) {
      const path = join(base, prefix, name);
      packs.push({ path, size: (await stat(path)).size });
    }
  }
  return packs.sort((a, b) => b.size - a.size);
}

describe('damaged backup repositories are detected, never restored silently', () => {
  let fixture: BackupRepositoryFixture;
  let part: string;
  let into: string;
  let original: Buffer;
  let snapshotId: string;
  let target: ResticTarget;
  let repositoryDir: string;
  let counter = 0;

  beforeEach(async () => {
    fixture ??= await startBackupRepository();
    counter++;
    const repository = `tree-${counter}`;
    target = fixture.target(repository);
    repositoryDir = join(fixture.repositories, repository);
    part = await mkdtemp(join(tmpdir(), 'slapos-corruption-part-'));
    into = await mkdtemp(join(tmpdir(), 'slapos-corruption-into-'));
    await mkdir(join(part, 'srv'), { recursive: true });
    original = randomBytes(3 * 1024 * 1024);
    await writeFile(join(part, 'srv', 'data.bin'), original);
    await fixture.restic.init(target);
    snapshotId = (await fixture.restic.backup(target, { cwd: part, paths: ['srv'], backupId: newBackupId() }))
      .snapshotId;
    // The intact repository checks and restores.
    await fixture.restic.check(target, { readData: true });
  });
  afterEach(async () => {
    await rm(part, { recursive: true, force: true });
    await rm(into, { recursive: true, force: true });
  });
  after(async () => {
    await fixture.close();
  });

  /** Restore must fail; whatever it left must not pass for the original. */
  async function assertRestoreRefused(code: string): Promise<void> {
    await assert.rejects(fixture.restic.restore(target, snapshotId, into), { code });
    const restored = await readFile(join(into, 'srv', 'data.bin')).catch(() => undefined);
    if (restored !== undefined)
      assert.equal(restored.equals(original), false, 'a damaged restore reported as failed');
  }

  test('a flipped byte in a data pack', async () => {
    const [pack] = await dataPacks(repositoryDir);
    assert.ok(pack && pack.size > 1024 * 1024, 'the file content is in a large data pack');
    const handle = await open(pack.path, 'r+');
    try {
      const byte = Buffer.alloc(1);
      const offset = Math.floor(pack.size / 2);
      await handle.read(byte, 0, 1, offset);
      byte[0] = (byte[0] ?? 0) ^ 0x01;
      await handle.write(byte, 0, 1, offset);
    } finally {
      await handle.close();
    }
    await assert.rejects(fixture.restic.check(target, { readData: true }), {
      code: 'SLAP_ERR_BACKUP_CORRUPT',
    });
    await assertRestoreRefused('SLAP_ERR_BACKUP_CORRUPT');
  });

  test('a missing pack', async () => {
    const [pack] = await dataPacks(repositoryDir);
    assert.ok(pack);
    await rm(pack.path);
    await assert.rejects(fixture.restic.check(target, { readData: true }), {
      code: 'SLAP_ERR_BACKUP_CORRUPT',
    });
    await assertRestoreRefused('SLAP_ERR_BACKUP_CORRUPT');
  });

  test('a wrong password', async () => {
    target = { ...target, password: 'the-wrong-password' };
    await assert.rejects(fixture.restic.check(target, { readData: true }), { code: 'SLAP_ERR_BACKUP_KEY' });
    await assertRestoreRefused('SLAP_ERR_BACKUP_KEY');
    assert.deepEqual(await readdir(into), []);
  });
});

import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../lib/logger.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { isBackupId, newBackupId, Restic, type ResticTarget } from './restic.ts';

const PASSWORD = 'pw-' + 'a1b2c3d4e5f6';

describe('Restic driver (with a stand-in restic that records what it is given)', () => {
  let dir: string;
  let fake: string;
  let record: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slapos-restic-driver-'));
    record = join(dir, 'record.json');
    fake = join(dir, 'restic');
    // Records argv, the environment, the password file's mode and content; then fails, printing
    // the password on stderr (as a careless restic might), or sleeps when asked.
    await writeFile(
      fake,
      `#!${process.execPath}
const fs = require('node:fs');
const file = process.env.RESTIC_PASSWORD_FILE;
const stat = fs.statSync(file);
fs.writeFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env,
  file, mode: stat.mode & 0o777, password: fs.readFileSync(file, 'utf8') }));
if (process.argv.includes('snapshots')) { process.stdout.write('[]'); process.exit(0); }
if (process.argv.includes('check')) setTimeout(() => {}, 60000);
else { process.stderr.write('line one\\nFatal: something about ' + fs.readFileSync(file, 'utf8') + '\\n'); process.exit(1); }
`,
    );
    await chmod(fake, 0o755);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const restic = (timeoutMs = 30_000) =>
    new Restic({ binary: fake, cacheDir: join(dir, 'cache'), logger: silentLogger(), timeoutMs });
  const target: ResticTarget = { url: '/srv/backup/tree-1', password: PASSWORD };

  test('the password goes only through a 0600 file, removed after; never argv, env, or the error', async () => {
    await assert.rejects(restic().init(target), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'SLAP_ERR_BACKUP');
      assert.match(error.message, /Fatal: something about \*\*\*/);
      assert.ok(!error.message.includes(PASSWORD));
      return true;
    });
    const seen = JSON.parse(await readFile(record, 'utf8')) as {
      argv: string[];
      env: Record<string, string>;
      file: string;
      mode: number;
      password: string;
    };
    assert.equal(seen.password, PASSWORD);
    assert.equal(seen.mode, 0o600);
    assert.ok(!seen.argv.some((arg) => arg.includes(PASSWORD)));
    assert.ok(!Object.values(seen.env).some((value) => value.includes(PASSWORD)));
    assert.equal(seen.env['RESTIC_CACHE_DIR'], join(dir, 'cache'));
    assert.equal(seen.env['RESTIC_PASSWORD'], undefined);
    await assert.rejects(readFile(seen.file), { code: 'ENOENT' });
    assert.deepEqual(seen.argv.slice(0, 2), ['--repo=/srv/backup/tree-1', 'init']);
  });

  test('a command past its deadline is stopped and reported', async () => {
    await assert.rejects(
      restic(300).check(target, { readData: false }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'SLAP_ERR_BACKUP');
        assert.match(error.message, /did not finish within 0.3 s/);
        return true;
      },
    );
  });

  test('property: hostile paths, tags, exclusions, targets and ids are refused before restic runs', async () => {
    await rm(record, { force: true });
    const random = seededRandom(3);
    const id = newBackupId();
    for (let run = 0; run < 300; run++) {
      const value = hostileString(random);
      const attempts: (() => Promise<unknown>)[] = [
        () => restic().backup(target, { cwd: dir, paths: [`../${value}`], backupId: id }),
        () => restic().backup(target, { cwd: dir, paths: [`/${value}`], backupId: id }),
        () => restic().backup(target, { cwd: dir, paths: ['ok'], backupId: id, tags: [`${value},\n`] }),
        () => restic().backup(target, { cwd: dir, paths: ['ok'], backupId: `${value}x` }),
        () => restic().snapshots({ ...target, url: `rest:http://${value}` }),
        () => restic().snapshots({ ...target, url: `sftp:${value}` }),
        () => restic().snapshots({ ...target, password: ` ${value}\n` }),
        () => restic().restore(target, `${value}-`, '/tmp/x'),
      ];
      for (const attempt of attempts) await assert.rejects(attempt(), { code: 'SLAP_ERR_INVALID_INPUT' });
    }
    for (const path of ['a/../b', './a', 'a/', '-rf', '', '.']) {
      await assert.rejects(restic().backup(target, { cwd: dir, paths: [path], backupId: id }), {
        code: 'SLAP_ERR_INVALID_INPUT',
      });
    }
    await assert.rejects(
      restic().snapshots({ ...target, url: 'rest:https://user:secret@10.0.0.1:8700/tree-1/' }),
      { code: 'SLAP_ERR_INVALID_INPUT' },
    );
    await assert.rejects(restic().forget(target, { last: 0, hourly: 24, daily: 7 }), {
      code: 'SLAP_ERR_INVALID_INPUT',
    });
    await assert.rejects(readFile(record), { code: 'ENOENT' }, 'restic never ran');
  });

  test('backup ids sort by time and have the documented shape', () => {
    const early = newBackupId(new Date(Date.UTC(2026, 11, 7, 20, 30, 15, 123)));
    assert.match(early, /^20261207T203015123Z-[0-9a-f]{4}$/);
    const late = newBackupId(new Date(Date.UTC(2026, 11, 7, 20, 30, 15, 124)));
    assert.ok(early < late);
    assert.ok(isBackupId(early));
    for (const bad of ['20261207T203015123Z', '20261207T203015123Z-ABCD', `${early}\n`, 17, null])
      assert.equal(isBackupId(bad), false);
  });
});

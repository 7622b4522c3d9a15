/** Online backups of a master's SQLite database: a consistent copy, 0600, atomic, never over the database. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { backupSqliteDatabase } from './sqlite-backup.ts';
import { SqliteStore } from './sqlite-store.ts';

async function withDirectory(work: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-backup-'));
  try {
    await work(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** A master database (migrated) with a filler table of `rows` rows of 1 KiB: many pages. */
async function masterDatabase(path: string, rows: number): Promise<void> {
  await (await SqliteStore.open({ path })).close();
  const database = new BetterSqlite3(path);
  database.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)');
  const insert = database.prepare('INSERT INTO filler (data) VALUES (randomblob(1024))');
  database.transaction(() => {
    for (let index = 0; index < rows; index++) insert.run();
  })();
  database.close();
}

function fillerIds(path: string): number[] {
  const database = new BetterSqlite3(path, { fileMustExist: true });
  try {
    return database
      .prepare('SELECT id FROM filler ORDER BY id')
      .pluck()
      .all()
      .map((id) => Number(id));
  } finally {
    database.close();
  }
}

function integrity(path: string): string {
  const database = new BetterSqlite3(path, { fileMustExist: true });
  try {
    return database.pragma('integrity_check', { simple: true }) as string;
  } finally {
    database.close();
  }
}

test('a backup while another connection commits between its steps: a consistent copy of what was there at its start, 0600', async () => {
  await withDirectory(async (directory) => {
    const source = join(directory, 'master.db');
    await masterDatabase(source, 400);
    const before = fillerIds(source);
    const writer = new BetterSqlite3(source);
    writer.pragma('journal_mode = WAL');
    const insert = writer.prepare('INSERT INTO filler (data) VALUES (randomblob(1024))');
    let steps = 0;
    const target = join(directory, 'backup.db');
    try {
      const result = await backupSqliteDatabase(source, target, {
        pagesPerStep: 16,
        onProgress: () => {
          steps++;
          // Every other step, a commit by another connection: SQLite restarts the copy.
          if (steps % 2 === 0) insert.run();
        },
      });
      assert.ok(result.restarts >= 1, `restarts: ${result.restarts}`);
      assert.equal(result.path, target);
      assert.equal(result.bytes, (await stat(target)).size);
    } finally {
      writer.close();
    }
    // No temporary file left beside it.
    assert.deepEqual((await readdir(directory)).filter((name) => name.includes('backup')).sort(), [
      'backup.db',
    ]);
    assert.equal((await stat(target)).mode & 0o777, 0o600);
    assert.equal(integrity(target), 'ok');
    const copied = fillerIds(target);
    assert.deepEqual(copied.slice(0, before.length), before);
  });
});

test('an existing file is refused unless force, and replaced whole with force', async () => {
  await withDirectory(async (directory) => {
    const source = join(directory, 'master.db');
    await masterDatabase(source, 10);
    const target = join(directory, 'backup.db');
    await writeFile(target, 'precious');
    await assert.rejects(
      backupSqliteDatabase(source, target),
      (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_CONFLICT',
    );
    assert.equal(await readFile(target, 'utf8'), 'precious');
    await backupSqliteDatabase(source, target, { force: true });
    assert.equal(integrity(target), 'ok');
    assert.equal(fillerIds(target).length, 10);
    assert.equal((await stat(target)).mode & 0o777, 0o600);
  });
});

test('never over the database or its companion files, even with force', async () => {
  await withDirectory(async (directory) => {
    const source = join(directory, 'master.db');
    await masterDatabase(source, 10);
    for (const target of [source, `${source}-wal`, `${source}-shm`, join(directory, '.', 'master.db')]) {
      await assert.rejects(
        backupSqliteDatabase(source, target, { force: true }),
        (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_USAGE',
        target,
      );
    }
    assert.equal(integrity(source), 'ok');
    assert.equal(fillerIds(source).length, 10);
  });
});

test('no database, not a master database, no such directory: clear errors and nothing left behind', async () => {
  await withDirectory(async (directory) => {
    const expectCode = (code: string) => (error: unknown) =>
      error instanceof SlapError && error.code === code && !/\n\s+at /.test(error.message);
    await assert.rejects(
      backupSqliteDatabase(join(directory, 'none.db'), join(directory, 'b1.db')),
      expectCode('SLAP_ERR_DATABASE'),
    );
    const other = join(directory, 'other.db');
    new BetterSqlite3(other).exec('CREATE TABLE t (x)');
    await assert.rejects(
      backupSqliteDatabase(other, join(directory, 'b2.db')),
      expectCode('SLAP_ERR_DATABASE'),
    );
    const garbage = join(directory, 'garbage.db');
    await writeFile(garbage, 'not a database at all, but long enough to have a header '.repeat(20));
    await assert.rejects(
      backupSqliteDatabase(garbage, join(directory, 'b3.db')),
      expectCode('SLAP_ERR_DATABASE'),
    );
    const source = join(directory, 'master.db');
    await masterDatabase(source, 1);
    await assert.rejects(
      backupSqliteDatabase(source, join(directory, 'missing', 'b4.db')),
      expectCode('SLAP_ERR_USAGE'),
    );
    assert.deepEqual(
      (await readdir(directory)).filter((name) => /b\d/.test(name)),
      [],
    );
  });
});

test('any file name: the backup lands under exactly that name (control characters, line terminators, spaces at the ends)', async () => {
  await withDirectory(async (directory) => {
    const source = join(directory, 'master.db');
    await masterDatabase(source, 3);
    const random = seededRandom(29);
    const names = new Set<string>([
      ' leading and trailing ',
      '\n',
      'a\u2028b\u0085c\x1c\x1d\x1e\v\f\r',
      '-',
      'x'.repeat(250),
    ]);
    while (names.size < 20) {
      const name = hostileString(random).replaceAll('/', '').replaceAll('\0', '');
      if (
        name !== '' &&
        name !== '.' &&
        name !== '..' &&
        Buffer.from(name, 'utf8').toString('utf8') === name &&
        Buffer.byteLength(name) <= 255
      )
        names.add(name);
    }
    names.delete('master.db');
    const out = join(directory, 'out');
    await mkdir(out);
    for (const name of names) {
      await backupSqliteDatabase(source, join(out, name));
      // Read through a plain name: better-sqlite3 trims the paths it opens.
      await copyFile(join(out, name), join(directory, 'check.db'));
      assert.equal(fillerIds(join(directory, 'check.db')).length, 3, JSON.stringify(name));
    }
    assert.deepEqual(
      (await readdir(out)).filter((entry) => !names.has(entry) && !/-(wal|shm)$/.test(entry)),
      [],
    );
    assert.deepEqual(
      [...names].filter((name) => !existsSync(join(out, name))),
      [],
    );
  });
});

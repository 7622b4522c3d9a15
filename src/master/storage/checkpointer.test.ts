import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { limitFileSize } from '../../testing/file-size-limit.ts';
import { waitFor } from '../../testing/supervisor.ts';
import { BackgroundCheckpointer } from './checkpointer.ts';
import { openSqliteStore } from './sqlite-store.ts';

async function withDirectory(work: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-checkpoint-'));
  try {
    await work(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

test('after enough write commits, a worker thread checkpoints the WAL into the database', async () => {
  await withDirectory(async (directory) => {
    const path = join(directory, 'proxy.db');
    const checkpoints: { walFrames: number; copiedFrames: number }[] = [];
    const store = await openSqliteStore({
      path,
      backgroundCheckpointAfter: 5,
      onBackgroundCheckpoint: (result) => checkpoints.push(result),
    });
    for (let index = 0; index < 4; index++) {
      await store.write((repository) =>
        repository.upsertComputeNode({ reference: `early-${index}`, address: null, netmask: null, now: 1 }),
      );
    }
    // Not started yet: a store that writes little never starts a thread.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(checkpoints.length, 0);
    for (let index = 0; index < 20; index++) {
      await store.write((repository) =>
        repository.upsertComputeNode({ reference: `node-${index}`, address: null, netmask: null, now: 1 }),
      );
    }
    // Once the writes stop, the whole WAL ends up in the database file.
    const last = await waitFor('a complete background checkpoint', () => {
      const result = checkpoints.at(-1);
      return result && result.walFrames > 0 && result.copiedFrames === result.walFrames && result;
    });
    assert.ok(last.walFrames > 0);
    assert.equal((await store.read((repository) => repository.listComputeNodes())).length, 24);
    await store.close();
    await store.close();
    const count = checkpoints.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(checkpoints.length, count, 'no checkpoint after close');
    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      assert.deepEqual(raw.prepare('SELECT count(*) AS n FROM compute_node').get(), { n: 24 });
    } finally {
      raw.close();
    }
  });
});

test('a checkpointer whose worker cannot open the database reports the failure once', async () => {
  await withDirectory(async (directory) => {
    const failures: Error[] = [];
    const checkpointer = new BackgroundCheckpointer({
      path: join(directory, 'missing', 'proxy.db'),
      onFailure: (error) => failures.push(error),
    });
    await waitFor('the failure', () => failures.length > 0);
    assert.equal(checkpointer.state, 'failed');
    await checkpointer.close();
    await checkpointer.close();
    assert.equal(failures.length, 1);
    assert.match(String(failures[0]?.message), /directory does not exist|unable to open/i);
  });
});

test('a checkpoint that fails (the disk full) is logged once and tried again; the worker lives on', async () => {
  await withDirectory(async (directory) => {
    const path = join(directory, 'proxy.db');
    // Pages in the WAL, none checkpointed into the database file yet.
    const writer = new BetterSqlite3(path);
    writer.pragma('journal_mode = WAL');
    writer.pragma('wal_autocheckpoint = 0');
    writer.exec('CREATE TABLE filler (data BLOB)');
    for (let index = 0; index < 100; index++)
      writer.prepare('INSERT INTO filler VALUES (randomblob(4096))').run();
    const records: [string, Record<string, unknown>, string][] = [];
    const record =
      (level: string) =>
      (fields: Record<string, unknown>, message: string): void =>
        void records.push([level, fields, message]);
    const logger = {
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    } as unknown as Logger;
    const checkpoints: { walFrames: number; copiedFrames: number }[] = [];
    // The checkpoint must grow the database file: past the limit, it fails.
    const restore = limitFileSize(process.pid, statSync(path).size);
    let restored = false;
    const checkpointer = new BackgroundCheckpointer({
      path,
      intervalMs: 20,
      logger,
      onFailure: (error) => records.push(['failure', {}, error.message]),
      onCheckpoint: (result) => checkpoints.push(result),
    });
    try {
      checkpointer.noteCommit();
      await waitFor('a failed checkpoint', () =>
        records.some(([, , message]) => /checkpoint failed/.test(message)),
      );
      restore();
      restored = true;
      await waitFor('a complete checkpoint', () =>
        checkpoints.some((result) => result.walFrames > 0 && result.copiedFrames === result.walFrames),
      );
      assert.equal(checkpointer.state, 'running');
      assert.deepEqual(
        records.map(([level, fields, message]) => [level, Object.keys(fields), message]),
        [
          ['warn', ['sqlite'], 'background checkpoint failed; trying again every second'],
          ['info', ['failedFor'], 'background checkpoints work again'],
        ],
      );
      assert.match(String(records[0]?.[1].sqlite), /^SQLITE_(IOERR|FULL)/);
    } finally {
      if (!restored) restore();
      await checkpointer.close();
      writer.close();
    }
    const raw = new BetterSqlite3(path);
    try {
      assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(raw.prepare('SELECT count(*) AS n FROM filler').get(), { n: 100 });
    } finally {
      raw.close();
    }
  });
});

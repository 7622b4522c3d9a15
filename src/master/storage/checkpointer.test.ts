import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

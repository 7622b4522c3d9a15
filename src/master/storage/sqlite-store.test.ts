import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { openSqliteStore } from './sqlite-store.ts';

async function withDirectory(work: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-store-'));
  try {
    await work(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

test('the store migrates once, keeps its data across reopenings, in WAL mode with foreign keys', async () => {
  await withDirectory(async (directory) => {
    const path = join(directory, 'nested', 'proxy.db');
    const store = await openSqliteStore({ path });
    await store.write(async (repository) => {
      await repository.upsertComputeNode({ reference: 'computer', address: null, netmask: null, now: 1 });
      for (const id of ['slappart2', 'slappart0', 'slappart1']) {
        await repository.insertPartition({ computeNodeId: 'computer', partitionId: id });
      }
    });
    await store.close();
    await store.close(); // idempotent
    const again = await openSqliteStore({ path });
    // Insertion order, not name order: slapproxy's "DB order".
    const partitions = await again.read((repository) => repository.listPartitions('computer'));
    assert.deepEqual(
      partitions.map((partition) => partition.reference),
      ['slappart2', 'slappart0', 'slappart1'],
    );
    assert.equal(
      (await again.read((repository) => repository.firstFreePartition('computer')))?.reference,
      'slappart2',
    );
    await again.close();
    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
      const migrations = raw.prepare('SELECT name FROM kysely_migration').all();
      assert.deepEqual(migrations, [{ name: '0001_initial' }]);
    } finally {
      raw.close();
    }
  });
});

test('a use case that fails leaves nothing behind', async () => {
  await withDirectory(async (directory) => {
    const store = await openSqliteStore({ path: join(directory, 'proxy.db') });
    await assert.rejects(
      store.write(async (repository) => {
        await repository.upsertComputeNode({ reference: 'computer', address: null, netmask: null, now: 1 });
        throw new SlapError('SLAP_ERR_INVALID_INPUT', 'changed my mind');
      }),
      /changed my mind/,
    );
    assert.deepEqual(await store.read((repository) => repository.listComputeNodes()), []);
    await store.close();
    await assert.rejects(
      store.read((repository) => repository.listComputeNodes()),
      /closed/,
    );
  });
});

test('a file that is not a database, or a newer schema, is a clear SLAP_ERR_DATABASE', async () => {
  await withDirectory(async (directory) => {
    const garbage = join(directory, 'garbage.db');
    await writeFile(garbage, 'this is not a database, just some text that is long enough '.repeat(100));
    await assert.rejects(openSqliteStore({ path: garbage }), (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_DATABASE');
      assert.match(error.message, /garbage\.db/);
      return true;
    });
    const newer = join(directory, 'newer.db');
    const store = await openSqliteStore({ path: newer });
    await store.close();
    const raw = new BetterSqlite3(newer);
    raw.prepare("INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_from_the_future', 'x')").run();
    raw.close();
    await assert.rejects(openSqliteStore({ path: newer }), (error: unknown) => {
      assert.ok(error instanceof SlapError && error.code === 'SLAP_ERR_DATABASE');
      return true;
    });
  });
});

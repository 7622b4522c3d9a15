import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { openSqliteStore } from './sqlite-store.ts';
import type { Repository } from './repository.ts';

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
      assert.deepEqual(migrations, [
        { name: '0001_initial' },
        { name: '0002_change_stream' },
        { name: '0003_promise_results' },
        { name: '0004_identities' },
        { name: '0005_instance_owner' },
        { name: '0006_dependency_time' },
        { name: '0007_scale_indexes' },
        { name: '0008_timeline' },
        { name: '0009_usage' },
        { name: '0010_panel_sessions' },
        { name: '0011_node_contact' },
        { name: '0012_invoicing' },
        { name: '0013_invoice_periods' },
        { name: '0014_allocation_owner' },
        { name: '0015_regularisation' },
        { name: '0016_allocation_release' },
        { name: '0017_backups' },
        { name: '0018_restore_into' },
      ]);
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

test('group commit: concurrent use cases share one commit; a failing one is rolled back alone', async () => {
  await withDirectory(async (directory) => {
    const store = await openSqliteStore({ path: join(directory, 'proxy.db') });
    const node = (reference: string) => (repository: Repository) =>
      repository.upsertComputeNode({ reference, address: null, netmask: null, now: 1 });
    const results = await Promise.allSettled([
      store.write(node('first')),
      store.write(async (repository) => {
        await node('doomed')(repository);
        throw new SlapError('SLAP_ERR_INVALID_INPUT', 'no');
      }),
      store.write(node('third')),
      store.read((repository) => repository.listComputeNodes()),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    // The read ran after the writes queued before it, and answered once they were committed.
    const seen = (results[3] as PromiseFulfilledResult<{ reference: string }[]>).value.map(
      (row) => row.reference,
    );
    assert.deepEqual(seen, ['first', 'third']);
    const nodes = await store.read((repository) => repository.listComputeNodes());
    assert.deepEqual(
      nodes.map((row) => row.reference),
      ['first', 'third'],
    );
    await store.close();
  });
});

test('memoized reads: the same result until a write commits', async () => {
  await withDirectory(async (directory) => {
    const store = await openSqliteStore({ path: join(directory, 'proxy.db') });
    let computed = 0;
    const list = () =>
      store.memoizedRead('nodes', async (repository) => {
        computed++;
        return repository.listComputeNodes();
      });
    // Callers that miss together share one read.
    const [first, same] = await Promise.all([list(), list()]);
    assert.equal(same, first);
    assert.equal(await list(), first);
    assert.equal(computed, 1);
    await store.write((repository) =>
      repository.upsertComputeNode({ reference: 'n', address: null, netmask: null, now: 1 }),
    );
    const second = await list();
    assert.notEqual(second, first);
    assert.deepEqual(
      second.map((row) => row.reference),
      ['n'],
    );
    // A read that starts while a write is queued answers from the committed state.
    const [, during] = await Promise.all([
      store.write((repository) =>
        repository.upsertComputeNode({ reference: 'm', address: null, netmask: null, now: 1 }),
      ),
      list(),
    ]);
    assert.equal(during, second);
    // A read that runs behind a write of the same group sees uncommitted data: it is not memoized.
    let fresh = 0;
    const other = () =>
      store.memoizedRead('other', async (repository) => {
        fresh++;
        return repository.listComputeNodes();
      });
    const [, behind] = await Promise.all([
      store.write((repository) =>
        repository.upsertComputeNode({ reference: 'o', address: null, netmask: null, now: 1 }),
      ),
      other(),
    ]);
    assert.equal(behind.length, 3);
    await other();
    assert.equal(fresh, 2);
    await other();
    assert.equal(fresh, 2);
    await store.close();
  });
});

test('a database locked by another process is a 503 "busy", and the store recovers', async () => {
  await withDirectory(async (directory) => {
    const path = join(directory, 'proxy.db');
    const store = await openSqliteStore({ path, busyTimeoutMs: 50 });
    const other = new BetterSqlite3(path);
    other.exec('BEGIN IMMEDIATE');
    await assert.rejects(
      store.write((repository) =>
        repository.upsertComputeNode({ reference: 'n', address: null, netmask: null, now: 1 }),
      ),
      (error: unknown) =>
        error instanceof SlapError && error.code === 'SLAP_ERR_UNAVAILABLE' && error.status === 503,
    );
    other.exec('ROLLBACK');
    other.close();
    await store.write((repository) =>
      repository.upsertComputeNode({ reference: 'n', address: null, netmask: null, now: 1 }),
    );
    assert.equal((await store.read((repository) => repository.listComputeNodes())).length, 1);
    await store.close();
  });
});

test('another process committing between a read and a write queued together fails neither', async () => {
  await withDirectory(async (directory) => {
    const path = join(directory, 'master.db');
    const store = await openSqliteStore({ path });
    const other = new BetterSqlite3(path);
    try {
      const insert = other.prepare('INSERT INTO compute_node (reference, created_at) VALUES (?, 1)');
      // Without care the write would join the read's transaction, whose snapshot the other
      // process made stale: SQLite refuses it the write lock (SQLITE_BUSY_SNAPSHOT), a spurious 503.
      const [read, written] = await Promise.allSettled([
        store.read(async (repository) => {
          const nodes = await repository.listComputeNodes();
          insert.run('from another process');
          return nodes.length;
        }),
        store.write((repository) =>
          repository.upsertComputeNode({ reference: 'from the store', address: null, netmask: null, now: 2 }),
        ),
      ]);
      assert.deepEqual(read, { status: 'fulfilled', value: 0 });
      assert.deepEqual(written, { status: 'fulfilled', value: undefined });
      assert.deepEqual(
        (await store.read((repository) => repository.listComputeNodes())).map((node) => node.reference),
        ['from another process', 'from the store'],
      );
    } finally {
      other.close();
      await store.close();
    }
  });
});

test('memoized reads of a node: kept across writes of other nodes, even when read behind them in one group', async () => {
  await withDirectory(async (directory) => {
    const store = await openSqliteStore({ path: join(directory, 'proxy.db') });
    const upsert = (reference: string) =>
      store.write((repository) =>
        repository.upsertComputeNode({ reference, address: null, netmask: null, now: 1 }),
      );
    await upsert('A');
    await upsert('B');
    const loads = new Map<string, number>();
    const read = (node: string) =>
      store.memoizedRead(
        `node:${node}`,
        async (repository) => {
          loads.set(node, (loads.get(node) ?? 0) + 1);
          return repository.getComputeNode(node);
        },
        { computeNodeId: node },
      );
    const first = await read('B');
    await upsert('A');
    assert.equal(await read('B'), first, 'a write of A keeps the read of B');
    await upsert('B');
    // The write of A and the read of B are queued together: one group, the read behind the write.
    const [, behind] = await Promise.all([upsert('A'), read('B')]);
    assert.notEqual(behind, first);
    assert.equal(await read('B'), behind, 'read behind a write of another node: kept');
    assert.equal(loads.get('B'), 2);
    // Behind a write of the same node, the read sees uncommitted data: not kept.
    await upsert('B');
    const [, same] = await Promise.all([upsert('B'), read('B')]);
    assert.notEqual(await read('B'), same);
    assert.equal(loads.get('B'), 4);
    await store.close();
  });
});

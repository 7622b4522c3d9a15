/**
 * What only the PostgreSQL store has: several masters on one database (change notices, memoized
 * reads invalidated, serialisable retries), migrations applied once by masters starting together,
 * and the database going away and coming back.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { fixedClock } from '../../../core/clock.ts';
import { SlapError } from '../../../core/errors.ts';
import { execFile } from '../../../lib/exec.ts';
import { silentLogger } from '../../../lib/logger.ts';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { createTestPostgresDatabase } from '../../../testing/test-database.ts';
import {
  createMasterServices,
  createServiceContext,
  LOCAL_CALLER,
  proxyModeAuthorizer,
  type MasterServices,
} from '../../services/index.ts';
import { postgresConnection, postgresUri } from '../database-location.ts';
import type { MasterStore } from '../repository.ts';
import { decodeChangeNotice, encodeChangeNotices } from './change-notifications.ts';
import { pgClientConfig } from './connection.ts';
import { openPostgresStore, type PostgresStore } from './postgres-store.ts';

const node = (reference: string) => ({ reference, address: null, netmask: null, now: 1 });

/** Resolves once `check` holds (polled), or fails after `ms`. */
async function eventually(check: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('property: change notices fit PostgreSQL payloads and give back every node (or "all")', () => {
  const random = seededRandom(8000);
  for (let i = 0; i < 200; i++) {
    const count = Math.floor(random() * (i % 10 === 0 ? 3000 : 40));
    const nodes = new Set<string>();
    for (let n = 0; n < count; n++) nodes.add(hostileString(random, 6) + String(n));
    const payloads = encodeChangeNotices('origin-1', nodes);
    const heard = new Set<string>();
    let all = false;
    for (const payload of payloads) {
      assert.ok(Buffer.byteLength(payload) < 8000);
      const notice = decodeChangeNotice(payload);
      assert.equal(notice.origin, 'origin-1');
      if (notice.nodes === 'all') all = true;
      else for (const n of notice.nodes) heard.add(n);
    }
    if (all) assert.equal(payloads.length, 1);
    else assert.deepEqual([...heard].sort(), [...nodes].sort());
  }
  for (const garbage of [undefined, '', 'x', '{"n":[1]}', '[]', 'null'])
    assert.equal(decodeChangeNotice(garbage).nodes, 'all');
});

test('two masters on one database: a commit on one wakes the node listeners of the other and refreshes its memoized reads', async () => {
  const database = await createTestPostgresDatabase();
  const a = await openPostgresStore({ uri: database.location.uri });
  const b = await openPostgresStore({ uri: database.location.uri });
  try {
    const heard: string[] = [];
    b.onNodeChanges((nodes) => heard.push(...nodes));
    const list = (store: MasterStore) =>
      store.memoizedRead('nodes', async (repository) =>
        (await repository.listComputeNodes()).map((row) => row.reference),
      );
    assert.deepEqual(await list(b), []);
    await a.write(async (repository) => {
      await repository.upsertComputeNode(node('COMP-A'));
      await repository.bumpNodeRevision('COMP-A');
    });
    await eventually(() => heard.includes('COMP-A'), 'b hears COMP-A');
    assert.deepEqual(await list(b), ['COMP-A']);
    // A change that bumps no node still refreshes the other master's memoized reads.
    await a.write((repository) => repository.upsertComputeNode(node('COMP-B')));
    await eventually(async () => (await list(b)).length === 2, 'b sees COMP-B');
    // A master does not hear its own notices a second time.
    const heardByA: string[] = [];
    a.onNodeChanges((nodes) => heardByA.push(...nodes));
    await a.write((repository) => repository.bumpNodeRevision('COMP-B'));
    await eventually(() => heard.includes('COMP-B'), 'b hears COMP-B');
    assert.deepEqual(heardByA, ['COMP-B']);
  } finally {
    await a.close();
    await b.close();
    await database.drop();
  }
});

function proxyServices(store: MasterStore): MasterServices {
  return createMasterServices(
    createServiceContext({
      store,
      clock: fixedClock(1_700_000_000),
      logger: silentLogger(),
      defaultComputeNodeId: 'computer',
      authorizer: proxyModeAuthorizer,
    }),
  );
}

test('the same requests sent at once to two masters create each instance once, on distinct partitions', async () => {
  const database = await createTestPostgresDatabase();
  const stores = [
    await openPostgresStore({ uri: database.location.uri }),
    await openPostgresStore({ uri: database.location.uri }),
  ];
  try {
    const [one, two] = stores.map(proxyServices) as [MasterServices, MasterServices];
    await one.formatComputeNode({
      caller: LOCAL_CALLER,
      format: {
        computeNodeId: 'computer',
        address: null,
        netmask: null,
        partitions: Array.from({ length: 12 }, (_, n) => ({ reference: `slappart${n}`, addresses: [] })),
      },
    });
    const request = (services: MasterServices, title: string) =>
      services.requestInstance({
        caller: LOCAL_CALLER,
        title,
        softwareRelease: 'https://example.com/sr.cfg',
        softwareType: '',
        parameters: {},
        shared: false,
        state: 'started',
        sla: {},
      });
    const titles = ['a', 'b', 'c', 'd', 'e', 'f'];
    const answers = await Promise.all(
      titles.flatMap((title) => [request(one, title), request(two, title), request(one, title)]),
    );
    const partitionOf = new Map<string, Set<string>>();
    for (const answer of answers) {
      const seen = partitionOf.get(answer.title) ?? new Set<string>();
      seen.add(answer.partitionId);
      partitionOf.set(answer.title, seen);
    }
    // Every answer for a title names the same partition, and no two titles share one.
    for (const title of titles) assert.equal(partitionOf.get(title)?.size, 1, title);
    const partitions = titles.map((title) => [...(partitionOf.get(title) ?? [])][0]);
    assert.equal(new Set(partitions).size, titles.length);
    const stored = await (stores[0] as PostgresStore).read((repository) =>
      repository.listPartitions('computer'),
    );
    assert.equal(stored.filter((partition) => partition.slapState === 'busy').length, titles.length);
  } finally {
    for (const store of stores) await store.close();
    await database.drop();
  }
});

test('masters opening an empty database at once create the schema once', async () => {
  const database = await createTestPostgresDatabase({ empty: true });
  try {
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ uri: database.location.uri })));
    await stores[0]?.write((repository) => repository.upsertComputeNode(node('n')));
    for (const store of stores)
      assert.deepEqual(
        (await store.read((repository) => repository.listComputeNodes())).map((row) => row.reference),
        ['n'],
      );
    for (const store of stores) await store.close();
  } finally {
    await database.drop();
  }
});

const unavailable = (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_UNAVAILABLE';

test('the database stopped and started again: calls answer SLAP_ERR_UNAVAILABLE meanwhile, then work, notices again', async () => {
  // A cluster of its own: stopping the shared one would fail the other tests.
  const directory = await mkdtemp(join(tmpdir(), 'slapos-pg-outage-'));
  // As root, the cluster runs as another user (pg-cluster.sh), who must reach its directory.
  await chmod(directory, 0o755);
  const cluster = join(directory, 'cluster');
  const pgCluster = async (action: string): Promise<string> => {
    const script = join(import.meta.dirname, '../../../../../scripts/pg-cluster.sh');
    const result = await execFile('bash', [script, action, cluster], { timeoutMs: 120_000 });
    if (result.exitCode !== 0) throw new Error(`pg-cluster.sh ${action} failed: ${result.stderr}`);
    return result.stdout;
  };
  try {
    const uri = postgresUri({
      ...postgresConnection((await pgCluster('start')).trim()),
      database: 'postgres',
    });
    const a = await openPostgresStore({ uri, connectTimeoutMs: 2000 });
    const b = await openPostgresStore({ uri, connectTimeoutMs: 2000 });
    try {
      await a.write((repository) => repository.upsertComputeNode(node('before')));
      await pgCluster('stop');
      await assert.rejects(
        a.read((repository) => repository.listComputeNodes()),
        unavailable,
      );
      await assert.rejects(
        a.write((repository) => repository.upsertComputeNode(node('during'))),
        unavailable,
      );
      await pgCluster('start');
      await eventually(
        () =>
          a
            .read((repository) => repository.listComputeNodes())
            .then(
              () => true,
              (error: unknown) => {
                if (!unavailable(error)) throw error;
                return false;
              },
            ),
        'a reads again',
      );
      // Nothing acknowledged was lost; nothing refused was written.
      assert.deepEqual(
        (await a.read((repository) => repository.listComputeNodes())).map((row) => row.reference),
        ['before'],
      );
      // Both listen again: a commit on one wakes the other.
      const heard: string[] = [];
      b.onNodeChanges((nodes) => heard.push(...nodes));
      await eventually(async () => {
        await a.write((repository) => repository.bumpNodeRevision('after'));
        return heard.includes('after');
      }, 'b hears a after the restart');
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await pgCluster('stop').catch(() => undefined);
    await rm(directory, { recursive: true, force: true });
  }
});

test("docs/operations.md's backup: pg_dump while a master writes, pg_restore into an empty database, the data back", async () => {
  const source = await createTestPostgresDatabase();
  const target = await createTestPostgresDatabase({ empty: true });
  const directory = await mkdtemp(join(tmpdir(), 'slapos-pg-dump-'));
  await chmod(directory, 0o777);
  const dump = join(directory, 'slapos.dump');
  const bin = (name: string) => join(process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin', name);
  const run = async (file: string, args: string[]): Promise<void> => {
    const result = await execFile(file, args, { timeoutMs: 120_000 });
    if (result.exitCode !== 0) throw new Error(`${file} failed: ${result.stderr}`);
  };
  const store = await openPostgresStore({ uri: source.location.uri });
  try {
    await store.write(async (repository) => {
      await repository.upsertComputeNode(node('COMP-1'));
      await repository.bumpNodeRevision('COMP-1');
    });
    // The master keeps writing during the dump: the dump is one consistent snapshot.
    const writing = store.write((repository) => repository.upsertComputeNode(node('COMP-2')));
    await run(bin('pg_dump'), ['--format=custom', `--file=${dump}`, `--dbname=${source.location.uri}`]);
    await writing;
    await run(bin('pg_restore'), ['--no-owner', `--dbname=${target.location.uri}`, dump]);
    const restored = await openPostgresStore({ uri: target.location.uri });
    try {
      const nodes = await restored.read((repository) => repository.listComputeNodes());
      assert.deepEqual(nodes.map((row) => row.reference).slice(0, 1), ['COMP-1']);
      assert.equal(await restored.read((repository) => repository.getNodeRevision('COMP-1')), 1);
      // Ids continue after the restored ones (the identity sequences were restored too).
      await restored.write((repository) => repository.upsertComputeNode(node('COMP-3')));
    } finally {
      await restored.close();
    }
  } finally {
    await store.close();
    await source.drop();
    await target.drop();
    await rm(directory, { recursive: true, force: true });
  }
});

test('a conflict whose ROLLBACK finds the connection gone (the server going down) is retried, not passed on as a 500', async () => {
  const database = await createTestPostgresDatabase();
  const store = await openPostgresStore({ uri: database.location.uri, logger: silentLogger() });
  const admin = new pg.Client(pgClientConfig(database.location.uri, { applicationName: 'slapos-tests' }));
  await admin.connect();
  try {
    let attempts = 0;
    const value = await store.write(async () => {
      attempts++;
      if (attempts > 1) return 'committed';
      // This transaction's connection is cut (as a fast shutdown cuts it), then the use case meets a
      // conflict: its ROLLBACK fails on the dead connection.
      const { rows } = await admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'",
      );
      const pid = rows[0]?.pid;
      assert.ok(pid !== undefined, 'the transaction is open');
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await eventually(
        async () =>
          (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0,
        'the backend gone',
      );
      throw Object.assign(new Error('could not serialize access due to concurrent update'), {
        code: '40001',
      });
    });
    assert.equal(value, 'committed');
    assert.equal(attempts, 2);
  } finally {
    await admin.end();
    await store.close();
    await database.drop();
  }
});

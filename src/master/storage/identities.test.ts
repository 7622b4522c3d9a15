import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, Migrator, SqliteDialect } from '../../lib/kysely.ts';
import { execFile } from '../../lib/exec.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { migrationsFor } from './migrations.ts';
import { openTestStore } from '../../testing/test-database.ts';
import type { AllocationScope, CertificateRecord, MasterStore, Repository } from './repository.ts';
import { openSqliteStore, type SqliteStore } from './sqlite-store.ts';

/** A store on a fresh database of this run's kind (SLAPOS_TEST_STORE: SQLite, or PostgreSQL). */
async function withStore(work: (store: MasterStore) => Promise<void>): Promise<void> {
  const { store, close } = await openTestStore();
  try {
    await work(store);
  } finally {
    await close();
  }
}

/** A SQLite store, for what only SQLite has: a file another process opens. */
async function withSqliteStore(work: (store: SqliteStore, path: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-identities-'));
  const path = join(directory, 'master.db');
  const store = await openSqliteStore({ path });
  try {
    await work(store, path);
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
}

/** The database's CHECK constraint refused a row (SQLite's code, or PostgreSQL's SQLSTATE). */
const isCheckViolation = (error: unknown): boolean =>
  ['SQLITE_CONSTRAINT_CHECK', '23514'].includes(String((error as { code?: unknown }).code));

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

async function addUsers(store: MasterStore, ...names: string[]): Promise<void> {
  await store.write(async (repository) => {
    for (const name of names) await repository.insertUser({ name, admin: name === 'admin', now: 10 });
  });
}

test('users: insert, get, list by name, disable; a taken name is a conflict', async () => {
  await withStore(async (store) => {
    await addUsers(store, 'zoe', 'admin', 'bob.smith-2');
    assert.deepEqual(await store.read((repository) => repository.getUser('admin')), {
      name: 'admin',
      admin: true,
      disabled: false,
      createdAt: 10,
    });
    assert.equal(await store.read((repository) => repository.getUser('nobody')), undefined);
    assert.deepEqual(
      (await store.read((repository) => repository.listUsers())).map((user) => user.name),
      ['admin', 'bob.smith-2', 'zoe'],
    );
    await rejectsWithSlapError(
      store.write((repository) => repository.insertUser({ name: 'zoe', admin: true, now: 11 })),
      'SLAP_ERR_CONFLICT',
      /"zoe" already exists/,
    );
    assert.equal((await store.read((repository) => repository.getUser('zoe')))?.admin, false);

    assert.equal(await store.write((repository) => repository.setUserDisabled('zoe', true)), true);
    assert.equal((await store.read((repository) => repository.getUser('zoe')))?.disabled, true);
    assert.equal(await store.write((repository) => repository.setUserDisabled('zoe', false)), true);
    assert.equal((await store.read((repository) => repository.getUser('zoe')))?.disabled, false);
    assert.equal(await store.write((repository) => repository.setUserDisabled('nobody', true)), false);
  });
});

test('user tokens: found by their digest, for an existing user only, never named in errors', async () => {
  await withStore(async (store) => {
    await addUsers(store, 'alice', 'bob');
    await store.write(async (repository) => {
      await repository.insertUserToken({ tokenHash: HASH_A, user: 'alice', now: 1 });
      await repository.insertUserToken({ tokenHash: HASH_B, user: 'alice', now: 2 });
    });
    const found = await store.read((repository) => repository.findUserByTokenHash(HASH_B));
    assert.deepEqual(found, { name: 'alice', admin: false, disabled: false, createdAt: 10 });
    assert.equal(await store.read((repository) => repository.findUserByTokenHash('c'.repeat(64))), undefined);
    // A disabled user is still found: the caller refuses it.
    await store.write((repository) => repository.setUserDisabled('alice', true));
    assert.equal((await store.read((repository) => repository.findUserByTokenHash(HASH_A)))?.disabled, true);

    const missing = await rejectsWithSlapError(
      store.write((repository) =>
        repository.insertUserToken({ tokenHash: 'c'.repeat(64), user: 'carol', now: 3 }),
      ),
      'SLAP_ERR_NOT_FOUND',
      /carol/,
    );
    assert.doesNotMatch(missing.message, /cccc/);
    const taken = await rejectsWithSlapError(
      store.write((repository) => repository.insertUserToken({ tokenHash: HASH_A, user: 'bob', now: 3 })),
      'SLAP_ERR_CONFLICT',
    );
    assert.doesNotMatch(taken.message, /aaaa/);
    assert.equal((await store.read((repository) => repository.findUserByTokenHash(HASH_A)))?.name, 'alice');
  });
});

test('registration tokens: stored, read back, used once only (even by concurrent use cases)', async () => {
  await withStore(async (store) => {
    await addUsers(store, 'alice');
    const record = { tokenHash: HASH_A, owner: 'alice', expiresAt: 3601.5, usedAt: null, createdAt: 1.5 };
    await store.write((repository) => repository.insertRegistrationToken(record));
    assert.deepEqual(await store.read((repository) => repository.getRegistrationToken(HASH_A)), record);
    assert.equal(await store.read((repository) => repository.getRegistrationToken(HASH_B)), undefined);

    const attempts = await Promise.all(
      [5, 6, 7].map((now) => store.write((repository) => repository.markRegistrationTokenUsed(HASH_A, now))),
    );
    assert.deepEqual(attempts, [true, false, false]);
    assert.equal((await store.read((repository) => repository.getRegistrationToken(HASH_A)))?.usedAt, 5);
    assert.equal(await store.write((repository) => repository.markRegistrationTokenUsed(HASH_B, 8)), false);

    await rejectsWithSlapError(
      store.write((repository) => repository.insertRegistrationToken({ ...record, owner: 'mallory' })),
      'SLAP_ERR_CONFLICT',
    );
    await rejectsWithSlapError(
      store.write((repository) =>
        repository.insertRegistrationToken({ ...record, tokenHash: HASH_B, owner: 'mallory' }),
      ),
      'SLAP_ERR_NOT_FOUND',
      /mallory/,
    );
  });
});

test('certificates: stored, listed by kind and subject in issuing order, revoked with a count', async () => {
  await withStore(async (store) => {
    const certificate = (
      serial: string,
      kind: CertificateRecord['kind'],
      subject: string,
      createdAt: number,
    ) => ({
      serial,
      kind,
      subject,
      notAfter: createdAt + 365 * 86400,
      revokedAt: null,
      createdAt,
    });
    const issued = [
      certificate('0f', 'instance', 'SOFTINST-1', 1),
      certificate('e3b0c44298fc1c149afbf4c8996fb924', 'compute_node', 'COMP-1', 2),
      certificate('0a', 'instance', 'SOFTINST-1', 3),
      certificate('01', 'instance', 'SOFTINST-2', 4),
      certificate('02', 'user', 'SOFTINST-1', 5),
    ];
    await store.write(async (repository) => {
      for (const record of issued) await repository.insertCertificate(record);
    });
    assert.deepEqual(await store.read((repository) => repository.getCertificate('0a')), issued[2]);
    assert.equal(await store.read((repository) => repository.getCertificate('0b')), undefined);
    const serials = (filter?: Parameters<Repository['listCertificates']>[0]) =>
      store.read(async (repository) =>
        (await repository.listCertificates(filter)).map((record) => record.serial),
      );
    assert.deepEqual(await serials(), ['0f', 'e3b0c44298fc1c149afbf4c8996fb924', '0a', '01', '02']);
    assert.deepEqual(await serials({ kind: 'instance' }), ['0f', '0a', '01']);
    assert.deepEqual(await serials({ subject: 'SOFTINST-1' }), ['0f', '0a', '02']);
    assert.deepEqual(await serials({ kind: 'instance', subject: 'SOFTINST-1' }), ['0f', '0a']);

    const revoke = (now: number) =>
      store.write((repository) =>
        repository.revokeCertificates({ kind: 'instance', subject: 'SOFTINST-1', now }),
      );
    assert.equal(await revoke(100), 2);
    assert.equal(await revoke(200), 0);
    const after = await store.read((repository) => repository.listCertificates());
    assert.deepEqual(
      after.map((record) => [record.serial, record.revokedAt]),
      [
        ['0f', 100],
        ['e3b0c44298fc1c149afbf4c8996fb924', null],
        ['0a', 100],
        ['01', null],
        ['02', null],
      ],
    );
    await rejectsWithSlapError(
      store.write((repository) => repository.insertCertificate(certificate('0f', 'user', 'alice', 9))),
      'SLAP_ERR_CONFLICT',
    );
    // The database itself refuses a kind outside the list (a bug upstream, not a user's input).
    await assert.rejects(
      store.write((repository) =>
        repository.insertCertificate(certificate('0e', 'admin' as CertificateRecord['kind'], 'alice', 9)),
      ),
      isCheckViolation,
    );
  });
});

test('registration tokens: listed by owner newest first; deleted by their owner only', async () => {
  await withStore(async (store) => {
    await addUsers(store, 'alice', 'bob');
    const older = { tokenHash: HASH_A, owner: 'alice', expiresAt: 3601.5, usedAt: null, createdAt: 1.5 };
    const newer = { tokenHash: HASH_B, owner: 'alice', expiresAt: 3602.5, usedAt: null, createdAt: 2.5 };
    const bobs = { tokenHash: 'c'.repeat(64), owner: 'bob', expiresAt: 3603, usedAt: null, createdAt: 3 };
    await store.write(async (repository) => {
      for (const record of [older, newer, bobs]) await repository.insertRegistrationToken(record);
    });
    assert.deepEqual(await store.read((repository) => repository.listRegistrationTokens('alice')), [
      newer,
      older,
    ]);
    assert.deepEqual(await store.read((repository) => repository.listRegistrationTokens('carol')), []);
    assert.equal(
      await store.write((repository) =>
        repository.deleteRegistrationToken({ owner: 'bob', tokenHash: HASH_A }),
      ),
      false,
      "another user's token is not deleted",
    );
    assert.equal(
      await store.write((repository) =>
        repository.deleteRegistrationToken({ owner: 'alice', tokenHash: HASH_A }),
      ),
      true,
    );
    assert.equal(await store.read((repository) => repository.getRegistrationToken(HASH_A)), undefined);
    assert.equal(
      await store.write((repository) =>
        repository.deleteRegistrationToken({ owner: 'alice', tokenHash: HASH_A }),
      ),
      false,
    );
    assert.deepEqual(await store.read((repository) => repository.listRegistrationTokens('alice')), [newer]);
  });
});

test('compute nodes: registered as COMP-<row id> with their owner; access set, friends as a whole list', async () => {
  await withStore(async (store) => {
    await addUsers(store, 'alice', 'bob', 'carol');
    // A proxy-mode node named by hand like the next registered one: registration skips its number.
    await store.write((repository) =>
      repository.upsertComputeNode({ reference: 'COMP-2', address: null, netmask: null, now: 1 }),
    );
    const first = await store.write((repository) =>
      repository.registerComputeNode({ owner: 'alice', title: 'Alice laptop', now: 2 }),
    );
    const second = await store.write((repository) =>
      repository.registerComputeNode({ owner: 'bob', title: 'Bob server', now: 3 }),
    );
    assert.equal(first, 'COMP-3');
    assert.equal(second, 'COMP-4');
    await rejectsWithSlapError(
      store.write((repository) => repository.registerComputeNode({ owner: 'mallory', title: 't', now: 4 })),
      'SLAP_ERR_NOT_FOUND',
    );
    // A registered node is a compute node like any other.
    await store.write((repository) =>
      repository.insertPartition({ computeNodeId: first, partitionId: 'slappart0' }),
    );
    assert.equal((await store.read((repository) => repository.listPartitions(first))).length, 1);

    assert.deepEqual(await store.read((repository) => repository.getComputeNodeAccess('COMP-2')), {
      reference: 'COMP-2',
      owner: null,
      allocationScope: 'personal',
      friends: [],
      revokedAt: null,
    });
    assert.equal(await store.read((repository) => repository.getComputeNodeAccess('COMP-9')), undefined);
    assert.deepEqual(await store.read((repository) => repository.getComputeNodeListing(first)), {
      reference: first,
      owner: 'alice',
      allocationScope: 'personal',
      friends: [],
      revokedAt: null,
      title: 'Alice laptop',
    });
    assert.equal(await store.read((repository) => repository.getComputeNodeListing('COMP-9')), undefined);

    assert.equal(
      await store.write((repository) =>
        repository.setComputeNodeAccess(first, {
          allocationScope: 'friend',
          friends: ['carol', 'bob', 'carol'],
        }),
      ),
      true,
    );
    assert.deepEqual(await store.read((repository) => repository.getComputeNodeAccess(first)), {
      reference: first,
      owner: 'alice',
      allocationScope: 'friend',
      friends: ['bob', 'carol'],
      revokedAt: null,
    });
    // The list replaces the friends; a scope alone keeps them.
    await store.write((repository) => repository.setComputeNodeAccess(first, { friends: ['carol'] }));
    await store.write((repository) => repository.setComputeNodeAccess(first, { allocationScope: 'open' }));
    let access = await store.read((repository) => repository.getComputeNodeAccess(first));
    assert.deepEqual([access?.allocationScope, access?.friends], ['open', ['carol']]);
    // A friend who is not a user fails the use case, which leaves nothing behind.
    await rejectsWithSlapError(
      store.write((repository) =>
        repository.setComputeNodeAccess(first, { allocationScope: 'closed', friends: ['bob', 'mallory'] }),
      ),
      'SLAP_ERR_NOT_FOUND',
      /mallory/,
    );
    access = await store.read((repository) => repository.getComputeNodeAccess(first));
    assert.deepEqual([access?.allocationScope, access?.friends], ['open', ['carol']]);
    assert.equal(
      await store.write((repository) => repository.setComputeNodeAccess('COMP-9', { friends: ['bob'] })),
      false,
    );
    await assert.rejects(
      store.write((repository) =>
        repository.setComputeNodeAccess(first, { allocationScope: 'everyone' as AllocationScope }),
      ),
      isCheckViolation,
    );

    // Revocation keeps its first date.
    assert.equal(await store.write((repository) => repository.setComputeNodeRevoked(second, 50)), true);
    assert.equal(await store.write((repository) => repository.setComputeNodeRevoked(second, 60)), true);
    assert.equal(await store.write((repository) => repository.setComputeNodeRevoked('COMP-9', 60)), false);

    assert.deepEqual(await store.read((repository) => repository.listComputeNodeAccess()), [
      {
        reference: 'COMP-2',
        owner: null,
        title: null,
        allocationScope: 'personal',
        friends: [],
        revokedAt: null,
      },
      {
        reference: first,
        owner: 'alice',
        title: 'Alice laptop',
        allocationScope: 'open',
        friends: ['carol'],
        revokedAt: null,
      },
      {
        reference: second,
        owner: 'bob',
        title: 'Bob server',
        allocationScope: 'personal',
        friends: [],
        revokedAt: 50,
      },
    ]);
  });
});

/**
 * Lone surrogates cannot be stored as text (UTF-8), nor NUL in PostgreSQL's: the edge refuses both
 * (core/text-rules.ts), whatever the store.
 */
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

test('property: any title without NUL, control characters and line terminators included, round-trips exactly', async () => {
  await withStore(async (store) => {
    await addUsers(store, 'alice');
    const random = seededRandom(20261207);
    const titles: string[] = [];
    while (titles.length < 300) {
      const title = hostileString(random);
      if (!UNSTORABLE.test(title)) titles.push(title);
    }
    titles.push('\x01', '\x01\x7ftitle\x1f', ' ', '\u2028\u2029\x85\x1c\x1d\x1e\v\f\r\n');
    const references = await store.write(async (repository) => {
      const assigned: string[] = [];
      for (const title of titles)
        assigned.push(await repository.registerComputeNode({ owner: 'alice', title, now: 1 }));
      return assigned;
    });
    const listed = await store.read((repository) => repository.listComputeNodeAccess());
    assert.deepEqual(
      listed.map((node) => node.reference),
      references,
    );
    for (const [index, node] of listed.entries()) assert.equal(node.title, titles[index]);
  });
});

test('a database written by the previous migrations migrates and keeps its data', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-identities-'));
  try {
    const path = join(directory, 'proxy.db');
    const previous = Object.fromEntries(
      Object.entries(migrationsFor('sqlite')).filter(([name]) => name < '0004'),
    );
    assert.deepEqual(Object.keys(previous), ['0001_initial', '0002_change_stream', '0003_promise_results']);
    const raw = new BetterSqlite3(path);
    raw.pragma('foreign_keys = ON');
    const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
    const { error } = await new Migrator({
      db: kysely,
      provider: { getMigrations: () => Promise.resolve(previous) },
    }).migrateToLatest();
    assert.equal(error, undefined);
    raw.exec(`
      INSERT INTO compute_node (reference, address, netmask, created_at) VALUES ('slaprunner', '10.0.0.1', '255.0.0.0', 1.5);
      INSERT INTO partition (compute_node_reference, reference, slap_state, timestamp) VALUES ('slaprunner', 'slappart0', 'busy', 2.5);
      INSERT INTO instance (title, requested_by, shared, software_release, software_type, parameter_xml, sla_json,
        requested_state, compute_node_reference, partition_reference, created_at, updated_at, requester_node, requester_partition)
        VALUES ('root', '', 0, 'sr', 'default', '<?xml?>', '{}', 'started', 'slaprunner', 'slappart0', 1, 2, NULL, NULL);
      INSERT INTO instance_promise_result (instance_id, result_list_json, reported_at) VALUES (1, '[]', 4.5);
    `);
    await kysely.destroy();

    const store = await openSqliteStore({ path });
    try {
      assert.deepEqual(await store.read((repository) => repository.getComputeNode('slaprunner')), {
        reference: 'slaprunner',
        address: '10.0.0.1',
        netmask: '255.0.0.0',
      });
      assert.deepEqual(await store.read((repository) => repository.listPartitions('slaprunner')), [
        { computeNodeId: 'slaprunner', reference: 'slappart0', slapState: 'busy', timestamp: 2.5 },
      ]);
      assert.deepEqual(await store.read((repository) => repository.listComputeNodeAccess()), [
        {
          reference: 'slaprunner',
          owner: null,
          title: null,
          allocationScope: 'personal',
          friends: [],
          revokedAt: null,
        },
      ]);
      // The instance joined proxy mode's namespace ('') and kept its promise results.
      const root = await store.read((repository) =>
        repository.findInstance({ owner: '', title: 'root', requestedBy: '', shared: false }),
      );
      assert.deepEqual(
        [root?.id, root?.location, root?.allocationMessage],
        [1, { computeNodeId: 'slaprunner', partitionId: 'slappart0' }, null],
      );
      assert.deepEqual(await store.read((repository) => repository.getPromiseResults(1)), {
        resultListJson: '[]',
        reportedAt: 4.5,
      });
      // The same title may now exist in another namespace.
      await store.write(async (repository) => {
        await repository.insertInstance({
          owner: 'bob',
          title: 'root',
          requestedBy: '',
          shared: false,
          softwareRelease: 'sr',
          softwareType: 'default',
          parameterXml: '<?xml?>',
          sharedParametersJson: null,
          slaJson: '{}',
          requestedState: 'started',
          location: null,
          hostPosition: null,
          now: 5,
        });
      });
      // The old node keeps working with the new tables.
      await addUsers(store, 'alice');
      await store.write((repository) =>
        repository.setComputeNodeAccess('slaprunner', { friends: ['alice'] }),
      );
      assert.equal(
        await store.write((repository) =>
          repository.registerComputeNode({ owner: 'alice', title: 't', now: 3 }),
        ),
        'COMP-2',
      );
    } finally {
      await store.close();
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

/**
 * A second process on the same database file (`slapos master user add` while the master serves):
 * it registers a user, a compute node and certificates, one use case at a time, and prints what it
 * saw of the first process's writes.
 */
const SECOND_PROCESS = `
const [storeModule, path, count] = process.argv.slice(1);
const { openSqliteStore } = await import(storeModule);
const store = await openSqliteStore({ path });
const usersAtStart = (await store.read((repository) => repository.listUsers())).map((user) => user.name);
await store.write((repository) => repository.insertUser({ name: 'cli', admin: false, now: 2 }));
const node = await store.write((repository) => repository.registerComputeNode({ owner: 'cli', title: 'from the cli', now: 2 }));
for (let i = 0; i < Number(count); i++) {
  await store.write((repository) =>
    repository.insertCertificate({ serial: 'c' + i, kind: 'user', subject: 'cli', notAfter: 9, revokedAt: null, createdAt: 2 }),
  );
}
const masterCertificates = (await store.read((repository) => repository.listCertificates({ subject: 'master' }))).length;
await store.close();
process.stdout.write(JSON.stringify({ usersAtStart, node, masterCertificates }));
`;

test("a second process writes while the store is open and writing; each sees the other's writes", async () => {
  await withSqliteStore(async (store, path) => {
    await addUsers(store, 'master');
    const certificate = (serial: string) => ({
      serial,
      kind: 'user' as const,
      subject: 'master',
      notAfter: 9,
      revokedAt: null,
      createdAt: 1,
    });
    await store.write((repository) => repository.insertCertificate(certificate('m0')));
    const childCertificates = 50;
    let running = true;
    const child = execFile(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        SECOND_PROCESS,
        new URL('./sqlite-store.js', import.meta.url).href,
        path,
        String(childCertificates),
      ],
      { timeoutMs: 60_000 },
    ).finally(() => {
      running = false;
    });
    // The first process keeps writing, one use case after another, until the second one is done.
    let written = 1;
    while (running) {
      await store.write((repository) => repository.insertCertificate(certificate(`m${written}`)));
      written++;
    }
    const result = await child;
    assert.equal(result.exitCode, 0, result.stderr);
    const seen = JSON.parse(result.stdout) as {
      usersAtStart: string[];
      node: string;
      masterCertificates: number;
    };
    assert.deepEqual(seen.usersAtStart, ['master']);
    assert.ok(seen.masterCertificates >= 1 && seen.masterCertificates <= written);
    assert.equal(seen.node, 'COMP-1');

    assert.deepEqual(
      (await store.read((repository) => repository.listUsers())).map((user) => user.name),
      ['cli', 'master'],
    );
    assert.equal((await store.read((repository) => repository.getComputeNodeAccess('COMP-1')))?.owner, 'cli');
    assert.equal(
      (await store.read((repository) => repository.listCertificates({ subject: 'cli' }))).length,
      childCertificates,
    );
    assert.equal(
      (await store.read((repository) => repository.listCertificates({ subject: 'master' }))).length,
      written,
    );
  });
});

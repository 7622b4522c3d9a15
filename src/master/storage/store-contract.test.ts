/**
 * What every MasterStore promises (repository.ts), on the store this run tests: SQLite, or
 * PostgreSQL when SLAPOS_TEST_STORE=postgres (scripts/test.sh runs both).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from '../../core/errors.ts';
import { openTestStore } from '../../testing/test-database.ts';
import type { InvoiceRecord } from './invoice-repository.ts';

const node = (reference: string) => ({ reference, address: null, netmask: null, now: 1 });

test('a use case that fails leaves nothing behind; a closed store refuses calls', async () => {
  const { store, close } = await openTestStore();
  try {
    await assert.rejects(
      store.write(async (repository) => {
        await repository.upsertComputeNode(node('computer'));
        await repository.bumpNodeRevision('computer');
        throw new SlapError('SLAP_ERR_INVALID_INPUT', 'changed my mind');
      }),
      /changed my mind/,
    );
    assert.deepEqual(await store.read((repository) => repository.listComputeNodes()), []);
    assert.equal(await store.read((repository) => repository.getNodeRevision('computer')), 0);
  } finally {
    await close();
  }
  await assert.rejects(
    store.read((repository) => repository.listComputeNodes()),
    (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_UNAVAILABLE',
  );
});

test('memoized reads: one result, shared by callers that miss together, until a write commits', async () => {
  const { store, close } = await openTestStore();
  try {
    let computed = 0;
    const list = () =>
      store.memoizedRead('nodes', async (repository) => {
        computed++;
        return repository.listComputeNodes();
      });
    const [first, same] = await Promise.all([list(), list()]);
    assert.equal(same, first);
    assert.equal(await list(), first);
    assert.equal(computed, 1);
    await store.write((repository) => repository.upsertComputeNode(node('n')));
    const second = await list();
    assert.notEqual(second, first);
    assert.deepEqual(
      second.map((row) => row.reference),
      ['n'],
    );
    assert.equal(await list(), second);
  } finally {
    await close();
  }
});

test('node change listeners hear the nodes a commit bumped, after it; a rolled-back bump is not kept', async () => {
  const { store, close } = await openTestStore();
  try {
    const heard: string[][] = [];
    const unsubscribe = store.onNodeChanges((nodes) => heard.push([...nodes].sort()));
    await store.write(async (repository) => {
      await repository.bumpNodeRevision('b');
      await repository.bumpNodeRevision('a');
      await repository.bumpNodeRevision('a');
      assert.deepEqual(heard, [], 'told before the commit');
    });
    assert.deepEqual(heard, [['a', 'b']]);
    assert.equal(await store.read((repository) => repository.getNodeRevision('a')), 2);
    await assert.rejects(
      store.write(async (repository) => {
        await repository.bumpNodeRevision('c');
        throw new SlapError('SLAP_ERR_INVALID_INPUT', 'no');
      }),
    );
    await store.write((repository) => repository.upsertComputeNode(node('quiet')));
    assert.equal(await store.read((repository) => repository.getNodeRevision('c')), 0);
    // Listeners may hear a few more nodes than were bumped (repository.ts): a rolled-back one's.
    assert.ok(
      heard.slice(1).every((nodes) => nodes.every((n) => n === 'c')),
      JSON.stringify(heard),
    );
    const count = heard.length;
    unsubscribe();
    await store.write((repository) => repository.bumpNodeRevision('a'));
    assert.equal(heard.length, count);
  } finally {
    await close();
  }
});

test('commit listeners hear each committed write that changed something, after it, and no read', async () => {
  const { store, close } = await openTestStore();
  try {
    let heard = 0;
    const unsubscribe = store.onCommit(() => heard++);
    await store.write(async (repository) => {
      await repository.upsertComputeNode(node('told'));
      assert.equal(heard, 0, 'told before the commit');
    });
    assert.equal(heard, 1);
    await store.read((repository) => repository.listComputeNodes());
    assert.equal(heard, 1, 'a read is no change');
    unsubscribe();
    await store.write((repository) => repository.upsertComputeNode(node('untold')));
    assert.equal(heard, 1);
  } finally {
    await close();
  }
});

test('panel sessions: stored by digest, found until deleted or expired', async () => {
  const { store, close } = await openTestStore();
  try {
    const session = { sessionHash: 'a'.repeat(64), user: '', createdAt: 10, expiresAt: 20 };
    await store.write((repository) => repository.insertPanelSession(session));
    assert.deepEqual(
      await store.read((repository) => repository.getPanelSession(session.sessionHash)),
      session,
    );
    await store.write((repository) =>
      repository.insertPanelSession({ ...session, sessionHash: 'b'.repeat(64), expiresAt: 30 }),
    );
    assert.equal(await store.write((repository) => repository.deleteExpiredPanelSessions(20)), 1);
    assert.equal(
      await store.read((repository) => repository.getPanelSession(session.sessionHash)),
      undefined,
    );
    await store.write((repository) => repository.deletePanelSession('b'.repeat(64)));
    assert.equal(await store.read((repository) => repository.getPanelSession('b'.repeat(64))), undefined);
  } finally {
    await close();
  }
});

test("a compute node's last contact only moves forward; unknown nodes are ignored", async () => {
  const { store, close } = await openTestStore();
  try {
    await store.write(async (repository) => {
      await repository.upsertComputeNode(node('a'));
      await repository.upsertComputeNode(node('b'));
    });
    const contacts = () => store.read((repository) => repository.listComputeNodeContacts());
    assert.deepEqual(await contacts(), [
      { computeNodeId: 'a', lastContactAt: null },
      { computeNodeId: 'b', lastContactAt: null },
    ]);
    const record = (entries: { computeNodeId: string; at: number }[]) =>
      store.write((repository) => repository.recordComputeNodeContacts(entries));
    await record([
      { computeNodeId: 'a', at: 100.5 },
      { computeNodeId: 'missing', at: 100 },
    ]);
    // Another master's older note does not move it back.
    await record([
      { computeNodeId: 'a', at: 50 },
      { computeNodeId: 'b', at: 70.25 },
    ]);
    assert.deepEqual(await contacts(), [
      { computeNodeId: 'a', lastContactAt: 100.5 },
      { computeNodeId: 'b', lastContactAt: 70.25 },
    ]);
    const one = (reference: string) =>
      store.read((repository) => repository.getComputeNodeLastContact(reference));
    assert.deepEqual([await one('a'), await one('b'), await one('missing')], [100.5, 70.25, null]);
  } finally {
    await close();
  }
});

test('price lists and invoices: stored and read back exactly, filtered, numbered, changed in place', async () => {
  const { store, close } = await openTestStore();
  try {
    const hostile = 'tree "\u2028\n\\\u00e9\ud83d\ude00';
    const invoice = (reference: string, fields: Partial<InvoiceRecord> = {}): InvoiceRecord => ({
      reference,
      kind: 'invoice',
      user: 'alice',
      period: '2026-01',
      currency: 'EUR',
      lines: [
        {
          instance_tree: hostile,
          resource: hostile,
          quantity: '0.000001',
          unit_price: '1e-7',
          amount: '-12.288',
        },
      ],
      total: '12.65',
      contentHash: 'a'.repeat(64),
      state: 'issued',
      corrects: null,
      issuedAt: 1.5,
      paidAt: null,
      regularisation: null,
      ...fields,
    });
    await store.write(async (repository) => {
      await repository.putPriceList({
        effective: '2026-03-01',
        currency: 'EUR',
        document: '{"b":1}',
        loadedAt: 1,
      });
      await repository.putPriceList({
        effective: '2026-01-01',
        currency: 'EUR',
        document: '{"a":1}',
        loadedAt: 1,
      });
      await repository.putPriceList({
        effective: '2026-03-01',
        currency: 'USD',
        document: '{"c":1}',
        loadedAt: 2,
      });
      await repository.insertInvoice(invoice('INV-202601-000001'));
      await repository.insertInvoice(invoice('INV-202601-000002', { user: 'bob' }));
      await repository.insertInvoice(
        invoice('CN-202601-000001', { kind: 'credit_note', user: 'bob', corrects: 'INV-202601-000002' }),
      );
      await repository.insertInvoice(invoice('INV-202603-000001', { period: '2026-03' }));
      // A duplicate reference is a conflict, and the transaction goes on (PostgreSQL included).
      await assert.rejects(
        repository.insertInvoice(invoice('INV-202601-000001')),
        (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_CONFLICT',
      );
      assert.equal(await repository.setInvoiceState('INV-202601-000002', { state: 'cancelled' }), true);
      assert.equal(
        await repository.setInvoiceState('INV-202601-000001', { state: 'paid', paidAt: 7.25 }),
        true,
      );
      assert.equal(
        await repository.setInvoiceState('INV-209901-000001', { state: 'paid', paidAt: 7 }),
        false,
      );
      assert.equal(await repository.setInvoiceRegularisation('INV-202603-000001', 'stopped'), true);
    });
    await store.read(async (repository) => {
      assert.deepEqual(
        (await repository.listPriceLists()).map((list) => [
          list.effective,
          list.currency,
          list.document,
          list.loadedAt,
        ]),
        [
          ['2026-01-01', 'EUR', '{"a":1}', 1],
          ['2026-03-01', 'USD', '{"c":1}', 2],
        ],
      );
      assert.equal((await repository.getPriceListEffectiveAt('2026-02-28'))?.effective, '2026-01-01');
      assert.equal((await repository.getPriceListEffectiveAt('2026-03-01'))?.effective, '2026-03-01');
      assert.equal(await repository.getPriceListEffectiveAt('2025-12-31'), undefined);
      assert.deepEqual(await repository.getInvoice('INV-202601-000001'), {
        ...invoice('INV-202601-000001'),
        state: 'paid',
        paidAt: 7.25,
      });
      assert.equal(await repository.getInvoice('INV-202601-000009'), undefined);
      const references = (list: InvoiceRecord[]) => list.map((record) => record.reference);
      assert.deepEqual(references(await repository.listInvoices({})), [
        'INV-202601-000001',
        'INV-202601-000002',
        'CN-202601-000001',
        'INV-202603-000001',
      ]);
      assert.deepEqual(references(await repository.listInvoices({ user: 'bob' })), [
        'INV-202601-000002',
        'CN-202601-000001',
      ]);
      assert.deepEqual(references(await repository.listInvoices({ period: '2026-01', kind: 'invoice' })), [
        'INV-202601-000001',
        'INV-202601-000002',
      ]);
      assert.deepEqual(references(await repository.listInvoices({ state: 'cancelled' })), [
        'INV-202601-000002',
      ]);
      assert.equal((await repository.getInvoice('INV-202603-000001'))?.regularisation, 'stopped');
      assert.equal(
        (await repository.findInvoiceInPeriods({ from: '2026-02', to: null }))?.reference,
        'INV-202603-000001',
      );
      assert.equal(await repository.findInvoiceInPeriods({ from: '2026-02', to: '2026-03' }), undefined);
      assert.equal(
        (await repository.findInvoiceInPeriods({ from: '2025-01', to: '2026-02' }))?.reference,
        'INV-202601-000001',
      );
      assert.equal(await repository.nextInvoiceSequence({ kind: 'invoice', period: '2026-01' }), 3);
      assert.equal(await repository.nextInvoiceSequence({ kind: 'credit_note', period: '2026-01' }), 2);
      assert.equal(await repository.nextInvoiceSequence({ kind: 'credit_note', period: '2026-02' }), 1);
    });
  } finally {
    await close();
  }
});

test('backups: trees, members, endpoints and listings stored exactly; the epoch moves by compare-and-set; rows go with their instance', async () => {
  const { store, close } = await openTestStore();
  const hostile = 'pem "\u2028\n\\\u00e9\ud83d\ude00\r\x85';
  try {
    const [root, clone, other] = await store.write(async (repository) => {
      const instance = (title: string, requestedBy: string) =>
        repository.insertInstance({
          owner: 'alice',
          title,
          requestedBy,
          shared: false,
          softwareRelease: 'https://example.com/sr.cfg',
          softwareType: 'default',
          parameterXml: '<instance/>',
          sharedParametersJson: null,
          slaJson: '{}',
          requestedState: 'started',
          location: null,
          hostPosition: null,
          now: 1,
        });
      return [await instance('X', ''), await instance('X (clone 1)', 'X'), await instance('Y', '')];
    });
    const tree = {
      rootInstanceId: root,
      password: 'secret',
      clones: 1,
      epoch: 0,
      backupRequestedAt: null,
      restoreRequestJson: null,
      restoreSourceRootId: null,
      lastRestoreJson: null,
      createdAt: 1.25,
    };
    const member = {
      instanceId: clone,
      rootInstanceId: root,
      role: 'clone' as const,
      restoredBackupId: '20261207T203015123Z-a1b2',
      restoredAt: 1733600000.123,
      lastBackupId: null,
      lastBackupAt: null,
      fencedAt: null,
      updatedAt: 2.5,
    };
    await store.write(async (repository) => {
      assert.equal(await repository.insertBackupTree(tree), true);
      assert.equal(await repository.insertBackupTree({ ...tree, password: 'other' }), false);
      await repository.putBackupMember({
        ...member,
        role: 'main',
        instanceId: root,
        restoredBackupId: null,
        restoredAt: null,
      });
      await repository.putBackupMember({ ...member, role: 'fenced' });
      await repository.putBackupMember(member);
      await repository.putBackupEndpoint({
        computeNodeId: 'COMP-1',
        url: 'x',
        certificate: 'y',
        updatedAt: 1,
      });
      await repository.putBackupEndpoint({
        computeNodeId: 'COMP-1',
        url: hostile,
        certificate: hostile,
        updatedAt: 2,
      });
    });
    await store.read(async (repository) => {
      assert.deepEqual(await repository.getBackupTree(root), tree);
      assert.deepEqual(await repository.listResilientBackupTrees(), [tree]);
      assert.deepEqual(await repository.getBackupMember(clone), member);
      assert.deepEqual(
        (await repository.listBackupMembers(root)).map((row) => [row.instanceId, row.role]),
        [
          [root, 'main'],
          [clone, 'clone'],
        ],
      );
      assert.deepEqual(await repository.getBackupEndpoint('COMP-1'), {
        computeNodeId: 'COMP-1',
        url: hostile,
        certificate: hostile,
        updatedAt: 2,
      });
      assert.equal(await repository.getBackupEndpoint('COMP-2'), undefined);
    });
    await store.write(async (repository) => {
      assert.equal(await repository.advanceBackupEpoch(root, 0), true);
      assert.equal(await repository.advanceBackupEpoch(root, 0), false, 'a stale epoch changes nothing');
      await repository.setBackupRequestedAt(root, 7.5);
      await repository.setBackupRestoreRequest(root, hostile, other);
      await repository.setBackupLastRestore(root, `${hostile}last`);
      await repository.setBackupTreeClones(root, 0);
    });
    const changed = {
      ...tree,
      epoch: 1,
      backupRequestedAt: 7.5,
      restoreRequestJson: hostile,
      restoreSourceRootId: other,
      lastRestoreJson: `${hostile}last`,
      clones: 0,
    };
    assert.deepEqual(await store.read((repository) => repository.getBackupTree(root)), changed);
    await store.read(async (repository) => {
      assert.deepEqual(await repository.listBackupTreesRestoringFrom(other), [changed]);
      assert.deepEqual(await repository.listBackupTreesRestoringFrom(root), []);
    });
    // The request and its source go together; the last restore stays.
    await store.write((repository) => repository.setBackupRestoreRequest(root, null, null));
    assert.deepEqual(await store.read((repository) => repository.getBackupTree(root)), {
      ...changed,
      restoreRequestJson: null,
      restoreSourceRootId: null,
    });
    await store.write((repository) => repository.setBackupRestoreRequest(root, hostile, other));
    // A source that goes leaves the request without its source (the sync then fails it).
    await store.write((repository) => repository.deleteInstance(other));
    assert.deepEqual(await store.read((repository) => repository.getBackupTree(root)), {
      ...changed,
      restoreSourceRootId: null,
    });
    assert.deepEqual(await store.read((repository) => repository.listResilientBackupTrees()), []);

    // Listings: a node's report replaces its rows; the tree keeps its newest `keep`.
    await store.write(async (repository) => {
      await repository.replaceBackupListing(
        root,
        'COMP-1',
        [
          { backupId: 'a', time: 1 },
          { backupId: 'b', time: 2 },
          { backupId: 'b', time: 2 },
        ],
        3,
      );
      await repository.replaceBackupListing(
        root,
        'COMP-2',
        [
          { backupId: 'b', time: 2 },
          { backupId: 'c', time: 3.5 },
        ],
        3,
      );
    });
    assert.deepEqual(await store.read((repository) => repository.listBackupListing(root)), [
      { backupId: 'c', time: 3.5, computeNodeId: 'COMP-2' },
      { backupId: 'b', time: 2, computeNodeId: 'COMP-2' },
      { backupId: 'b', time: 2, computeNodeId: 'COMP-1' },
    ]);
    await store.write((repository) => repository.replaceBackupListing(root, 'COMP-2', [], 3));
    assert.deepEqual(
      (await store.read((repository) => repository.listBackupListing(root))).map((row) => row.backupId),
      ['b'],
      'what another node held goes with its report; what was trimmed stays trimmed',
    );

    // The clone's rows go with it; the root's take the tree's.
    await store.write((repository) => repository.deleteInstance(clone));
    assert.equal(await store.read((repository) => repository.getBackupMember(clone)), undefined);
    await store.write((repository) => repository.deleteInstance(root));
    await store.read(async (repository) => {
      assert.equal(await repository.getBackupTree(root), undefined);
      assert.deepEqual(await repository.listBackupMembers(root), []);
      assert.deepEqual(await repository.listBackupListing(root), []);
    });
  } finally {
    await close();
  }
});

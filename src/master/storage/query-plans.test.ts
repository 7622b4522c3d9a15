/**
 * Query plans at scale: no repository method reads a whole table unless listing that whole table is
 * its job. At a million partitions and 200,000 instances (`npm run bench -- scale`), one query
 * reading every instance costs a hundred milliseconds, so this is checked on every query the
 * repository prepares, with SQLite's own EXPLAIN QUERY PLAN. The master runs no ANALYZE: the planner
 * has no statistics, so the plans on this small database are the plans on a large one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from './sqlite-store.ts';
import type { Repository } from './repository.ts';

/** Methods whose job is to list a whole table: their scan is the answer. */
const WHOLE_LISTINGS = new Set<keyof Repository>([
  'listComputeNodes',
  'listComputeNodeContacts',
  // Every instance (metrics): a scan, but of instances only (checked below).
  'listInstanceStatusFacts',
  'listComputeNodeAccess',
  'listUsers',
  'listCertificates',
  // The metrics' whole-master figures (master-metrics.ts): a scan by design, never on a hot path.
  'listComputeNodeContacts',
  'listInstanceStatusFacts',
  // Every price list (a handful), read whole by invoice generation.
  'listPriceLists',
  // The trees the regularisation stopped (few), read whole by each of its runs.
  'listRegularisationStops',
]);

/** Methods reading one owner's instances. */
const OWNER_SCOPED = new Set<keyof Repository>([
  'listRootTitles',
  'listInstanceTreeRows',
  'listChildren',
  'markChildrenDestroyed',
]);

type Call = (repository: Repository) => Promise<unknown>;

const node = 'COMP-1';
const first = { computeNodeId: node, partitionId: 'slappart0' };
const second = { computeNodeId: node, partitionId: 'slappart1' };
const instance = {
  owner: 'alice',
  softwareRelease: 'https://example.com/software.cfg',
  softwareType: 'default',
  parameterXml: '<instance/>',
  sharedParametersJson: null,
  slaJson: '{}',
  requestedState: 'started' as const,
  hostPosition: null,
  now: 1,
};

/** Every method of the repository, called once, in an order where each finds what it looks for. */
const CALLS: [keyof Repository, Call][] = [
  ['insertUser', (r) => r.insertUser({ name: 'alice', admin: false, now: 1 })],
  ['getUser', (r) => r.getUser('alice')],
  ['listUsers', (r) => r.listUsers()],
  ['setUserDisabled', (r) => r.setUserDisabled('alice', false)],
  ['insertUserToken', (r) => r.insertUserToken({ tokenHash: 'a'.repeat(64), user: 'alice', now: 1 })],
  ['findUserByTokenHash', (r) => r.findUserByTokenHash('a'.repeat(64))],
  ['deleteUserTokens', (r) => r.deleteUserTokens({ user: 'alice', except: 'b'.repeat(64) })],
  [
    'insertRegistrationToken',
    (r) =>
      r.insertRegistrationToken({
        tokenHash: 'c'.repeat(64),
        owner: 'alice',
        expiresAt: 9,
        usedAt: null,
        createdAt: 1,
      }),
  ],
  ['getRegistrationToken', (r) => r.getRegistrationToken('c'.repeat(64))],
  ['markRegistrationTokenUsed', (r) => r.markRegistrationTokenUsed('c'.repeat(64), 2)],
  ['registerComputeNode', (r) => r.registerComputeNode({ owner: 'alice', title: 'one', now: 1 })],
  [
    'insertCertificate',
    (r) =>
      r.insertCertificate({
        serial: '01',
        kind: 'compute_node',
        subject: node,
        notAfter: 9,
        revokedAt: null,
        createdAt: 1,
      }),
  ],
  ['getCertificate', (r) => r.getCertificate('01')],
  ['listCertificates', (r) => r.listCertificates({ kind: 'compute_node', subject: node })],
  ['getComputeNodeAccess', (r) => r.getComputeNodeAccess(node)],
  ['setComputeNodeAccess', (r) => r.setComputeNodeAccess(node, { allocationScope: 'friend', friends: [] })],
  ['listComputeNodeAccess', (r) => r.listComputeNodeAccess()],
  ['listOwnedComputeNodeAccess', (r) => r.listOwnedComputeNodeAccess('alice')],
  [
    'upsertComputeNode',
    (r) => r.upsertComputeNode({ reference: node, address: null, netmask: null, now: 1 }),
  ],
  ['getComputeNode', (r) => r.getComputeNode(node)],
  ['listComputeNodes', (r) => r.listComputeNodes()],
  ['recordComputeNodeBang', (r) => r.recordComputeNodeBang(node, { message: 'bang', at: 1 })],
  ['recordComputeNodeContacts', (r) => r.recordComputeNodeContacts([{ computeNodeId: node, at: 1 }])],
  ['listComputeNodeContacts', (r) => r.listComputeNodeContacts()],
  ['getComputeNodeLastContact', (r) => r.getComputeNodeLastContact(node)],
  ['insertPartition', (r) => r.insertPartition(first)],
  ['listPartitions', (r) => r.listPartitions(node)],
  ['firstFreePartition', (r) => r.firstFreePartition(node)],
  ['setPartitionSlapState', (r) => r.setPartitionSlapState(first, 'free')],
  [
    'insertAddress',
    (r) => r.insertAddress(first, { networkInterface: 'tap0', address: '10.0.0.1', netmask: null }),
  ],
  ['listAddresses', (r) => r.listAddresses(first)],
  [
    'upsertSoftwareInstallation',
    (r) => r.upsertSoftwareInstallation(node, instance.softwareRelease, 'available'),
  ],
  ['listSoftwareInstallations', (r) => r.listSoftwareInstallations(node)],
  [
    'recordSoftwareInstallationReport',
    (r) =>
      r.recordSoftwareInstallationReport(node, instance.softwareRelease, {
        reportedState: 'available',
        errorMessage: 'none',
        at: 1,
      }),
  ],
  [
    'insertInstance',
    async (r) => {
      await r.insertPartition(second);
      await r.insertInstance({ ...instance, title: 'root', requestedBy: '', shared: false, location: first });
      await r.insertInstance({
        ...instance,
        title: 'child',
        requestedBy: 'root',
        shared: false,
        location: second,
      });
      return r.insertInstance({
        ...instance,
        title: 'waiting',
        requestedBy: '',
        shared: false,
        location: null,
      });
    },
  ],
  [
    'allocatePartition',
    (r) => r.allocatePartition(first, 2, { instanceId: 1, owner: 'alice', instanceTree: 'root' }),
  ],
  ['listPartitionAllocations', (r) => r.listPartitionAllocations(node)],
  ['listOwnerAllocations', (r) => r.listOwnerAllocations({ owner: 'alice', from: 0, to: 10 })],
  [
    'insertUsageRecords',
    (r) =>
      r.insertUsageRecords([
        {
          computeNodeId: node,
          partitionId: 'slappart0',
          holder: { instanceId: 1, owner: 'alice', instanceTree: 'root' },
          resource: 'service_module/cpu_time',
          title: null,
          quantity: 1,
          start: 1,
          stop: 2,
          recordedAt: 3,
        },
      ]),
  ],
  [
    'insertUsageJournal',
    (r) =>
      r.insertUsageJournal({
        computeNodeId: node,
        documentHash: 'a'.repeat(64),
        seal: { sequence: 1, previousHash: '', signature: 'c2ln', certificatePem: 'pem' },
        document: '<journal/>',
        receivedAt: 3,
      }),
  ],
  [
    'insertUsageIntervals',
    (r) => r.insertUsageIntervals(node, 1, [{ partitionId: 'slappart0', start: 1, stop: 2 }]),
  ],
  [
    'insertUsageCharges',
    (r) =>
      r.insertUsageCharges([
        {
          journalId: 1,
          computeNodeId: node,
          partitionId: 'slappart0',
          period: 197001,
          instanceId: 1,
          owner: 'alice',
          instanceTree: 'root',
          resource: 'service_module/cpu_time',
          start: 1,
          stop: 2,
          quantityMicro: 1_000_000n,
        },
      ]),
  ],
  [
    'sumUsageCharges',
    async (r) => {
      await r.sumUsageCharges({ period: 197001 });
      return r.sumUsageCharges({ period: 197001, from: 0, to: 9 });
    },
  ],
  ['listTreeAllocations', (r) => r.listTreeAllocations({ from: 0, to: 9 })],
  ['listUsageJournals', (r) => r.listUsageJournals({ computeNodeId: node, limit: 10 })],
  ['listChargedUsageJournals', (r) => r.listChargedUsageJournals({ owner: 'alice', period: 197001 })],
  ['listUsageRecords', (r) => r.listUsageRecords(node, { from: 0, to: 9, limit: 10 })],
  [
    'listUsagePoints',
    async (r) => {
      const query = { resource: 'service_module/cpu_time', from: 0, to: 9, limit: 10 };
      await r.listUsagePoints({ computeNodeId: node }, query);
      return r.listUsagePoints({ instanceId: 1 }, query);
    },
  ],
  ['setPartitionTimestamp', (r) => r.setPartitionTimestamp(first, 3)],
  ['bumpNodeRevision', (r) => r.bumpNodeRevision(node)],
  ['bumpDependencySerial', (r) => r.bumpDependencySerial(first, 4)],
  ['getNodeRevision', (r) => r.getNodeRevision(node)],
  ['findInstance', (r) => r.findInstance({ owner: 'alice', title: 'root', requestedBy: '', shared: false })],
  ['getInstanceById', (r) => r.getInstanceById(1)],
  ['instanceComputeNode', (r) => r.instanceComputeNode(1)],
  ['getInstanceOnPartition', (r) => r.getInstanceOnPartition(first)],
  ['updateInstance', (r) => r.updateInstance(1, { requestedState: 'stopped', slaJson: '{}', now: 5 })],
  ['listInstancesOnNode', (r) => r.listInstancesOnNode(node)],
  ['listPartitionInstanceOwners', (r) => r.listPartitionInstanceOwners(node)],
  ['listChildren', (r) => r.listChildren('alice', 'root')],
  ['listPendingInstances', (r) => r.listPendingInstances()],
  [
    'findSharedHost',
    async (r) => {
      const query = { computeNodeId: node, softwareRelease: instance.softwareRelease };
      await r.findSharedHost(query);
      await r.findSharedHost({ ...query, softwareType: 'default' });
      await r.findSharedHost({ ...query, partitionId: 'slappart0' });
      return r.findSharedHost({ ...query, softwareType: 'default', partitionId: 'slappart0' });
    },
  ],
  ['nextHostPosition', (r) => r.nextHostPosition()],
  ['listHostedSharedInstances', (r) => r.listHostedSharedInstances(first)],
  ['listRootTitles', (r) => r.listRootTitles('alice')],
  ['listInstanceTreeRows', (r) => r.listInstanceTreeRows('alice')],
  ['listInstanceStatusFacts', (r) => r.listInstanceStatusFacts()],
  ['readNodeSnapshot', (r) => r.readNodeSnapshot(node)],
  ['setPromiseResults', (r) => r.setPromiseResults(1, { resultListJson: '[]', reportedAt: 1 })],
  ['getPromiseResults', (r) => r.getPromiseResults(1)],
  [
    'appendInstanceEvent',
    async (r) => {
      await r.appendInstanceEvent(1, { kind: 'requested', at: 1, detail: null }, 200);
      // Beyond `keep`: the oldest is deleted.
      return r.appendInstanceEvent(1, { kind: 'allocated', at: 2, detail: 'COMP-1/slappart0' }, 1);
    },
  ],
  ['listInstanceEvents', (r) => r.listInstanceEvents(1, 200)],
  [
    'appendPromiseEvents',
    (r) =>
      r.appendPromiseEvents(
        1,
        [
          { name: 'a', status: 'fail', message: 'down', at: 1 },
          { name: 'a', status: 'pass', message: '', at: 2 },
        ],
        1,
      ),
  ],
  ['listPromiseEvents', (r) => r.listPromiseEvents(1)],
  [
    'insertPanelSession',
    (r) => r.insertPanelSession({ sessionHash: 'e'.repeat(64), user: 'alice', createdAt: 1, expiresAt: 2 }),
  ],
  ['getPanelSession', (r) => r.getPanelSession('e'.repeat(64))],
  ['deletePanelSession', (r) => r.deletePanelSession('e'.repeat(64))],
  ['deleteExpiredPanelSessions', (r) => r.deleteExpiredPanelSessions(3)],
  ['markChildrenDestroyed', (r) => r.markChildrenDestroyed('alice', 'root', 6)],
  ['detachSharedInstances', (r) => r.detachSharedInstances(first, 7)],
  ['deleteInstance', (r) => r.deleteInstance(3)],
  ['revokeCertificates', (r) => r.revokeCertificates({ kind: 'compute_node', subject: node, now: 8 })],
  ['setComputeNodeRevoked', (r) => r.setComputeNodeRevoked(node, 8)],
  ['deleteSoftwareInstallation', (r) => r.deleteSoftwareInstallation(node, instance.softwareRelease)],
  ['deleteAddresses', (r) => r.deleteAddresses(node)],
  ['deletePartition', (r) => r.deletePartition(second)],
  ['endPartitionAllocation', (r) => r.endPartitionAllocation(first, 9)],
  ['listRegistrationTokens', (r) => r.listRegistrationTokens('alice')],
  [
    'deleteRegistrationToken',
    (r) => r.deleteRegistrationToken({ owner: 'alice', tokenHash: 'e'.repeat(64) }),
  ],
  ['getComputeNodeListing', (r) => r.getComputeNodeListing(node)],
  [
    'insertPanelSession',
    (r) => r.insertPanelSession({ sessionHash: 'f'.repeat(64), user: 'alice', createdAt: 1, expiresAt: 2 }),
  ],
  ['getPanelSession', (r) => r.getPanelSession('f'.repeat(64))],
  ['deletePanelSession', (r) => r.deletePanelSession('f'.repeat(64))],
  ['deleteExpiredPanelSessions', (r) => r.deleteExpiredPanelSessions(3)],
  ['recordComputeNodeContacts', (r) => r.recordComputeNodeContacts([{ computeNodeId: node, at: 4 }])],
  ['listComputeNodeContacts', (r) => r.listComputeNodeContacts()],
  ['listInstanceStatusFacts', (r) => r.listInstanceStatusFacts()],
  [
    'putPriceList',
    (r) => r.putPriceList({ effective: '2026-01-01', currency: 'EUR', document: '{}', loadedAt: 1 }),
  ],
  ['listPriceLists', (r) => r.listPriceLists()],
  ['getPriceListEffectiveAt', (r) => r.getPriceListEffectiveAt('2026-02-01')],
  [
    'insertInvoice',
    (r) =>
      r.insertInvoice({
        reference: 'INV-202601-000001',
        kind: 'invoice',
        user: 'alice',
        period: '2026-01',
        currency: 'EUR',
        lines: [],
        total: '0.00',
        contentHash: 'a'.repeat(64),
        state: 'issued',
        corrects: null,
        issuedAt: 1,
        paidAt: null,
        regularisation: null,
      }),
  ],
  ['getInvoice', (r) => r.getInvoice('INV-202601-000001')],
  [
    'listInvoices',
    async (r) => {
      await r.listInvoices({ user: 'alice' });
      await r.listInvoices({ period: '2026-01' });
      await r.listInvoices({ user: 'alice', period: '2026-01' });
      await r.listInvoices({ period: '2026-01', kind: 'invoice' });
      // The regularisation's: the unpaid invoices, everyone's or one user's.
      await r.listInvoices({ kind: 'invoice', state: 'issued' });
      await r.listInvoices({ kind: 'invoice', state: 'issued', user: 'alice' });
      return r.listInvoices({ state: 'issued' });
    },
  ],
  [
    'findInvoiceInPeriods',
    async (r) => {
      await r.findInvoiceInPeriods({ from: '2026-01', to: null });
      return r.findInvoiceInPeriods({ from: '2026-01', to: '2026-03' });
    },
  ],
  ['nextInvoiceSequence', (r) => r.nextInvoiceSequence({ kind: 'credit_note', period: '2026-01' })],
  ['setInvoiceState', (r) => r.setInvoiceState('INV-202601-000001', { state: 'paid', paidAt: 2 })],
  ['setInvoiceRegularisation', (r) => r.setInvoiceRegularisation('INV-202601-000001', 'stopped')],
  [
    'insertRegularisationStop',
    (r) =>
      r.insertRegularisationStop({ owner: 'alice', instanceTree: 'web', invoice: 'INV-1', stoppedAt: 1 }),
  ],
  [
    'listRegularisationStops',
    async (r) => {
      await r.listRegularisationStops({ owner: 'alice' });
      return r.listRegularisationStops();
    },
  ],
  ['deleteRegularisationStop', (r) => r.deleteRegularisationStop('alice', 'web')],
  [
    'insertBackupTree',
    (r) =>
      r.insertBackupTree({
        rootInstanceId: 1,
        password: 'p',
        clones: 1,
        epoch: 0,
        backupRequestedAt: null,
        restoreRequestJson: null,
        restoreSourceRootId: null,
        lastRestoreJson: null,
        createdAt: 1,
      }),
  ],
  ['getBackupTree', (r) => r.getBackupTree(1)],
  ['listResilientBackupTrees', (r) => r.listResilientBackupTrees()],
  ['setBackupTreeClones', (r) => r.setBackupTreeClones(1, 2)],
  ['setBackupRequestedAt', (r) => r.setBackupRequestedAt(1, 2)],
  ['setBackupRestoreRequest', (r) => r.setBackupRestoreRequest(1, '{}', 1)],
  ['setBackupLastRestore', (r) => r.setBackupLastRestore(1, '{}')],
  ['listBackupTreesRestoringFrom', (r) => r.listBackupTreesRestoringFrom(1)],
  ['advanceBackupEpoch', (r) => r.advanceBackupEpoch(1, 0)],
  [
    'putBackupMember',
    (r) =>
      r.putBackupMember({
        instanceId: 1,
        rootInstanceId: 1,
        role: 'main',
        restoredBackupId: null,
        restoredAt: null,
        lastBackupId: null,
        lastBackupAt: null,
        fencedAt: null,
        updatedAt: 1,
      }),
  ],
  ['getBackupMember', (r) => r.getBackupMember(1)],
  ['listBackupMembers', (r) => r.listBackupMembers(1)],
  [
    'putBackupEndpoint',
    (r) => r.putBackupEndpoint({ computeNodeId: node, url: 'https://x', certificate: 'pem', updatedAt: 1 }),
  ],
  ['getBackupEndpoint', (r) => r.getBackupEndpoint(node)],
  [
    'replaceBackupListing',
    (r) =>
      r.replaceBackupListing(
        1,
        node,
        [
          { backupId: 'a', time: 1 },
          { backupId: 'b', time: 2 },
        ],
        1,
      ),
  ],
  ['listBackupListing', (r) => r.listBackupListing(1)],
  [
    'undoComputeNodeRegistration',
    (r) => r.undoComputeNodeRegistration({ reference: 'COMP-9', tokenHash: 'd'.repeat(64) }),
  ],
];

test("no repository query reads a whole table (but the listings of one), nor other owners' instances; the polled list is covered by an index", async () => {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-query-plans-'));
  const prototype = BetterSqlite3.prototype as { prepare: (source: string) => unknown };
  const prepare = prototype.prepare;
  // Each statement the store prepares, with the repository method that was running.
  const prepared: { method: keyof Repository; sql: string }[] = [];
  let running: keyof Repository | undefined;
  prototype.prepare = function (this: unknown, source: string) {
    if (running !== undefined) prepared.push({ method: running, sql: source });
    return prepare.call(this, source);
  };
  const path = join(directory, 'master.db');
  try {
    const store = await openSqliteStore({ path });
    try {
      for (const [method, call] of CALLS)
        await store.write(async (repository) => {
          running = method;
          try {
            await call(repository);
          } finally {
            running = undefined;
          }
        });
    } finally {
      await store.close();
    }
    prototype.prepare = prepare;
    const repository = await openSqliteStore({ path }).then(async (again) => {
      const methods = await again.read((r) => Promise.resolve(Object.keys(r)));
      await again.close();
      return methods;
    });
    assert.deepEqual(
      repository.filter((method) => !CALLS.some(([called]) => called === method)),
      [],
      'every repository method is called (add the new ones to CALLS)',
    );
    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      const scans: string[] = [];
      for (const { method, sql } of prepared) {
        const parameters = (sql.match(/\?/g) ?? []).map(() => null);
        const plan = (): { detail: string }[] =>
          raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[];
        // Every instance, each joined to its partition and software installation by an index.
        if (method === 'listInstanceStatusFacts')
          for (const { detail } of plan())
            if (/^SCAN (?!i\b)/.test(detail) || /^SEARCH \S+$/.test(detail))
              scans.push(`${method}: ${detail} in ${sql}`);
        if (WHOLE_LISTINGS.has(method) || !/^\s*(select|insert|update|delete|with)\b/i.test(sql)) continue;
        for (const { detail } of plan()) {
          // SCAN: every row; SEARCH without USING: every row too (max() with no index on its column).
          if (/^SCAN (?!CONSTANT ROW)/.test(detail) || /^SEARCH \S+$/.test(detail))
            scans.push(`${method}: ${detail} in ${sql}`);
          // An owner's instances are found among the owner's only, not among everybody's roots.
          if (OWNER_SCOPED.has(method) && /^SEARCH (instance|i) /.test(detail) && !/\(owner=\?/.test(detail))
            scans.push(`${method}: ${detail} (not by owner) in ${sql}`);
          // An invoice run's sums come from the usage_charge_invoice index alone.
          if (
            method === 'sumUsageCharges' &&
            /^SEARCH usage_charge /.test(detail) &&
            !/COVERING INDEX usage_charge_invoice/.test(detail)
          )
            scans.push(`${method}: ${detail} (not covered) in ${sql}`);
          if (method === 'sumUsageCharges' && /TEMP B-TREE/.test(detail))
            scans.push(`${method}: ${detail} (sorts) in ${sql}`);
          // The nodes' polled list is read from the index, not from the instances' wide rows.
          if (
            method === 'listInstancesOnNode' &&
            /^SEARCH (instance|i) /.test(detail) &&
            !/COVERING/.test(detail)
          )
            scans.push(`${method}: ${detail} (not covered) in ${sql}`);
        }
      }
      assert.deepEqual(scans, []);
      assert.ok(prepared.length > CALLS.length, 'the statements were seen');
    } finally {
      raw.close();
    }
  } finally {
    prototype.prepare = prepare;
    await rm(directory, { recursive: true, force: true });
  }
});

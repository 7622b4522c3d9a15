/**
 * Invoice generation on a real store (SQLite, or PostgreSQL with SLAPOS_TEST_STORE=postgres): hand-computed totals, idempotency, credit notes when
 * usage changes, price list versions and their protection, who sees and pays what.
 */
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../core/clock.ts';
import { createLogger } from '../../lib/logger.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { openTestStore, type TestStore } from '../../testing/test-database.ts';
import { pgClientConfig } from '../storage/postgres/connection.ts';
import { LOCAL_CALLER, proxyModeAuthorizer, type Caller } from './caller.ts';
import { generateInvoices, getInvoice, listInvoices, markInvoicePaid } from './invoices.ts';
import { createMasterAuthorizer } from './master-authorizer.ts';
import { listPriceLists, setPriceList, type InvoicingContext } from './price-lists.ts';

const JAN = Date.UTC(2026, 0, 1) / 1000;
const FEB = Date.UTC(2026, 1, 1) / 1000;
const MAR = Date.UTC(2026, 2, 1) / 1000;
const HOUR = 3600;
const DAY = 86_400;
const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';

let directory: string;
let opened: TestStore;
/** Runs a fixture statement (`?` placeholders) on the test database, behind the store's back. */
let execute: (statement: string, values: unknown[]) => Promise<void>;
let closeFixtures: () => Promise<void>;
let logFile: string;
const clock = fixedClock(MAR + DAY);
let context: InvoicingContext;
let masterContext: InvoicingContext;

const ALICE: Caller = { kind: 'user', userId: 'alice', admin: false };
const BOB: Caller = { kind: 'user', userId: 'bob', admin: false };
const ADMIN: Caller = { kind: 'user', userId: 'root', admin: true };

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'slapos-invoices-'));
  opened = await openTestStore();
  const { store, location } = opened;
  if (location.kind === 'sqlite') {
    const raw = new BetterSqlite3(location.path);
    execute = (statement, values) => {
      raw.prepare(statement).run(...values);
      return Promise.resolve();
    };
    closeFixtures = () => Promise.resolve(void raw.close());
  } else {
    const client = new pg.Client(pgClientConfig(location.uri, { applicationName: 'invoices-test' }));
    await client.connect();
    execute = async (statement, values) => {
      let index = 0;
      await client.query(
        statement.replace(/\?/g, () => `$${++index}`),
        values.map((value) => (typeof value === 'bigint' ? value.toString() : value)),
      );
    };
    closeFixtures = () => client.end();
  }
  logFile = join(directory, 'log');
  const logger = createLogger({ destination: logFile, level: 'info' });
  context = { store, clock, logger, authorize: proxyModeAuthorizer.authorize.bind(proxyModeAuthorizer) };
  const authorizer = createMasterAuthorizer({ store, audit: logger });
  masterContext = { store, clock, logger, authorize: authorizer.authorize.bind(authorizer) };
  clock.set(MAR + DAY);
});

afterEach(async () => {
  await closeFixtures();
  await opened.close();
  await rm(directory, { recursive: true, force: true });
});

let chargeId = 0;
/** A billed piece (what ingestion stores). */
async function charge(
  owner: string,
  tree: string,
  resource: string,
  start: number,
  micro: bigint,
): Promise<void> {
  const date = new Date(start * 1000);
  await execute(
    `INSERT INTO usage_charge (journal_id, period, owner, instance_tree, instance_id, compute_node_reference,
        partition_reference, resource, start_at, stop_at, quantity_micro) VALUES (NULL, ?, ?, ?, 1, 'COMP-1', ?, ?, ?, ?, ?)`,
    [
      date.getUTCFullYear() * 100 + date.getUTCMonth() + 1,
      owner,
      tree,
      `slappart${chargeId++}`,
      resource,
      start,
      start + HOUR,
      micro,
    ],
  );
}

async function hold(owner: string, tree: string, from: number, to: number | null): Promise<void> {
  await execute(
    `INSERT INTO partition_allocation (compute_node_reference, partition_reference, instance_id, owner, instance_tree,
        allocated_at, released_at) VALUES ('COMP-1', ?, 1, ?, ?, ?, ?)`,
    [`slappart${chargeId++}`, owner, tree, from, to],
  );
}

const PRICES = JSON.stringify({
  currency: 'EUR',
  effective: '2026-01-01',
  resources: { [CPU]: 0.0001, [MEMORY]: 0.001 },
  instance_tree_monthly_fee: 0,
});

async function auditEvents(): Promise<string[]> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.includes('"audit":true'))
    .map((line) => (JSON.parse(line) as { event: string }).event);
}

test('hand-computed invoices per user; generating again changes nothing', async () => {
  await setPriceList(context, { caller: LOCAL_CALLER, document: PRICES });
  // alice: 3600 s of cpu (0.36) and 512 MB over 24 h = 12288 MB-h (12.288), in two pieces.
  await charge('alice', 'web', CPU, FEB + HOUR, 3600_000000n);
  await charge('alice', 'web', MEMORY, FEB + 2 * HOUR, 6144_000000n);
  await charge('alice', 'web', MEMORY, FEB + 26 * HOUR, 6144_000000n);
  // bob: 1 s of cpu in another tree; a resource not priced; January usage is another period.
  await charge('bob', 'db', CPU, FEB + 5 * HOUR, 1_000000n);
  await charge('bob', 'db', 'service_module/unpriced', FEB + 5 * HOUR, 999_000000n);
  await charge('bob', 'db', CPU, JAN + 5 * HOUR, 1_000000n);

  const first = await generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' });
  assert.deepEqual(
    first.invoices.map((invoice) => [
      invoice.id,
      invoice.user,
      invoice.total,
      invoice.state,
      invoice.corrects,
    ]),
    [
      ['INV-202602-000001', 'alice', '12.65', 'issued', null],
      ['INV-202602-000002', 'bob', '0.00', 'issued', null],
    ],
  );
  assert.deepEqual(first.invoices[0]?.lines, [
    { instance_tree: 'web', resource: CPU, quantity: '3600', unit_price: '0.0001', amount: '0.36' },
    { instance_tree: 'web', resource: MEMORY, quantity: '12288', unit_price: '0.001', amount: '12.288' },
  ]);
  assert.deepEqual(first.invoices[1]?.lines, [
    { instance_tree: 'db', resource: CPU, quantity: '1', unit_price: '0.0001', amount: '0.0001' },
  ]);
  assert.equal(first.invoices[0]?.period, '2026-02');
  assert.equal(first.invoices[0]?.currency, 'EUR');
  assert.equal(first.invoices[0]?.issued_at, new Date((MAR + DAY) * 1000).toISOString());

  clock.advance(DAY);
  const again = await generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' });
  assert.deepEqual(again.invoices, first.invoices, 'same usage: same invoices');
  assert.deepEqual(again.issued, []);
  assert.deepEqual(again.unchanged, ['INV-202602-000001', 'INV-202602-000002']);
  assert.deepEqual(await auditEvents(), ['price_list.set', 'invoice.issued', 'invoice.issued']);
});

test('changed usage: the invoice is cancelled by a credit note and a corrected invoice issued', async () => {
  await setPriceList(context, { caller: LOCAL_CALLER, document: PRICES });
  await charge('alice', 'web', CPU, FEB, 3600_000000n);
  await charge('bob', 'db', CPU, FEB, 7200_000000n);
  await generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' });
  // A late journal for alice; bob's usage disappears (e.g. re-attributed): bob gets only a credit note.
  await charge('alice', 'web', CPU, FEB + 10 * DAY, 1800_000000n);
  await execute(`DELETE FROM usage_charge WHERE owner = 'bob'`, []);
  const second = await generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' });
  assert.deepEqual(
    second.invoices.map((invoice) => [
      invoice.id,
      invoice.kind,
      invoice.user,
      invoice.total,
      invoice.corrects,
    ]),
    [
      ['CN-202602-000001', 'credit_note', 'alice', '-0.36', 'INV-202602-000001'],
      ['INV-202602-000003', 'invoice', 'alice', '0.54', 'INV-202602-000001'],
      ['CN-202602-000002', 'credit_note', 'bob', '-0.72', 'INV-202602-000002'],
    ],
  );
  assert.deepEqual(second.invoices[0]?.lines, [
    { instance_tree: 'web', resource: CPU, quantity: '-3600', unit_price: '0.0001', amount: '-0.36' },
  ]);
  assert.deepEqual(second.cancelled, ['INV-202602-000001', 'INV-202602-000002']);
  const all = await listInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' });
  assert.deepEqual(
    all.map((invoice) => [invoice.id, invoice.state]),
    [
      ['INV-202602-000001', 'cancelled'],
      ['INV-202602-000002', 'cancelled'],
      ['CN-202602-000001', 'issued'],
      ['INV-202602-000003', 'issued'],
      ['CN-202602-000002', 'issued'],
    ],
  );
  // And nothing more on a third run.
  const third = await generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' });
  assert.deepEqual(third.issued, []);
  assert.deepEqual(
    third.invoices.map((invoice) => invoice.id),
    ['INV-202602-000003'],
  );
  assert.deepEqual(await auditEvents(), [
    'price_list.set',
    'invoice.issued',
    'invoice.issued',
    'invoice.credit_note_issued',
    'invoice.issued',
    'invoice.credit_note_issued',
  ]);
});

test('the monthly fee is prorated by the days a tree held a partition; lists change mid-month', async () => {
  await setPriceList(context, {
    caller: LOCAL_CALLER,
    document: JSON.stringify({
      currency: 'EUR',
      effective: '2026-01-01',
      resources: { [CPU]: '0.0001' },
      instance_tree_monthly_fee: 28,
    }),
  });
  await setPriceList(context, {
    caller: LOCAL_CALLER,
    document: JSON.stringify({
      currency: 'EUR',
      effective: '2026-02-15',
      resources: { [CPU]: '0.0002' },
      instance_tree_monthly_fee: '56',
    }),
  });
  // Feb 10 12:00 → Feb 20 00:00 (days 10..19: 5 at 28, 5 at 56); an instant hold on Feb 10 counts once.
  await hold('alice', 'web', FEB + 9 * DAY + 12 * HOUR, FEB + 19 * DAY);
  await hold('alice', 'web', FEB + 9 * DAY + 13 * HOUR, FEB + 9 * DAY + 13 * HOUR);
  // Held before February, released exactly at its start: no fee in February.
  await hold('bob', 'old', JAN, FEB);
  await charge('alice', 'web', CPU, FEB + 13 * DAY, 1000_000000n);
  await charge('alice', 'web', CPU, FEB + 14 * DAY, 1000_000000n);
  const { invoices } = await generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' });
  assert.equal(invoices.length, 1);
  assert.deepEqual(
    invoices[0]?.lines.map((line) => [line.resource, line.quantity, line.unit_price, line.amount]),
    [
      [CPU, '1000', '0.0001', '0.1'],
      [CPU, '1000', '0.0002', '0.2'],
      ['instance_tree_monthly_fee', '5', '28', '5'],
      ['instance_tree_monthly_fee', '5', '56', '10'],
    ],
  );
  assert.equal(invoices[0]?.total, '15.30');
});

test('a month not over yet, or not a month, is refused', async () => {
  clock.set(MAR - 1);
  await rejectsWithSlapError(
    generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' }),
    'SLAP_ERR_INVALID_INPUT',
    /2026-02 has not ended yet/,
  );
  for (const period of ['2026-2', '2026-13', 'x', '', '2026-02\n'])
    await rejectsWithSlapError(
      generateInvoices(context, { caller: LOCAL_CALLER, period }),
      'SLAP_ERR_INVALID_INPUT',
      /not a billing period/,
    );
  // No price list: nothing is billed, no invoice.
  clock.set(MAR);
  await charge('alice', 'web', CPU, FEB, 1n);
  assert.deepEqual(
    (await generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' })).invoices,
    [],
  );
});

test('a price list that would change an invoiced month is refused; the same list again is a no-op', async () => {
  assert.equal((await setPriceList(context, { caller: LOCAL_CALLER, document: PRICES })).outcome, 'added');
  assert.equal(
    (await setPriceList(context, { caller: LOCAL_CALLER, document: PRICES })).outcome,
    'unchanged',
  );
  const cheaper = PRICES.replace('0.0001', '0.00005');
  assert.equal(
    (await setPriceList(context, { caller: LOCAL_CALLER, document: cheaper })).outcome,
    'replaced',
  );
  await charge('alice', 'web', CPU, FEB, 1_000000n);
  await generateInvoices(context, { caller: LOCAL_CALLER, period: '2026-02' });
  await rejectsWithSlapError(
    setPriceList(context, { caller: LOCAL_CALLER, document: PRICES }),
    'SLAP_ERR_CONFLICT',
    /effective 2026-01-01 would change the prices of 2026-02, already invoiced \(INV-202602-000001\)/,
  );
  const at = (effective: string) => PRICES.replace('2026-01-01', effective);
  await rejectsWithSlapError(
    setPriceList(context, { caller: LOCAL_CALLER, document: at('2026-02-28') }),
    'SLAP_ERR_CONFLICT',
    /would set the prices of 2026-02/,
  );
  // From March on: nothing invoiced is touched.
  assert.equal(
    (await setPriceList(context, { caller: LOCAL_CALLER, document: at('2026-03-01') })).outcome,
    'added',
  );
  // A list effective in December 2025 prices only December (January's list follows): allowed.
  assert.equal(
    (await setPriceList(context, { caller: LOCAL_CALLER, document: at('2025-12-01') })).outcome,
    'added',
  );
  assert.deepEqual(
    (await listPriceLists(context, { caller: LOCAL_CALLER })).map((list) => [
      list.effective,
      list.resources[CPU],
    ]),
    [
      ['2025-12-01', '0.0001'],
      ['2026-01-01', '0.00005'],
      ['2026-03-01', '0.0001'],
    ],
  );
  await rejectsWithSlapError(
    setPriceList(context, { caller: LOCAL_CALLER, document: '{"currency":"EUR"}' }),
    'SLAP_ERR_PRICE_LIST_INVALID',
  );
});

test('master mode: users see their own invoices only; admins see all and record payments', async () => {
  await setPriceList(masterContext, { caller: ADMIN, document: PRICES });
  await rejectsWithSlapError(
    setPriceList(masterContext, { caller: ALICE, document: PRICES }),
    'SLAP_ERR_FORBIDDEN',
  );
  await charge('alice', 'web', CPU, FEB, 3600_000000n);
  await charge('bob', 'db', CPU, FEB, 3600_000000n);
  await rejectsWithSlapError(
    generateInvoices(masterContext, { caller: ALICE, period: '2026-02' }),
    'SLAP_ERR_FORBIDDEN',
  );
  await generateInvoices(masterContext, { caller: ADMIN, period: '2026-02' });
  const ids = (list: { id: string }[]) => list.map((invoice) => invoice.id);
  assert.deepEqual(ids(await listInvoices(masterContext, { caller: ALICE })), ['INV-202602-000001']);
  assert.deepEqual(ids(await listInvoices(masterContext, { caller: ALICE, user: 'bob' })), []);
  assert.deepEqual(ids(await listInvoices(masterContext, { caller: BOB })), ['INV-202602-000002']);
  assert.deepEqual(ids(await listInvoices(masterContext, { caller: ADMIN })), [
    'INV-202602-000001',
    'INV-202602-000002',
  ]);
  assert.deepEqual(ids(await listInvoices(masterContext, { caller: ADMIN, user: 'bob' })), [
    'INV-202602-000002',
  ]);
  assert.equal(
    (await getInvoice(masterContext, { caller: ALICE, reference: 'INV-202602-000001' })).user,
    'alice',
  );
  await rejectsWithSlapError(
    getInvoice(masterContext, { caller: ALICE, reference: 'INV-202602-000002' }),
    'SLAP_ERR_INVOICE_NOT_FOUND',
  );
  await rejectsWithSlapError(
    getInvoice(masterContext, {
      caller: { kind: 'compute_node', computeNodeId: 'COMP-1' },
      reference: 'INV-202602-000001',
    }),
    'SLAP_ERR_FORBIDDEN',
  );
  await rejectsWithSlapError(
    markInvoicePaid(masterContext, { caller: ALICE, reference: 'INV-202602-000001' }),
    'SLAP_ERR_FORBIDDEN',
  );
  clock.advance(HOUR);
  const paid = await markInvoicePaid(masterContext, { caller: ADMIN, reference: 'INV-202602-000001' });
  assert.equal(paid.state, 'paid');
  assert.equal(paid.paid_at, new Date(clock.now() * 1000).toISOString());
  clock.advance(HOUR);
  assert.deepEqual(
    await markInvoicePaid(masterContext, { caller: ADMIN, reference: 'INV-202602-000001' }),
    paid,
  );
  assert.deepEqual(ids(await listInvoices(masterContext, { caller: ADMIN, state: 'paid' })), [
    'INV-202602-000001',
  ]);
  await rejectsWithSlapError(
    listInvoices(masterContext, { caller: ADMIN, state: 'lost' }),
    'SLAP_ERR_INVALID_INPUT',
    /unknown invoice state "lost"/,
  );
  await rejectsWithSlapError(
    markInvoicePaid(masterContext, { caller: ADMIN, reference: 'INV-999999-000001' }),
    'SLAP_ERR_INVOICE_NOT_FOUND',
  );
  // A credit note is not paid; a cancelled invoice neither.
  await charge('bob', 'db', CPU, FEB, 1n);
  await generateInvoices(masterContext, { caller: ADMIN, period: '2026-02' });
  await rejectsWithSlapError(
    markInvoicePaid(masterContext, { caller: ADMIN, reference: 'CN-202602-000001' }),
    'SLAP_ERR_CONFLICT',
    /credit note/,
  );
  await rejectsWithSlapError(
    markInvoicePaid(masterContext, { caller: ADMIN, reference: 'INV-202602-000002' }),
    'SLAP_ERR_CONFLICT',
    /cancelled/,
  );
  // Hostile references and user names: not found / invalid, never a store error (PostgreSQL refuses NUL).
  for (const reference of [
    '',
    'INV-202602-000001\u0000',
    'x'.repeat(10_000),
    'INV-202602-000001\n',
    '\u2028',
  ])
    for (const call of [
      getInvoice(masterContext, { caller: ADMIN, reference }),
      markInvoicePaid(masterContext, { caller: ADMIN, reference }),
    ])
      await rejectsWithSlapError(call, 'SLAP_ERR_INVOICE_NOT_FOUND');
  for (const user of ['bob\u0000', 'Bob', 'a\nb', 'x'.repeat(100)])
    await rejectsWithSlapError(
      listInvoices(masterContext, { caller: ADMIN, user }),
      'SLAP_ERR_INVALID_INPUT',
      /not a user name/,
    );
  const events = await auditEvents();
  assert.ok(events.includes('invoice.paid'));
  assert.equal(events.filter((event) => event === 'invoice.paid').length, 1, 'paying twice is audited once');
});

/**
 * Invoice evidence on a master in master mode with a real CA (the run's store, SQLite or PostgreSQL):
 * an invoice verifies against what the node signed, and each way of tampering with the stored
 * records is reported as what it is.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { fixedClock } from '../../core/clock.ts';
import { verifyInvoiceEvidence, type VerificationReport } from '../../core/invoice-verification.ts';
import { openMasterModeServices, openTestCertificateAuthority } from '../../testing/master-mode-services.ts';
import type { MasterModeServices } from '../../testing/master-mode-services.ts';
import {
  ADMIN,
  ALICE,
  ALICE_LINES,
  ALICE_TOTAL,
  BOB,
  invoiceNovember,
  NOVEMBER,
  type InvoicingWorld,
} from '../../testing/invoicing-world.ts';
import { issueSigningNode, sealChain } from '../../testing/sealed-journals.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { pgClientConfig } from '../storage/postgres/connection.ts';
import type { DatabaseLocation } from '../storage/database-location.ts';
import { generateInvoices } from './invoices.ts';

const SR = 'https://example.com/sr.cfg';
const clock = fixedClock(NOVEMBER);
let testCa: Awaited<ReturnType<typeof openTestCertificateAuthority>>;
let otherCa: Awaited<ReturnType<typeof openTestCertificateAuthority>>;
let opened: MasterModeServices;
let world: InvoicingWorld;

/** Runs SQL on the master's database behind its back (what a tampering operator would do). */
async function tamper(
  location: DatabaseLocation,
  statement: string,
  parameters: unknown[] = [],
): Promise<void> {
  if (location.kind === 'sqlite') {
    const raw = new BetterSqlite3(location.path);
    try {
      raw.prepare(statement.replace(/\$\d+/g, '?')).run(...parameters);
    } finally {
      raw.close();
    }
    return;
  }
  const client = new pg.Client(pgClientConfig(location.uri));
  await client.connect();
  try {
    await client.query(statement, parameters);
  } finally {
    await client.end();
  }
}

before(async () => {
  testCa = await openTestCertificateAuthority(clock);
  otherCa = await openTestCertificateAuthority(clock);
  opened = await openMasterModeServices({ clock, ca: testCa.ca });
  await opened.setUp({ users: ['alice', 'bob'], nodes: [{ owner: 'alice', title: 'one' }] });
  world = await invoiceNovember({
    services: opened.services,
    ca: testCa.ca,
    clock,
    store: opened.store,
    format: opened.format,
    request: (caller, title) => opened.request(caller, title, SR),
  });
});

after(async () => {
  await opened.store.close();
  await testCa.close();
  await otherCa.close();
});

async function verify(caller = ALICE, user = 'alice'): Promise<VerificationReport> {
  const reference = world.invoices.get(user) as string;
  const evidence = await opened.services.readInvoiceEvidence({ caller, reference });
  return verifyInvoiceEvidence(evidence, { caCertificatePem: testCa.ca.caCertificatePem });
}

function kinds(report: VerificationReport): [string, string | number | null][] {
  return report.problems.map((p) => [p.kind, p.sequence ?? p.resource ?? null]);
}

test("a user's invoice verifies against the journals the node signed; other users are placeholders", async () => {
  const reference = world.invoices.get('alice') as string;
  const evidence = await opened.services.readInvoiceEvidence({ caller: ALICE, reference });
  assert.deepEqual(evidence.invoice.lines, ALICE_LINES);
  assert.equal(evidence.invoice.total, ALICE_TOTAL);
  assert.equal(evidence.journal_list.length, 3);
  assert.equal(evidence.ca_certificate, testCa.ca.caCertificatePem);
  assert.deepEqual(
    evidence.allocation_list.map((a) => [a.partition_id, a.owner, a.instance_tree]),
    [
      ['slappart0', '#1', '#1'],
      ['slappart1', 'alice', 'web'],
      ['slappart0', 'alice', 'db'],
    ],
  );
  assert.ok(!JSON.stringify(evidence).includes('bob'), 'no other user is named');
  const report = verifyInvoiceEvidence(evidence, { caCertificatePem: testCa.ca.caCertificatePem });
  assert.deepEqual(report.problems, []);
  assert.equal(report.verified, true);
  assert.deepEqual(report.recomputed?.lines, ALICE_LINES);

  // bob's invoice: his own and an admin's to see, not alice's.
  assert.deepEqual((await verify(BOB, 'bob')).problems, []);
  assert.deepEqual((await verify(ADMIN, 'bob')).problems, []);
  await rejectsWithSlapError(
    opened.services.readInvoiceEvidence({ caller: ALICE, reference: world.invoices.get('bob') as string }),
    'SLAP_ERR_INVOICE_NOT_FOUND',
  );
  await rejectsWithSlapError(
    opened.services.readInvoiceEvidence({ caller: ALICE, reference: 'INV-202611-999999' }),
    'SLAP_ERR_INVOICE_NOT_FOUND',
  );
});

test('tampered records are each reported as what they are', async () => {
  const { location } = opened;
  const [, second, third] = world.journals as [string, string, string];

  // A journal's document edited in the database.
  const edited = second.replace('<quantity>512</quantity>', '<quantity>5120</quantity>');
  await tamper(location, 'UPDATE usage_journal SET document = $1 WHERE document = $2', [edited, second]);
  assert.deepEqual(kinds(await verify()), [
    ['journal_altered', 2],
    ['line_differs', 'service_module/cpu_time'],
    ['line_differs', 'service_module/memory_used'],
    ['total_differs', null],
  ]);
  await tamper(location, 'UPDATE usage_journal SET document = $1 WHERE document = $2', [second, edited]);
  assert.deepEqual(kinds(await verify()), []);

  // A journal replaced by one signed with a key the CA did not certify for the node.
  const impostor = await issueSigningNode(otherCa.ca, 'COMP-1');
  const [forged] = sealChain(
    impostor,
    [third.slice(third.indexOf('<journal>'), third.indexOf('<?slapos-usage-signature'))],
    {
      first: 3,
    },
  ) as [string];
  await tamper(location, 'UPDATE usage_journal SET document = $1 WHERE document = $2', [forged, third]);
  assert.deepEqual(kinds(await verify()), [
    ['journal_untrusted_certificate', 3],
    ['line_differs', 'service_module/cpu_time'],
    ['line_differs', 'service_module/cpu_time'],
    ['total_differs', null],
  ]);
  await tamper(location, 'UPDATE usage_journal SET document = $1 WHERE document = $2', [third, forged]);

  // A billed quantity changed, and the invoice generated again from it.
  await tamper(
    location,
    "UPDATE usage_charge SET quantity_micro = quantity_micro + 100000000 WHERE owner = 'alice' AND instance_tree = 'web' AND resource = 'service_module/cpu_time'",
  );
  await generateInvoices(opened.context, { caller: ADMIN, period: '2026-11' });
  const corrected = (
    await opened.services.context.store.read((r) => r.listInvoices({ user: 'alice', period: '2026-11' }))
  )
    .filter((invoice) => invoice.kind === 'invoice' && invoice.state === 'issued')
    .map((invoice) => invoice.reference);
  assert.equal(corrected.length, 1);
  assert.notEqual(corrected[0], world.invoices.get('alice'));
  world.invoices.set('alice', corrected[0] as string);
  const changed = await verify();
  assert.deepEqual(kinds(changed), [
    ['line_differs', 'service_module/cpu_time'],
    ['total_differs', null],
  ]);
  assert.equal(changed.problems[0]?.invoiced?.quantity, '4100');
  assert.equal(changed.problems[0]?.recomputed?.quantity, '3900');

  // A journal deleted from the chain.
  await tamper(location, 'DELETE FROM usage_journal WHERE document = $1', [second]);
  assert.deepEqual(
    kinds(await verify()).filter(([kind]) => kind.startsWith('journal_')),
    [['journal_missing', 2]],
  );
});

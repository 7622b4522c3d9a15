/**
 * The invoice extensions of the JSON API over real TLS in master mode: a user lists and reads only
 * their own invoices (another user's answers 404 exactly as an unknown one does), an admin sees
 * everyone's, the filters, malformed requests refused with 400, and the documents round-trip
 * exactly whatever their lines hold (property test over hostile tree titles).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InvoiceDocument } from '../core/invoice-types.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { invoiceRecord, masterModeDatabase, seedInvoices } from '../testing/invoices.ts';
import { postTls, startTestMasterMode, type TestMasterMode } from '../testing/master-mode.ts';
import type { JsonResponse } from '../testing/master.ts';

const LIST = '/slapos.allDocs.ext.invoice_list';
const GET = '/slapos.get.ext.invoice';
let master: TestMasterMode;
const tokens: Record<'alice' | 'bob' | 'root', string> = { alice: '', bob: '', root: '' };
const random = seededRandom(1515);
const hostileTitles = Array.from({ length: 40 }, () => hostileString(random, 10));

before(async () => {
  master = await startTestMasterMode();
  tokens.alice = (await master.admin.addUser({ name: 'alice', admin: false })).token;
  tokens.bob = (await master.admin.addUser({ name: 'bob', admin: false })).token;
  tokens.root = (await master.admin.addUser({ name: 'root', admin: true })).token;
  await seedInvoices(masterModeDatabase(master.dir), [
    invoiceRecord({ reference: 'INV-202601-000001', state: 'cancelled' }),
    invoiceRecord({
      reference: 'CN-202601-000001',
      kind: 'credit_note',
      corrects: 'INV-202601-000001',
      lines: [],
      total: '-744.36',
    }),
    invoiceRecord({ reference: 'INV-202601-000003', corrects: 'INV-202601-000001', total: '744.37' }),
    invoiceRecord({ reference: 'INV-202601-000002', user: 'bob', total: '1.00' }),
    invoiceRecord({
      reference: 'INV-202602-000001',
      period: '2026-02',
      state: 'paid',
      paidAt: Date.UTC(2026, 2, 3) / 1000,
      lines: hostileTitles.map((title, index) => ({
        instance_tree: title,
        resource: `service_module/${hostileString(random, 4)}`,
        quantity: String(index),
        unit_price: '0.5',
        amount: String(index / 2),
      })),
    }),
  ]);
});

after(() => master.close());

function call(user: keyof typeof tokens, path: string, body: unknown): Promise<JsonResponse> {
  return postTls(master.url, path, body, { ca: master.caPem, token: tokens[user] });
}

function ids(response: JsonResponse): string[] {
  assert.equal(response.status, 200, response.text);
  return (response.body as { result_list: InvoiceDocument[] }).result_list
    .map((invoice) => invoice.id)
    .sort();
}

test("a user lists their own invoices only; an admin everyone's; filters by period and state", async () => {
  assert.deepEqual(ids(await call('alice', LIST, {})), [
    'CN-202601-000001',
    'INV-202601-000001',
    'INV-202601-000003',
    'INV-202602-000001',
  ]);
  assert.deepEqual(ids(await call('bob', LIST, {})), ['INV-202601-000002']);
  assert.equal(ids(await call('root', LIST, {})).length, 5);
  assert.deepEqual(ids(await call('alice', LIST, { period: '2026-02' })), ['INV-202602-000001']);
  assert.deepEqual(ids(await call('alice', LIST, { state: 'cancelled' })), ['INV-202601-000001']);
  assert.deepEqual(ids(await call('alice', LIST, { period: '2026-03' })), []);
});

test('an invoice reads back as the document (credit note, correction, paid date)', async () => {
  const credit = await call('alice', GET, { invoice_id: 'CN-202601-000001' });
  assert.equal(credit.status, 200, credit.text);
  assert.deepEqual(credit.body, {
    id: 'CN-202601-000001',
    kind: 'credit_note',
    user: 'alice',
    period: '2026-01',
    currency: 'EUR',
    lines: [],
    total: '-744.36',
    state: 'issued',
    corrects: 'INV-202601-000001',
    issued_at: '2026-02-01T00:05:00.000Z',
    paid_at: null,
  });
  const paid = (await call('alice', GET, { invoice_id: 'INV-202602-000001' })).body as InvoiceDocument;
  assert.equal(paid.state, 'paid');
  assert.equal(paid.paid_at, '2026-03-03T00:00:00.000Z');
});

test('lines round-trip exactly whatever the tree titles and resources hold (property)', async () => {
  const response = await call('alice', GET, { invoice_id: 'INV-202602-000001' });
  assert.equal(response.status, 200, response.text);
  const lines = (response.body as InvoiceDocument).lines;
  assert.equal(lines.length, hostileTitles.length);
  // JSON escapes what UTF-8 cannot carry (lone surrogates): every string comes back as it was.
  assert.deepEqual(
    lines.map((line) => line.instance_tree),
    hostileTitles,
  );
});

test("another user's invoice answers 404 exactly as an unknown one", async () => {
  const theirs = await call('alice', GET, { invoice_id: 'INV-202601-000002' });
  const unknown = await call('alice', GET, { invoice_id: 'INV-202601-000009' });
  for (const response of [theirs, unknown]) {
    assert.equal(response.status, 404, response.text);
    const body = response.body as { status: number; type: string; title: string };
    assert.equal(body.status, 404);
    assert.equal(body.type, 'Not Found');
  }
  assert.equal(
    (theirs.body as { title: string }).title.replace('INV-202601-000002', 'ID'),
    (unknown.body as { title: string }).title.replace('INV-202601-000009', 'ID'),
  );
  assert.doesNotMatch(theirs.text, /bob/);
  assert.equal((await call('root', GET, { invoice_id: 'INV-202601-000002' })).status, 200);
});

test('malformed requests get a 400, no credentials a 401', async () => {
  for (const [path, body] of [
    [GET, { invoice_id: 'INV-1' }],
    [GET, { invoice_id: 'INV-202601-000001\n' }],
    [GET, {}],
    [LIST, { period: '2026-13' }],
    [LIST, { state: 'lost' }],
    [LIST, { user: 'bob' }],
  ] as const) {
    const response = await call('alice', path, body);
    assert.equal(response.status, 400, `${path} ${JSON.stringify(body)}: ${response.text}`);
  }
  const anonymous = await postTls(master.url, LIST, {}, { ca: master.caPem });
  assert.equal(anonymous.status, 401);
});

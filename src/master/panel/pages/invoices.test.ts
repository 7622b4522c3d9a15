/**
 * The invoices pages over HTTPS on a real master in master mode: the list (the user's own; an
 * admin's with the user column), an invoice's page with its lines linking to their trees' pages,
 * its PDF, another user's invoice and an unknown one answered 404 alike, and the navigation entry.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml } from '../html.ts';
import { invoiceRecord, masterModeDatabase, seedInvoices } from '../../../testing/invoices.ts';
import { startTestMaster } from '../../../testing/master.ts';
import { startTestMasterMode, type TestMasterMode } from '../../../testing/master-mode.ts';
import { PanelClient, textOf } from '../../../testing/panel.ts';

const HOSTILE_TITLE = 'a/b?c#d <script>"\'\u2028';
let master: TestMasterMode;
let alice: PanelClient;
let root: PanelClient;

before(async () => {
  master = await startTestMasterMode();
  alice = new PanelClient(master.url, { ca: master.caPem });
  root = new PanelClient(master.url, { ca: master.caPem });
  await alice.signIn((await master.admin.addUser({ name: 'alice', admin: false })).token);
  await root.signIn((await master.admin.addUser({ name: 'root', admin: true })).token);
  await master.admin.addUser({ name: 'bob', admin: false });
  await seedInvoices(masterModeDatabase(master.dir), [
    invoiceRecord({ reference: 'INV-202601-000001', state: 'cancelled' }),
    invoiceRecord({
      reference: 'CN-202601-000001',
      kind: 'credit_note',
      corrects: 'INV-202601-000001',
      lines: [],
      total: '-744.36',
    }),
    invoiceRecord({
      reference: 'INV-202601-000003',
      corrects: 'INV-202601-000001',
      lines: [
        ...invoiceRecord().lines,
        {
          instance_tree: HOSTILE_TITLE,
          resource: 'service_module/disk_used',
          quantity: '2',
          unit_price: '1',
          amount: '2',
        },
      ],
      total: '746.36',
    }),
    invoiceRecord({ reference: 'INV-202601-000002', user: 'bob', total: '1.00' }),
  ]);
});

after(async () => {
  await alice.close();
  await root.close();
  await master.close();
});

function listedIds(markup: string): string[] {
  return [...markup.matchAll(/<th scope="row"><a href="\/panel\/invoices\/([^"]+)">/g)].map(
    (match) => match[1] ?? '',
  );
}

test("invoices list: the user's own, with kind, period, state and total; an admin's has everyone's and their user", async () => {
  const list = await alice.get('/panel/invoices');
  assert.equal(list.status, 200, list.html);
  assert.match(list.html, /<a href="\/panel\/invoices" aria-current="page"\s*>Invoices<\/a\s*>/);
  assert.deepEqual(listedIds(list.html).sort(), [
    'CN-202601-000001',
    'INV-202601-000001',
    'INV-202601-000003',
  ]);
  const text = textOf(list.html);
  assert.match(text, /CN-202601-000001\s+Credit note\s+2026-01\s+issued\s+-744\.36 EUR/);
  assert.match(text, /INV-202601-000001\s+Invoice\s+2026-01\s+cancelled\s+744\.36 EUR/);
  assert.doesNotMatch(list.html, /<th scope="col">User<\/th>/);

  const all = await root.get('/panel/invoices');
  assert.equal(listedIds(all.html).length, 4);
  assert.match(textOf(all.html), /INV-202601-000002\s+Invoice\s+2026-01\s+bob\s+issued\s+1\.00 EUR/);
});

test("an invoice's page: facts, lines linking to their trees (escaped), total, the invoice it replaces, its PDF", async () => {
  const shown = await alice.get('/panel/invoices/INV-202601-000003');
  assert.equal(shown.status, 200, shown.html);
  assert.match(shown.html, /<h1>Invoice INV-202601-000003<\/h1>/);
  assert.match(
    shown.html,
    /<dt>Replaces<\/dt>\s*<dd><a href="\/panel\/invoices\/INV-202601-000001">INV-202601-000001<\/a><\/dd>/,
  );
  assert.match(shown.html, /<a href="\/panel\/services\/blog">blog<\/a>/);
  const href = escapeHtml(`/panel/services/${encodeURIComponent(HOSTILE_TITLE)}`);
  const title = escapeHtml(HOSTILE_TITLE.replace('\u2028', ' '));
  assert.ok(
    shown.html.includes(`<a href="${href}">${title}</a>`),
    'the hostile title, escaped, linking to its page',
  );
  assert.doesNotMatch(shown.html, /<script>"/);
  assert.match(textOf(shown.html), /Total\s+746\.36 EUR/);
  assert.match(shown.html, /<a href="\/panel\/invoices\/INV-202601-000003\.pdf">Download as PDF<\/a>/);

  const pdf = await alice.get('/panel/invoices/INV-202601-000003.pdf');
  assert.equal(pdf.status, 200);
  assert.equal(pdf.headers['content-type'], 'application/pdf');
  assert.equal(pdf.headers['content-disposition'], 'inline; filename="INV-202601-000003.pdf"');
  assert.equal(pdf.bytes.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.match(pdf.bytes.toString('latin1').trimEnd(), /%%EOF$/);

  const credit = await alice.get('/panel/invoices/CN-202601-000001');
  assert.match(credit.html, /<h1>Credit note CN-202601-000001<\/h1>/);
  assert.match(credit.html, /Nothing billed\./);
});

test("another user's invoice, and an unknown one, are not found (page and PDF alike)", async () => {
  for (const path of [
    '/panel/invoices/INV-202601-000002',
    '/panel/invoices/INV-202601-000009',
    '/panel/invoices/INV-202601-000002.pdf',
    '/panel/invoices/nonsense',
  ]) {
    const response = await alice.get(path);
    assert.ok(response.status === 404 || response.status === 400, `${path}: ${response.status}`);
    assert.doesNotMatch(response.html, /bob|1\.00 EUR|%PDF/);
  }
  assert.equal((await alice.get('/panel/invoices/INV-202601-000002')).status, 404);
  assert.equal((await root.get('/panel/invoices/INV-202601-000002')).status, 200);
});

test('proxy mode: the local caller sees every invoice; the pages are there, not in the navigation', async () => {
  const proxy = await startTestMaster();
  const panel = new PanelClient(proxy.url);
  try {
    const empty = await panel.get('/panel/invoices');
    assert.equal(empty.status, 200, empty.html);
    assert.match(textOf(empty.html), /No invoices yet\./);
    assert.doesNotMatch(empty.html, /href="\/panel\/invoices"/);
    await seedInvoices(proxy.database, [invoiceRecord({ user: 'someone' })]);
    assert.deepEqual(listedIds((await panel.get('/panel/invoices')).html), ['INV-202601-000001']);
    assert.equal((await panel.get('/panel/invoices/INV-202601-000001')).status, 200);
  } finally {
    await panel.close();
    await proxy.close();
  }
});

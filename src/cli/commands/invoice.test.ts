/**
 * `slapos invoice list|show` against a real master in master mode (HTTPS, a user's token in the
 * client configuration): the text and JSON outputs, the HTML and PDF documents written, another
 * user's invoice refused as an unknown one, a master without invoices (proxy mode's legacy API)
 * named, and hostile titles printed on one line each.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InvoiceDocument } from '../../core/invoice-types.ts';
import { runSlapos } from '../../testing/cli.ts';
import { sendJson, startHttpServer } from '../../testing/http-server.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { invoiceRecord, masterModeDatabase, seedInvoices } from '../../testing/invoices.ts';
import { startTestMasterMode, type TestMasterMode } from '../../testing/master-mode.ts';

const HOSTILE_TITLE = 'evil\r\nTotal: 0.00 EUR\u2028\u001b[31m<script>';
let master: TestMasterMode;
let dir: string;
let aliceCfg: string;
const env = isolatedClientEnv();

async function clientConfig(name: string, token: string): Promise<string> {
  const path = join(dir, `${name}.cfg`);
  await writeFile(
    path,
    `[slapconsole]\nmaster_url = ${master.url}\nmaster_token = ${token}\nmaster_ca_file = ${join(dir, 'ca.pem')}\n`,
  );
  return path;
}

before(async () => {
  master = await startTestMasterMode();
  dir = await mkdtemp(join(tmpdir(), 'slapos-invoice-cli-'));
  await writeFile(join(dir, 'ca.pem'), master.caPem);
  aliceCfg = await clientConfig('alice', (await master.admin.addUser({ name: 'alice', admin: false })).token);
  await master.admin.addUser({ name: 'bob', admin: false });
  await seedInvoices(masterModeDatabase(master.dir), [
    invoiceRecord({
      lines: [
        ...invoiceRecord().lines,
        {
          instance_tree: HOSTILE_TITLE,
          resource: 'instance_tree_monthly_fee',
          quantity: '31',
          unit_price: '5',
          amount: '5.000000',
        },
      ],
      total: '749.36',
    }),
    invoiceRecord({ reference: 'INV-202601-000002', user: 'bob' }),
  ]);
});

after(async () => {
  await master.close();
  await rm(dir, { recursive: true, force: true });
});

function slapos(args: string[]): ReturnType<typeof runSlapos> {
  return runSlapos([...args, '--cfg', aliceCfg], { env, cwd: dir });
}

test('invoice list: a table of your invoices, --json their documents', async () => {
  const run = await slapos(['invoice', 'list']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.stdout.split('\n'), [
    'ID                 KIND     PERIOD   USER   STATE   TOTAL',
    'INV-202601-000001  invoice  2026-01  alice  issued  749.36 EUR',
    '',
  ]);
  const json = await slapos(['invoice', 'list', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const { invoices } = JSON.parse(json.stdout) as { invoices: InvoiceDocument[] };
  assert.deepEqual(
    invoices.map((invoice) => [invoice.id, invoice.total, invoice.lines.length]),
    [['INV-202601-000001', '749.36', 3]],
  );
  assert.equal(invoices[0]?.lines[2]?.instance_tree, HOSTILE_TITLE, 'JSON keeps every character');
  const none = await slapos(['invoice', 'list', '--period', '2025-12']);
  assert.equal(none.stdout, 'No invoices.\n');
  const badState = await slapos(['invoice', 'list', '--state', 'lost']);
  assert.notEqual(badState.code, 0);
});

test('invoice show: facts, lines and total; hostile titles stay on their line', async () => {
  const run = await slapos(['invoice', 'show', 'INV-202601-000001']);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  assert.equal(lines[0], 'Invoice INV-202601-000001');
  assert.ok(lines.includes('  Period    2026-01'), run.stdout);
  assert.ok(lines.includes('  Issued    2026-02-01 00:05:00 UTC'), run.stdout);
  assert.equal(lines.at(-1), 'Total: 749.36 EUR');
  assert.equal(
    lines.filter((line) => line.startsWith('Total')).length,
    1,
    'a title cannot forge a total line',
  );
  assert.ok(
    lines.some((line) => /^ {2}blog +service_module\/cpu_time +3600 s +0\.0001 +0\.3600$/.test(line)),
  );
  assert.ok(
    lines.some((line) =>
      /^ {2}evil Total: 0\.00 EUR \\u001b\[31m<script> +Monthly fee +31 days +5 +5\.000000$/.test(line),
    ),
  );
  assert.doesNotMatch(run.stdout, /[\u001b\r\u2028]/);
  const json = await slapos(['invoice', 'show', 'INV-202601-000001', '--json']);
  assert.equal((JSON.parse(json.stdout) as InvoiceDocument).lines[2]?.instance_tree, HOSTILE_TITLE);
});

test('invoice show --html --pdf writes both documents (0600), rendered from the JSON', async () => {
  const run = await slapos([
    'invoice',
    'show',
    'INV-202601-000001',
    '--html',
    'inv.html',
    '--pdf',
    'out/inv.pdf',
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /wrote .*inv\.html/);
  const markup = await readFile(join(dir, 'inv.html'), 'utf8');
  assert.match(markup, /^<!doctype html>/);
  assert.match(markup, /<h1>Invoice INV-202601-000001<\/h1>/);
  assert.match(markup, /evil Total: 0\.00 EUR \\u001b\[31m&lt;script&gt;/);
  const pdf = await readFile(join(dir, 'out', 'inv.pdf'));
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
  assert.match(pdf.toString('latin1').trimEnd(), /%%EOF$/);
  assert.equal((await stat(join(dir, 'inv.html'))).mode & 0o777, 0o600);
});

test("invoice show: an unknown invoice and another user's are refused alike", async () => {
  const theirs = await slapos(['invoice', 'show', 'INV-202601-000002']);
  const unknown = await slapos(['invoice', 'show', 'INV-202601-000009']);
  for (const run of [theirs, unknown]) {
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /hint: `slapos invoice list` shows your invoices/);
  }
  assert.doesNotMatch(theirs.stderr, /bob/);
  const malformed = await slapos(['invoice', 'show', 'nonsense']);
  assert.notEqual(malformed.code, 0);
  assert.match(malformed.stderr, /invoice_id/);
});

test('a master without the invoice routes (an older master, a SlapOS master) is named as such', async () => {
  const old = await startHttpServer((request, response) => {
    request.resume();
    const path = (request.url ?? '').split('?')[0] ?? '';
    sendJson(response, 404, { status: 404, type: 'Not Found', title: `No such path: ${path}` });
  });
  try {
    for (const args of [
      ['invoice', 'list'],
      ['invoice', 'show', 'INV-202601-000001'],
    ]) {
      const run = await runSlapos([...args, '--master-url', old.url], { env, cwd: dir });
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        /has no invoices\nhint: invoices need a master of this implementation in master mode/,
      );
    }
  } finally {
    await old.close();
  }
});

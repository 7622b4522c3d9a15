/**
 * `slapos master prices set|list` and `slapos master invoice generate|list|paid` on a master
 * directory (the real CLI in-process), against hand-computed totals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InvoiceDocument } from '../../core/invoice-types.ts';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';

let work: string;
let dir: string;
const FEB_2025 = Date.UTC(2025, 1, 1) / 1000;
const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';

const slapos = (...args: string[]) => runSlapos(args, { env: isolatedClientEnv({ HOME: work }), cwd: work });

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'slapos-master-invoice-'));
  dir = join(work, 'master');
  await mkdir(dir);
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

function insertCharge(owner: string, tree: string, resource: string, start: number, micro: bigint): void {
  const db = new BetterSqlite3(join(dir, 'master.db'));
  try {
    db.prepare(
      `INSERT INTO usage_charge (journal_id, period, owner, instance_tree, instance_id, compute_node_reference,
        partition_reference, resource, start_at, stop_at, quantity_micro) VALUES (NULL, 202502, ?, ?, 1, 'COMP-1', 'slappart0', ?, ?, ?, ?)`,
    ).run(owner, tree, resource, start, start + 3600, micro);
  } finally {
    db.close();
  }
}

test('every command has --help', async () => {
  for (const command of [
    ['master', 'prices', 'set'],
    ['master', 'prices', 'list'],
    ['master', 'invoice', 'generate'],
    ['master', 'invoice', 'list'],
    ['master', 'invoice', 'paid'],
  ]) {
    const run = await slapos(...command, '--help');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /--dir <dir>/);
  }
});

test('prices set validates and stores a list; the same list again is unchanged; list shows them', async () => {
  const file = join(work, 'prices.json');
  await writeFile(
    file,
    `{"currency": "EUR", "effective": "2025-01-01", "resources": {"${CPU}": 0.0001, "${MEMORY}": 0.001,
      "service_module/disk_used": 1e-7}, "instance_tree_monthly_fee": 0}`,
  );
  const added = await slapos('master', 'prices', 'set', 'prices.json', '--dir', dir);
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout, 'price list effective 2025-01-01 (EUR) added\n');
  const again = await slapos('master', 'prices', 'set', file, '--dir', dir, '--json');
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { outcome: string }).outcome, 'unchanged');
  const listed = await slapos('master', 'prices', 'list', '--dir', dir, '--json');
  assert.deepEqual(JSON.parse(listed.stdout), [
    {
      currency: 'EUR',
      effective: '2025-01-01',
      resources: { [CPU]: '0.0001', [MEMORY]: '0.001', 'service_module/disk_used': '0.0000001' },
      instance_tree_monthly_fee: '0',
    },
  ]);
});

test('bad price list files: a message and exit code 5, nothing stored', async () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['unknown.json', '{"currency":"EUR","effective":"2025-03-01","resources":{},"x":1}', /unknown key "x"/],
    ['negative.json', '{"currency":"EUR","effective":"2025-03-01","resources":{"a":-1}}', /negative/],
    ['nul.json', '{"currency":"EUR","effective":"2025-03-01","resources":{"a\\u0000":1}}', /cannot carry/],
    ['latin1.bin', Buffer.from([0x7b, 0xe9, 0x7d]), /not UTF-8/],
  ];
  for (const [name, content, message] of cases) {
    await writeFile(join(work, name), content);
    const run = await slapos('master', 'prices', 'set', name, '--dir', dir);
    assert.equal(run.code, 5, `${name}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  }
  const missing = await slapos('master', 'prices', 'set', 'missing.json', '--dir', dir);
  assert.equal(missing.code, 5);
  assert.match(missing.stderr, /cannot read the price list/);
  const listed = await slapos('master', 'prices', 'list', '--dir', dir, '--json');
  assert.equal((JSON.parse(listed.stdout) as unknown[]).length, 1);
});

test('invoice generate, list and paid, against hand-computed totals', async () => {
  insertCharge('alice', 'web', CPU, FEB_2025, 3600_000000n); // 0.36
  insertCharge('alice', 'web', MEMORY, FEB_2025 + 3600, 12288_000000n); // 512 MB × 24 h: 12.288
  insertCharge('bob', 'db', CPU, FEB_2025, 50_000n); // 0.05 s: 0.000005 → 0.00
  const generated = await slapos(
    'master',
    'invoice',
    'generate',
    '--period',
    '2025-02',
    '--dir',
    dir,
    '--json',
  );
  assert.equal(generated.code, 0, generated.stderr);
  const { invoices } = JSON.parse(generated.stdout) as { invoices: InvoiceDocument[] };
  assert.deepEqual(
    invoices.map((invoice) => [invoice.id, invoice.user, invoice.period, invoice.currency, invoice.total]),
    [
      ['INV-202502-000001', 'alice', '2025-02', 'EUR', '12.65'],
      ['INV-202502-000002', 'bob', '2025-02', 'EUR', '0.00'],
    ],
  );
  assert.deepEqual(invoices[1]?.lines, [
    { instance_tree: 'db', resource: CPU, quantity: '0.05', unit_price: '0.0001', amount: '0.000005' },
  ]);
  const again = await slapos('master', 'invoice', 'generate', '--period', '2025-02', '--dir', dir);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /2025-02: 0 issued, 0 cancelled, 2 unchanged/);
  assert.match(again.stdout, /^INV-202502-000001 "alice" 2025-02 12\.65 EUR issued$/m);

  const paid = await slapos('master', 'invoice', 'paid', 'INV-202502-000001', '--dir', dir);
  assert.equal(paid.code, 0, paid.stderr);
  assert.match(paid.stdout, /^INV-202502-000001 paid \(\d{4}-/);
  const listed = await slapos('master', 'invoice', 'list', '--user', 'alice', '--dir', dir, '--json');
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { invoices: InvoiceDocument[] }).invoices.map((invoice) => [
      invoice.id,
      invoice.state,
    ]),
    [['INV-202502-000001', 'paid']],
  );
  const issued = await slapos(
    'master',
    'invoice',
    'list',
    '--state',
    'issued',
    '--period',
    '2025-02',
    '--dir',
    dir,
  );
  assert.equal(issued.stdout, 'INV-202502-000002 "bob" 2025-02 0.00 EUR issued\n');
  const none = await slapos('master', 'invoice', 'list', '--period', '2025-01', '--dir', dir);
  assert.equal(none.stdout, 'No invoice.\n');
});

test('invoice commands refuse bad input with a message and an exit code', async () => {
  const cases: [string[], number, RegExp][] = [
    [['generate', '--period', '2999-01'], 5, /has not ended yet/],
    [['generate', '--period', '2025-2'], 5, /not a billing period/],
    [['generate'], 5, /--period/],
    [['list', '--state', 'lost'], 5, /unknown invoice state "lost"/],
    [['list', '--period', 'x\u2028y'], 5, /not a billing period/],
    [['paid', 'INV-000000-000009'], 1, /no invoice "INV-000000-000009"/],
  ];
  for (const [args, code, message] of cases) {
    const run = await slapos('master', 'invoice', ...args, '--dir', dir);
    assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  }
  const noDir = await slapos('master', 'invoice', 'list', '--dir', join(work, 'absent'));
  assert.equal(noDir.code, 5);
  assert.match(noDir.stderr, /does not exist/);
});

/**
 * Invoicing end to end (issue 15): a master in master mode over HTTPS with an injected clock, two
 * users (alice, bob) who each registered a compute node, a simulated January 2026. The nodes post
 * their usage journals over mutual TLS with explicit intervals, sealed with their certificate keys
 * and chained (the master keeps the chains); the operator loads a price list and
 * runs `slapos master invoice generate` (the real CLI, on the master's directory while it runs). The
 * invoices match totals computed by hand below; generating again changes nothing; a late journal
 * gives bob a credit note and a corrected invoice; alice pays; the regularisation's dry run lists
 * what it would do to bob (and the CLI's, by today's clock, nothing yet); bob verifies his corrected
 * invoice against the signed journals with `slapos invoice verify`.
 *
 * Node certificates are issued at today's real time (TLS checks them against it); the master's
 * clock is then set back into January for the requests and the journals.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../src/core/clock.ts';
import { compare, parseDecimal } from '../src/core/decimal.ts';
import type { InvoiceDocument } from '../src/core/invoice-types.ts';
import { SECONDS_PER_DAY } from '../src/core/regularisation-policy.ts';
import { createPrivateKey } from 'node:crypto';
import { sealUsageJournal, usageDocumentHash } from '../src/core/usage-signature.ts';
import { createKeyAndCertificateRequest } from '../src/lib/certificate-request.ts';
import { regularise } from '../src/master/services/regularisation.ts';
import { runSlapos } from '../src/testing/cli.ts';
import { isolatedClientEnv } from '../src/testing/client-env.ts';
import { postTls, startTestMasterMode, type TestMasterMode } from '../src/testing/master-mode.ts';

const SOFTWARE = 'https://example.com/software/shop/software.cfg';
const clock = fixedClock(Math.floor(Date.now() / 1000));
const at = (iso: string): number => Date.parse(iso) / 1000;

let master: TestMasterMode;
let work: string;
const users: Record<string, { token: string }> = {};
/** Each user's node: its identity, and its chain of sealed journals (sequence, hash of the last). */
const nodes: Record<string, { id: string; key: string; cert: string; sequence: number; previous: string }> =
  {};

const userTls = (user: string) => ({ ca: master.caPem, token: users[user]?.token });
const nodeTls = (user: string) => ({ ca: master.caPem, key: nodes[user]?.key, cert: nodes[user]?.cert });

async function call(path: string, body: unknown, tls: Parameters<typeof postTls>[3]): Promise<unknown> {
  const response = await postTls(master.url, path, body, tls);
  assert.equal(response.status, 200, `${path}: ${response.text}`);
  return response.body;
}

/** A user registers a compute node with a one-time token and formats it with `partitions` partitions. */
async function registerNode(user: string, partitions: number): Promise<void> {
  const { token } = (await call('/slapos.post.ext.registration_token', {}, userTls(user))) as {
    token: string;
  };
  const { keyPem, csrPem } = await createKeyAndCertificateRequest(`${user}'s node`);
  const registered = (await call(
    '/slapos.post.ext.compute_node_registration',
    { title: `${user}'s node`, certificate_request: csrPem },
    { ca: master.caPem, token },
  )) as { computer_guid: string; certificate: string };
  nodes[user] = {
    id: registered.computer_guid,
    key: keyPem,
    cert: registered.certificate,
    sequence: 0,
    previous: '',
  };
  await call(
    '/slapos.put.v0.compute_node_format',
    {
      computer_guid: registered.computer_guid,
      compute_partition_list: Array.from({ length: partitions }, (_, n) => ({
        partition_id: `slappart${n}`,
        ip_list: [{ 'ip-address': `10.0.${partitions}.${n + 1}`, 'network-interface': 'lo' }],
      })),
    },
    nodeTls(user),
  );
  await call(
    '/slapos.post.v0.software_installation',
    { computer_guid: registered.computer_guid, software_release_uri: SOFTWARE },
    userTls(user),
  );
}

/** A user requests an instance tree on their node (allocated at once: the master's clock is its start). */
async function requestTree(user: string, title: string): Promise<void> {
  await call(
    '/slapos.post.v0.software_instance',
    {
      title,
      software_release_uri: SOFTWARE,
      software_type: 'default',
      sla_parameters: { computer_guid: nodes[user]?.id },
    },
    userTls(user),
  );
}

/** A node's usage journal for one partition over [start, stop) (our node's format, explicit interval). */
function journal(
  node: string,
  partition: string,
  start: string,
  stop: string,
  movements: Record<string, string>,
) {
  const lines = Object.entries(movements).map(
    ([resource, quantity]) =>
      `<movement><resource>${resource}</resource><title>${resource}</title><reference>${partition}</reference>` +
      `<quantity>${quantity}</quantity><price>0.0</price><VAT></VAT></movement>`,
  );
  return (
    `<?xml version='1.0' encoding='utf-8'?><journal><transaction type="Sale Packing List">` +
    `<title>usage</title><start_date>${start}</start_date><stop_date>${stop}</stop_date>` +
    `<reference>${node}</reference><currency></currency><payment_mode></payment_mode>` +
    `<category></category><arrow type="Administration"><source></source><destination></destination></arrow>` +
    `${lines.join('')}</transaction></journal>`
  );
}

/** A node seals a journal as the next link of its chain (as `slapos node report` does) and sends it; the document sent. */
async function report(
  user: string,
  partition: string,
  interval: [string, string],
  movements: Record<string, string>,
): Promise<string> {
  const node = nodes[user];
  assert.ok(node);
  node.sequence += 1;
  const sealed = sealUsageJournal(journal(node.id, partition, interval[0], interval[1], movements), {
    sequence: node.sequence,
    previous: node.previous,
    key: createPrivateKey(node.key),
    certificatePem: node.cert,
  });
  node.previous = usageDocumentHash(sealed);
  await send(user, sealed);
  return sealed;
}

async function send(user: string, document: string): Promise<void> {
  await call(
    '/slapos.post.v0.compute_node_usage',
    { computer_guid: nodes[user]?.id, tioxml: document },
    nodeTls(user),
  );
}

async function slapos(...args: string[]): Promise<string> {
  const run = await runSlapos([...args, '--dir', master.dir]);
  assert.equal(run.code, 0, `slapos ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

async function generate(): Promise<InvoiceDocument[]> {
  return (
    JSON.parse(await slapos('master', 'invoice', 'generate', '--period', '2026-01', '--json')) as {
      invoices: InvoiceDocument[];
    }
  ).invoices;
}

/** Decimal texts compared by value ("3.1" = "3.100000"). */
function assertAmount(actual: string | undefined, expected: string, what: string): void {
  assert.ok(actual !== undefined, `${what}: missing`);
  assert.equal(compare(parseDecimal(actual), parseDecimal(expected)), 0, `${what}: ${actual} ≠ ${expected}`);
}

function line(invoice: InvoiceDocument | undefined, tree: string, resource: string) {
  return invoice?.lines.find((entry) => entry.instance_tree === tree && entry.resource === resource);
}

const current = (invoices: InvoiceDocument[], user: string): InvoiceDocument | undefined =>
  invoices.find(
    (invoice) => invoice.user === user && invoice.kind === 'invoice' && invoice.state !== 'cancelled',
  );

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'slapos-e2e-invoicing-'));
  master = await startTestMasterMode({ clock });
  for (const user of ['alice', 'bob'])
    users[user] = { token: (await master.admin.addUser({ name: user, admin: false })).token };
  // Today: the node certificates are valid now, for TLS.
  await registerNode('alice', 2);
  await registerNode('bob', 1);

  // January 2026. alice's shop and bob's blog from the 1st, alice's cache from the 22nd.
  clock.set(at('2026-01-01T00:00:00Z'));
  await requestTree('alice', 'shop');
  await requestTree('bob', 'blog');
  clock.set(at('2026-01-22T00:00:00Z'));
  await requestTree('alice', 'cache');

  // The journals, sent early February (an interval may not end in the master's future).
  clock.set(at('2026-02-02T00:00:00Z'));
  await report('alice', 'slappart0', ['2026-01-01 00:00:00', '2026-01-11 00:00:00'], {
    'service_module/cpu_time': '3600',
    'service_module/memory_used': '512',
  });
  // Across the end of January: split at midnight UTC, half of it in February.
  await report('alice', 'slappart0', ['2026-01-31 12:00:00', '2026-02-01 12:00:00'], {
    'service_module/cpu_time': '7200',
    'service_module/memory_used': '100',
  });
  const blog = await report('bob', 'slappart0', ['2026-01-01 00:00:00', '2026-01-02 00:00:00'], {
    'service_module/cpu_time': '86.4',
    'service_module/disk_used': '1000',
  });
  // Sent again (as a node whose answer was lost): counted once.
  await send('bob', blog);

  const prices = join(work, 'prices.json');
  await writeFile(
    prices,
    JSON.stringify({
      currency: 'EUR',
      effective: '2026-01-01',
      resources: {
        'service_module/cpu_time': 0.0001,
        'service_module/memory_used': 0.001,
        'service_module/disk_used': 0.0005,
      },
      instance_tree_monthly_fee: '3.10',
    }),
  );
  await slapos('master', 'prices', 'set', prices);
});

after(async () => {
  await master?.close();
  await rm(work, { recursive: true, force: true });
});

let first: InvoiceDocument[];

test('the invoices of January match the totals computed by hand', async () => {
  first = await generate();
  assert.deepEqual(first.map((invoice) => [invoice.user, invoice.kind, invoice.state]).sort(), [
    ['alice', 'invoice', 'issued'],
    ['bob', 'invoice', 'issued'],
  ]);
  const alice = current(first, 'alice');
  // alice, shop: cpu 3,600 s (1st–11th) + 3,600 s (the January half of 7,200 s over 31st 12:00 →
  // 1st 12:00) = 7,200 s × 0.0001 = 0.72.
  assertAmount(line(alice, 'shop', 'service_module/cpu_time')?.quantity, '7200', 'shop cpu quantity');
  assertAmount(line(alice, 'shop', 'service_module/cpu_time')?.amount, '0.72', 'shop cpu');
  // memory: 512 MB × 240 h = 122,880 MB-h, + 100 MB × 12 h (the January half) = 1,200 MB-h:
  // 124,080 MB-h × 0.001 = 124.08.
  assertAmount(line(alice, 'shop', 'service_module/memory_used')?.quantity, '124080', 'shop memory quantity');
  assertAmount(line(alice, 'shop', 'service_module/memory_used')?.amount, '124.08', 'shop memory');
  // Fees: shop held a partition the 31 days of January: 3.10 × 31 / 31 = 3.10; cache from the
  // 22nd, 10 days: 3.10 × 10 / 31 = 1.00.
  assertAmount(line(alice, 'shop', 'instance_tree_monthly_fee')?.quantity, '31', 'shop days');
  assertAmount(line(alice, 'shop', 'instance_tree_monthly_fee')?.amount, '3.10', 'shop fee');
  assertAmount(line(alice, 'cache', 'instance_tree_monthly_fee')?.quantity, '10', 'cache days');
  assertAmount(line(alice, 'cache', 'instance_tree_monthly_fee')?.amount, '1.00', 'cache fee');
  assert.equal(alice?.lines.length, 4);
  // 0.72 + 124.08 + 3.10 + 1.00 = 128.90.
  assertAmount(alice?.total, '128.90', 'alice total');
  assert.equal(alice?.currency, 'EUR');

  const bob = current(first, 'bob');
  // bob, blog: cpu 86.4 s × 0.0001 = 0.00864 (the journal sent twice counted once); disk 1,000 MB
  // × 24 h = 24,000 MB-h × 0.0005 = 12.00; fee 3.10 × 31 / 31 = 3.10.
  assertAmount(line(bob, 'blog', 'service_module/cpu_time')?.amount, '0.00864', 'blog cpu');
  assertAmount(line(bob, 'blog', 'service_module/disk_used')?.quantity, '24000', 'blog disk quantity');
  assertAmount(line(bob, 'blog', 'service_module/disk_used')?.amount, '12', 'blog disk');
  assertAmount(line(bob, 'blog', 'instance_tree_monthly_fee')?.amount, '3.10', 'blog fee');
  // 0.00864 + 12 + 3.10 = 15.10864 → 15.11 (half-up to cents).
  assertAmount(bob?.total, '15.11', 'bob total');
});

test('generating again changes nothing', async () => {
  const again = await generate();
  assert.deepEqual(again, first);
  const run = await runSlapos(['master', 'invoice', 'generate', '--period', '2026-01', '--dir', master.dir]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /0 issued, 0 cancelled, 2 unchanged/);
});

test("a late journal: bob's invoice is cancelled by a credit note and a corrected one is issued; alice's stays", async () => {
  clock.set(at('2026-02-03T00:00:00Z'));
  await report('bob', 'slappart0', ['2026-01-10 00:00:00', '2026-01-10 01:00:00'], {
    'service_module/cpu_time': '3600',
  });
  const invoices = await generate();
  const old = current(first, 'bob');
  const creditNote = invoices.find((invoice) => invoice.kind === 'credit_note');
  assert.ok(old && creditNote);
  assert.equal(creditNote.user, 'bob');
  assert.equal(creditNote.corrects, old.id);
  assert.match(creditNote.id, /^CN-202601-\d{6}$/);
  assertAmount(creditNote.total, '-15.11', 'credit note total');
  const corrected = current(invoices, 'bob');
  assert.equal(corrected?.corrects, old.id);
  // cpu 86.4 + 3,600 = 3,686.4 s × 0.0001 = 0.36864; + 12 + 3.10 = 15.46864 → 15.47.
  assertAmount(line(corrected, 'blog', 'service_module/cpu_time')?.amount, '0.36864', 'blog cpu');
  assertAmount(corrected?.total, '15.47', 'corrected total');
  assert.deepEqual(current(invoices, 'alice'), current(first, 'alice'));
  const listed = JSON.parse(await slapos('master', 'invoice', 'list', '--user', 'bob', '--json')) as {
    invoices: InvoiceDocument[];
  };
  assert.deepEqual(
    listed.invoices.map((invoice) => [invoice.id, invoice.state]).sort(),
    [
      [old.id, 'cancelled'],
      [creditNote.id, creditNote.state],
      [corrected?.id, 'issued'],
    ].sort(),
  );
});

test("alice pays; the regularisation's dry run would stop bob's trees only, and changes nothing", async () => {
  const invoices = await generate();
  const alice = current(invoices, 'alice');
  const bob = current(invoices, 'bob');
  assert.ok(alice && bob);
  assert.match(await slapos('master', 'invoice', 'paid', alice.id), new RegExp(`^${alice.id} paid`));

  // By today's clock nothing is overdue yet.
  const today = await runSlapos([
    'master',
    'invoice',
    'regularise',
    '--dir',
    master.dir,
    '--dry-run',
    '--regularisation-stop-after-days',
    '10',
    '--regularisation-destroy-after-days',
    '30',
  ]);
  assert.equal(today.code, 0, today.stderr);
  assert.equal(today.stdout, 'Nothing to do.\n');

  // Ten days (and a second: issued_at is shown to the millisecond) after bob's first invoice, by
  // the master's clock.
  const policy = { stopAfterDays: 10, destroyAfterDays: 30 };
  const { context } = master.master.services;
  clock.set(Date.parse(current(first, 'bob')?.issued_at ?? '') / 1000 + 10 * SECONDS_PER_DAY + 1);
  const dry = await regularise(context, { policy, dryRun: true });
  assert.deepEqual(dry.actions, [{ action: 'stop', user: 'bob', instanceTree: 'blog', invoice: bob.id }]);
  assert.deepEqual(dry.invoices, [{ invoice: bob.id, user: 'bob', regularisation: 'stopped' }]);
  const trees = await master.master.services.listInstanceTreeSummaries({
    caller: { kind: 'user', userId: 'bob', admin: false },
  });
  assert.deepEqual(
    trees.map((tree) => [tree.title, tree.requestedState]),
    [['blog', 'started']],
  );
});

test("the master kept each node's journals as the links of its chain, signed with its certificate", async () => {
  for (const [user, count] of [
    ['alice', 2],
    ['bob', 2],
  ] as const) {
    const node = nodes[user];
    assert.ok(node);
    const journals = await master.master.services.context.store.read((repository) =>
      repository.listUsageJournals({ computeNodeId: node.id, limit: 10 }),
    );
    assert.deepEqual(
      journals.map((entry) => entry.seal?.sequence),
      Array.from({ length: count }, (_, n) => n + 1),
      user,
    );
    let previous = '';
    for (const entry of journals) {
      assert.equal(entry.seal?.previousHash, previous);
      assert.equal(entry.seal?.certificatePem.trim(), node.cert.trim());
      previous = entry.documentHash;
    }
    assert.equal(previous, node.previous);
  }
});

test('bob verifies his corrected invoice against the journals the nodes signed (slapos invoice verify)', async () => {
  const env = isolatedClientEnv({ HOME: work });
  const caFile = join(work, 'ca.crt');
  await writeFile(caFile, master.caPem);
  const cfg = join(work, 'bob.cfg');
  const configure = await runSlapos(
    [
      'configure',
      'client',
      '--master-url',
      master.url,
      '--token',
      users.bob?.token ?? '',
      '--ca-file',
      caFile,
      '--cfg',
      cfg,
    ],
    { env },
  );
  assert.equal(configure.code, 0, configure.stderr);
  const invoices = await generate();
  const bob = current(invoices, 'bob');
  assert.ok(bob);
  const verify = await runSlapos(['invoice', 'verify', bob.id, '--cfg', cfg, '--json'], { env });
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  const report = JSON.parse(verify.stdout) as {
    verified: boolean;
    problems: unknown[];
    recomputed: { total: string };
  };
  assert.deepEqual(report.problems, []);
  assert.equal(report.verified, true);
  assertAmount(report.recomputed.total, '15.47', 'recomputed total');
});

/**
 * `slapos invoice verify` against a real master in master mode over HTTPS (loopback), as alice with
 * her token: her invoice verifies (exit 0); a journal deleted from the master's database is reported
 * (exit 1, the reason printed); bad input gets a clear message.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../core/clock.ts';
import { MASTER_DATABASE_FILE } from '../../master/master-mode.ts';
import type { Caller } from '../../master/services/index.ts';
import { runSlapos } from '../../testing/cli.ts';
import {
  ALICE_TOTAL,
  invoiceNovember,
  NOVEMBER,
  type InvoicingWorld,
} from '../../testing/invoicing-world.ts';
import { startTestMasterMode, type TestMasterMode } from '../../testing/master-mode.ts';

const clock = fixedClock(NOVEMBER);
let master: TestMasterMode;
let dir: string;
let world: InvoicingWorld;
let config: string;
let caFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slapos-invoice-verify-'));
  master = await startTestMasterMode({ clock });
  const { token } = await master.admin.addUser({ name: 'alice', admin: false });
  await master.admin.addUser({ name: 'bob', admin: false });
  const { services } = master.master;
  await services.context.store.write((repository) =>
    repository.registerComputeNode({ owner: 'alice', title: 'one', now: NOVEMBER }),
  );
  world = await invoiceNovember({
    services,
    ca: master.master.certificateAuthority,
    clock,
    store: services.context.store,
    format: async (computeNodeId, partitions) => {
      await services.formatComputeNode({
        caller: { kind: 'compute_node', computeNodeId },
        format: {
          computeNodeId,
          address: null,
          netmask: null,
          partitions: Array.from({ length: partitions }, (_, n) => ({
            reference: `slappart${n}`,
            addresses: [],
          })),
        },
      });
    },
    request: (caller: Caller, title: string) =>
      services.requestInstance({
        caller,
        title,
        softwareRelease: 'https://example.com/sr.cfg',
        softwareType: '',
        parameters: {},
        shared: false,
        state: 'started',
        sla: {},
      }),
  });
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, master.caPem);
  config = join(dir, 'slapos-client.cfg');
  await writeFile(
    config,
    `[slapconsole]\nmaster_url = ${master.url}\nmaster_ca_file = ${caFile}\nmaster_token = ${token}\n`,
    { mode: 0o600 },
  );
});

after(async () => {
  await master.close();
  await rm(dir, { recursive: true, force: true });
});

const env = (): NodeJS.ProcessEnv => {
  const copy = { ...process.env };
  delete copy.SLAPOS_MASTER_URL;
  delete copy.SLAPOS_MASTER_TOKEN;
  return copy;
};

test('an invoice verifies (exit 0); a journal deleted at the master is reported (exit 1); bad input is refused clearly', async () => {
  const id = world.invoices.get('alice') as string;
  const ok = await runSlapos(['invoice', 'verify', id, '--cfg', config, '--ca', caFile], { env: env() });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`^Invoice ${id} \\(alice, 2026-11, issued\\): VERIFIED$`, 'm'));
  assert.match(
    ok.stdout,
    new RegExp(`invoiced ${ALICE_TOTAL} EUR, recomputed from the signed journals ${ALICE_TOTAL} EUR`),
  );
  // Without --ca: the configuration's master_ca_file, no warning.
  const json = await runSlapos(['invoice', 'verify', id, '--cfg', config, '--json'], { env: env() });
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { verified: boolean; ca: string; journals: unknown };
  assert.deepEqual([report.verified, report.ca, report.journals], [true, 'given', { total: 3, trusted: 3 }]);
  assert.equal(json.stderr, '');

  // The node's certificate from its owner: verifies; another one the master's CA issued for the node does not.
  const nodeCertificate = join(dir, 'comp-1.pem');
  await writeFile(nodeCertificate, world.nodeCertificatePem);
  const pinned = await runSlapos(
    ['invoice', 'verify', id, '--cfg', config, '--node-certificate', nodeCertificate],
    {
      env: env(),
    },
  );
  assert.equal(pinned.code, 0, pinned.stdout);
  const minted = await master.master.certificateAuthority.issueKeyAndCertificate({
    kind: 'compute_node',
    id: 'COMP-1',
    validityDays: 1,
  });
  await writeFile(nodeCertificate, minted.certificatePem);
  const mismatch = await runSlapos(
    ['invoice', 'verify', id, '--cfg', config, '--node-certificate', nodeCertificate],
    {
      env: env(),
    },
  );
  assert.equal(mismatch.code, 1);
  assert.match(
    mismatch.stdout,
    /^ {2}journal_untrusted_certificate: journal 1 of COMP-1: signed with a certificate of COMP-1 that is not one of those given for it$/m,
  );

  const raw = new BetterSqlite3(join(master.dir, MASTER_DATABASE_FILE));
  try {
    raw.prepare('DELETE FROM usage_journal WHERE sequence = 2').run();
  } finally {
    raw.close();
  }
  const broken = await runSlapos(['invoice', 'verify', id, '--cfg', config], { env: env() });
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /NOT VERIFIED \(4 problems\)/);
  assert.match(broken.stdout, /^ {2}journal_missing: journal 2 of COMP-1 is missing from the chain$/m);
  assert.match(
    broken.stdout,
    /^ {2}line_differs: web \/ service_module\/memory_used: the invoice says 512 × 0.001 = 0.512, the signed journals give no line$/m,
  );

  const unknown = await runSlapos(['invoice', 'verify', 'INV-202611-999999', '--cfg', config], {
    env: env(),
  });
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /Invoice INV-202611-999999 does not exist/);
  const notPem = await runSlapos(['invoice', 'verify', id, '--cfg', config, '--ca', config], { env: env() });
  assert.notEqual(notPem.code, 0);
  assert.match(notPem.stderr, /--ca .* is not a PEM certificate/);
  const notNodePem = await runSlapos(
    ['invoice', 'verify', id, '--cfg', config, '--node-certificate', config],
    {
      env: env(),
    },
  );
  assert.notEqual(notNodePem.code, 0);
  assert.match(notNodePem.stderr, /--node-certificate .* is not a PEM certificate/);
  assert.equal(notPem.stdout, '');
});

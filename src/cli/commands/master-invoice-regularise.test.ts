/**
 * `slapos master invoice regularise` (the real CLI, in-process) on a master directory: the dry run
 * lists and changes nothing, the run applies and says so, the policy comes from --cfg or the flags
 * and the command refuses to run without one, and titles from users never change the shape of its
 * text output.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECONDS_PER_DAY } from '../../core/regularisation-policy.ts';
import { withAdminServiceContext } from '../../master/admin-service-context.ts';
import { listInstanceTreeSummaries } from '../../master/services/instance-trees.ts';
import { requestInstance } from '../../master/services/request-instance.ts';
import type { Caller } from '../../master/services/caller.ts';
import { runSlapos } from '../../testing/cli.ts';
import { insertTestInvoices } from '../../testing/invoice-rows.ts';

let work: string;
let dir: string;
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
/** A title holding every line terminator and a control character. */
const HOSTILE = 'a\rb\nc\vd\fe\u001cf\u001dg\u001eh\u0085i\u2028j\u2029k\u0000l\u001bm';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'slapos-regularise-cli-'));
  dir = join(work, 'master');
  await mkdir(dir, { mode: 0o700 });
  await withAdminServiceContext({ dir }, async (context) => {
    await context.store.write((repository) => repository.insertUser({ name: 'alice', admin: false, now: 1 }));
    for (const title of ['web', HOSTILE])
      await requestInstance(context, {
        caller: alice,
        title,
        softwareRelease: 'https://example.com/software.cfg',
        softwareType: '',
        parameters: {},
        shared: false,
        state: 'started',
        sla: {},
      });
    await insertTestInvoices(context.store, [
      {
        reference: 'INV-202601-000001',
        user: 'alice',
        total: '3.50',
        issuedAt: Date.now() / 1000 - 1.5 * SECONDS_PER_DAY,
      },
    ]);
  });
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

const states = (): Promise<Record<string, string>> =>
  withAdminServiceContext({ dir }, async (context) =>
    Object.fromEntries(
      (await listInstanceTreeSummaries(context, { caller: alice })).map((tree) => [
        tree.title,
        tree.requestedState,
      ]),
    ),
  );

const POLICY_FLAGS = ['--regularisation-stop-after-days', '1', '--regularisation-destroy-after-days', '2'];

test('without a policy the command refuses, saying how to give one', async () => {
  const run = await runSlapos(['master', 'invoice', 'regularise', '--dir', dir, '--dry-run']);
  assert.equal(run.code, 5, run.stderr);
  assert.match(run.stderr, /the regularisation policy is off/);
  assert.equal(run.stdout, '');
  const half = await runSlapos([
    'master',
    'invoice',
    'regularise',
    '--dir',
    dir,
    '--regularisation-stop-after-days',
    '1',
  ]);
  assert.equal(half.code, 5);
  assert.match(half.stderr, /needs both/);
});

test('--dry-run --json lists what the policy would do and changes nothing; the run does it', async () => {
  const dry = await runSlapos([
    'master',
    'invoice',
    'regularise',
    '--dir',
    dir,
    '--dry-run',
    '--json',
    ...POLICY_FLAGS,
  ]);
  assert.equal(dry.code, 0, dry.stderr);
  const report = JSON.parse(dry.stdout) as Record<string, unknown>;
  assert.equal(report.dry_run, true);
  assert.deepEqual(report.actions, [
    { action: 'stop', user: 'alice', instance_tree: HOSTILE, invoice: 'INV-202601-000001' },
    { action: 'stop', user: 'alice', instance_tree: 'web', invoice: 'INV-202601-000001' },
  ]);
  assert.deepEqual(report.invoices, [
    { invoice: 'INV-202601-000001', user: 'alice', regularisation: 'stopped' },
  ]);
  assert.deepEqual(await states(), { [HOSTILE]: 'started', web: 'started' });

  // The text of a dry run: one line per tree whatever its title holds.
  const text = await runSlapos([
    'master',
    'invoice',
    'regularise',
    '--dir',
    dir,
    '--dry-run',
    ...POLICY_FLAGS,
  ]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trimEnd().split('\n');
  assert.equal(lines[0]?.replace(/ +/g, ' '), 'WOULD USER INVOICE INSTANCE TREE');
  assert.equal(lines.filter((line) => line.startsWith('stop')).length, 2);
  assert.equal(lines.at(-1), 'INV-202601-000001 (alice): would be marked stopped');
  assert.doesNotMatch(text.stdout, /[\r\v\f\u001c-\u001e\u0085\u2028\u2029\u0000\u001b]/);

  const cfg = join(work, 'master.cfg');
  await writeFile(
    cfg,
    `[master]\ndir = ${dir}\nregularisation_stop_after_days = 1\nregularisation_destroy_after_days = 2\n`,
  );
  const applied = await runSlapos(['master', 'invoice', 'regularise', '--cfg', cfg, '--json']);
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal((JSON.parse(applied.stdout) as { dry_run: boolean }).dry_run, false);
  assert.deepEqual(await states(), { [HOSTILE]: 'stopped', web: 'stopped' });
  const again = await runSlapos(['master', 'invoice', 'regularise', '--cfg', cfg]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'Nothing done.\n');

  // Paying restarts the trees the policy stopped, and says so.
  const paid = await runSlapos(['master', 'invoice', 'paid', 'INV-202601-000001', '--dir', dir]);
  assert.equal(paid.code, 0, paid.stderr);
  assert.match(paid.stdout, /^INV-202601-000001 paid \(/);
  assert.equal(paid.stderr.match(/restarted \(stopped by the regularisation\)/g)?.length, 2, paid.stderr);
  assert.deepEqual(await states(), { [HOSTILE]: 'started', web: 'started' });
});

test('--help says what the command does', async () => {
  const help = await runSlapos(['master', 'invoice', 'regularise', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--dry-run/);
  assert.match(help.stdout, /--json/);
});

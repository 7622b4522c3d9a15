/**
 * The regularisation policy on the store this run tests: an unpaid invoice stops its user's
 * started trees after N days and destroys every tree after M, each run changes only what differs
 * (a second run does nothing), a dry run changes nothing, paying restarts the trees the policy
 * stopped and not the ones their owner had stopped, a correction grants no delay, and every change
 * is audited and recorded on the invoice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../core/clock.ts';
import { isSlapError } from '../../core/errors.ts';
import { createLogger } from '../../lib/logger.ts';
import { insertTestInvoices, setTestInvoiceState } from '../../testing/invoice-rows.ts';
import { openMasterModeServices, type MasterModeServices } from '../../testing/master-mode-services.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import {
  regularisationPolicy,
  SECONDS_PER_DAY,
  type RegularisationPolicy,
} from '../../core/regularisation-policy.ts';
import { regularise, restartAfterPayment } from './regularisation.ts';

const RELEASE = 'https://example.com/software.cfg';
const T0 = Date.UTC(2026, 1, 1) / 1000;
const POLICY: RegularisationPolicy = { stopAfterDays: 10, destroyAfterDays: 30 };
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
const bob: Caller = { kind: 'user', userId: 'bob', admin: false };

interface World {
  mm: MasterModeServices;
  context: ServiceContext;
  clock: ReturnType<typeof fixedClock>;
  /** The audit records written so far. */
  audits: () => Promise<Record<string, unknown>[]>;
  states: (caller: Caller) => Promise<Record<string, string>>;
}

async function withWorld(work: (world: World) => Promise<void>): Promise<void> {
  const clock = fixedClock(T0);
  const mm = await openMasterModeServices({ clock });
  const dir = await mkdtemp(join(tmpdir(), 'slapos-regularisation-'));
  const logFile = join(dir, 'master.log');
  const context: ServiceContext = {
    ...mm.context,
    logger: createLogger({ level: 'info', destination: logFile }),
  };
  try {
    await mm.setUp({ users: ['alice', 'bob'], nodes: [] });
    for (const title of ['web', 'db', 'idle']) await mm.request(alice, title, RELEASE);
    await mm.services.changeInstanceTreeState({ caller: alice, title: 'idle', state: 'stopped' });
    await mm.request(bob, 'blog', RELEASE);
    await work({
      mm,
      context,
      clock,
      audits: async () =>
        (await readFile(logFile, 'utf8').catch(() => ''))
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as Record<string, unknown>)
          .filter((record) => record.audit === true),
      states: async (caller) =>
        Object.fromEntries(
          (await mm.services.listInstanceTreeSummaries({ caller })).map((tree) => [
            tree.title,
            tree.requestedState,
          ]),
        ),
    });
  } finally {
    await mm.context.contacts.close();
    await mm.context.revisions.close();
    await mm.store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const days = (n: number): number => T0 + n * SECONDS_PER_DAY;

test('the policy: off when unset, both delays in whole days, destroying after stopping', () => {
  assert.equal(regularisationPolicy({ stopAfterDays: undefined, destroyAfterDays: undefined }), undefined);
  assert.deepEqual(regularisationPolicy({ stopAfterDays: 10, destroyAfterDays: 30 }), POLICY);
  for (const settings of [
    { stopAfterDays: 10, destroyAfterDays: undefined },
    { stopAfterDays: undefined, destroyAfterDays: 30 },
    { stopAfterDays: 10, destroyAfterDays: 10 },
    { stopAfterDays: 10, destroyAfterDays: 5 },
    { stopAfterDays: 0, destroyAfterDays: 5 },
    { stopAfterDays: 1.5, destroyAfterDays: 5 },
    { stopAfterDays: Number.NaN, destroyAfterDays: 5 },
    { stopAfterDays: 2, destroyAfterDays: Number.POSITIVE_INFINITY },
  ])
    assert.throws(
      () => regularisationPolicy(settings),
      (error) => isSlapError(error) && error.code === 'SLAP_ERR_CONFIG',
      JSON.stringify(settings),
    );
});

test('an unpaid invoice stops the started trees after N days, once; paying restarts those only', async () => {
  await withWorld(async ({ mm, context, clock, audits, states }) => {
    await insertTestInvoices(mm.store, [
      { reference: 'INV-202601-000001', user: 'alice', total: '12.34', issuedAt: T0 },
      // Nothing to pay: nothing enforced.
      { reference: 'INV-202601-000002', user: 'bob', total: '0.00', issuedAt: T0 },
    ]);
    clock.set(days(10) - 1);
    assert.deepEqual((await regularise(context, { policy: POLICY })).actions, []);

    clock.set(days(10));
    const dry = await regularise(context, { policy: POLICY, dryRun: true });
    const stops = [
      { action: 'stop', user: 'alice', instanceTree: 'db', invoice: 'INV-202601-000001' },
      { action: 'stop', user: 'alice', instanceTree: 'web', invoice: 'INV-202601-000001' },
    ];
    assert.deepEqual(dry, {
      at: days(10),
      dryRun: true,
      actions: stops,
      invoices: [{ invoice: 'INV-202601-000001', user: 'alice', regularisation: 'stopped' }],
    });
    assert.deepEqual(await states(alice), { db: 'started', idle: 'stopped', web: 'started' });
    assert.deepEqual(await audits(), []);

    const run = await regularise(context, { policy: POLICY });
    assert.deepEqual(run.actions, stops);
    assert.deepEqual(await states(alice), { db: 'stopped', idle: 'stopped', web: 'stopped' });
    assert.deepEqual(await states(bob), { blog: 'started' });
    const invoice = await mm.store.read((repository) => repository.getInvoice('INV-202601-000001'));
    assert.equal(invoice?.regularisation, 'stopped');
    // A second run finds nothing to do.
    assert.deepEqual(await regularise(context, { policy: POLICY }), {
      at: days(10),
      dryRun: false,
      actions: [],
      invoices: [],
    });
    // Its owner starting a tree again does not outrun the policy.
    await mm.services.changeInstanceTreeState({ caller: alice, title: 'web', state: 'started' });
    clock.set(days(11));
    assert.deepEqual(
      (await regularise(context, { policy: POLICY })).actions.map((action) => action.instanceTree),
      ['web'],
    );

    await setTestInvoiceState(mm.store, 'INV-202601-000001', 'paid');
    const restarted = await restartAfterPayment(context, { user: 'alice' });
    assert.deepEqual(
      restarted.map((action) => [action.action, action.instanceTree]),
      [
        ['restart', 'db'],
        ['restart', 'web'],
      ],
    );
    // The tree alice had stopped herself stays stopped.
    assert.deepEqual(await states(alice), { db: 'started', idle: 'stopped', web: 'started' });
    assert.deepEqual(await mm.store.read((repository) => repository.listRegularisationStops()), []);
    assert.deepEqual(await restartAfterPayment(context, { user: 'alice' }), []);

    const events = (await audits()).map((record) => [record.event, record.instanceTree ?? record.invoice]);
    assert.deepEqual(events, [
      ['regularisation.stopped', 'db'],
      ['regularisation.stopped', 'web'],
      ['regularisation.recorded', 'INV-202601-000001'],
      ['regularisation.stopped', 'web'],
      ['regularisation.restarted', 'db'],
      ['regularisation.restarted', 'web'],
    ]);
  });
});

test('after M days every tree of the user is destroyed, the ones their owner stopped too', async () => {
  await withWorld(async ({ mm, context, clock, states }) => {
    await insertTestInvoices(mm.store, [
      { reference: 'INV-202601-000001', user: 'alice', total: '1.00', issuedAt: T0 },
    ]);
    clock.set(days(10));
    await regularise(context, { policy: POLICY });
    clock.set(days(30));
    const run = await regularise(context, { policy: POLICY });
    assert.deepEqual(
      run.actions.map((action) => [action.action, action.instanceTree]),
      [
        ['destroy', 'db'],
        ['destroy', 'idle'],
        ['destroy', 'web'],
      ],
    );
    assert.deepEqual(run.invoices, [
      { invoice: 'INV-202601-000001', user: 'alice', regularisation: 'destroyed' },
    ]);
    assert.deepEqual(await states(alice), { db: 'destroyed', idle: 'destroyed', web: 'destroyed' });
    assert.deepEqual(await states(bob), { blog: 'started' });
    // Nothing is left to restart: paying now restarts nothing.
    assert.deepEqual(await mm.store.read((repository) => repository.listRegularisationStops()), []);
    await setTestInvoiceState(mm.store, 'INV-202601-000001', 'paid');
    assert.deepEqual(await restartAfterPayment(context, { user: 'alice' }), []);
    assert.deepEqual((await regularise(context, { policy: POLICY })).actions, []);
  });
});

test('a corrected invoice is due since the one it replaces; another unpaid invoice the policy acted on holds the trees', async () => {
  await withWorld(async ({ mm, context, clock, states }) => {
    await insertTestInvoices(mm.store, [
      { reference: 'INV-202601-000001', user: 'alice', total: '5.00', issuedAt: T0, state: 'cancelled' },
      {
        reference: 'CN-202601-000001',
        user: 'alice',
        total: '-5.00',
        issuedAt: days(8),
        kind: 'credit_note',
      },
      {
        reference: 'INV-202601-000002',
        user: 'alice',
        total: '6.00',
        issuedAt: days(8),
        corrects: 'INV-202601-000001',
      },
      { reference: 'INV-202602-000001', user: 'alice', total: '7.00', issuedAt: days(9) },
    ]);
    clock.set(days(10));
    const run = await regularise(context, { policy: POLICY });
    assert.deepEqual(run.invoices, [
      { invoice: 'INV-202601-000002', user: 'alice', regularisation: 'stopped' },
    ]);
    assert.deepEqual(await states(alice), { db: 'stopped', idle: 'stopped', web: 'stopped' });

    // The February invoice, now past its own delay, holds the trees when January's is paid.
    clock.set(days(19));
    await regularise(context, { policy: POLICY });
    await setTestInvoiceState(mm.store, 'INV-202601-000002', 'paid');
    assert.deepEqual(await restartAfterPayment(context, { user: 'alice' }), []);
    assert.deepEqual(await states(alice), { db: 'stopped', idle: 'stopped', web: 'stopped' });

    // Cancelled without a replacement (nothing to bill after all): the next run restarts them.
    await setTestInvoiceState(mm.store, 'INV-202602-000001', 'cancelled');
    const released = await regularise(context, { policy: POLICY });
    assert.deepEqual(
      released.actions.map((action) => [action.action, action.instanceTree]),
      [
        ['restart', 'db'],
        ['restart', 'web'],
      ],
    );
    assert.deepEqual(await states(alice), { db: 'started', idle: 'stopped', web: 'started' });
  });
});

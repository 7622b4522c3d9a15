/**
 * The master applying its regularisation policy by itself (master mode, real HTTPS master, fixed
 * clock): at start, then at each interval, with the clock the master was given; `close()` waits
 * for a run in progress; proxy mode refuses the policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { SECONDS_PER_DAY } from '../../core/regularisation-policy.ts';
import { isSlapError } from '../../core/errors.ts';
import { insertTestInvoices } from '../../testing/invoice-rows.ts';
import { startTestMasterMode } from '../../testing/master-mode.ts';
import { startMaster } from '../server.ts';
import type { Caller } from './caller.ts';

const T0 = Date.UTC(2026, 1, 1) / 1000;
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };

/** Resolves once `count()` is past `than` (checked after each turn of the event loop). */
async function past(count: () => number, than: number): Promise<void> {
  for (let turn = 0; count() <= than; turn++) {
    if (turn > 100_000) throw new Error('the schedule did not run');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('the master applies the policy at start and at each interval, by its clock', async () => {
  const clock = fixedClock(T0);
  const master = await startTestMasterMode({
    clock,
    regularisation: { policy: { stopAfterDays: 10, destroyAfterDays: 30 }, intervalMs: 10 },
  });
  try {
    const schedule = master.master.regularisation;
    assert.ok(schedule);
    await past(() => schedule.runs, 0);
    await master.admin.addUser({ name: 'alice', admin: false });
    const { services } = master.master;
    await services.requestInstance({
      caller: alice,
      title: 'web',
      softwareRelease: 'https://example.com/software.cfg',
      softwareType: '',
      parameters: {},
      shared: false,
      state: 'started',
      sla: {},
    });
    await insertTestInvoices(master.master.services.context.store, [
      { reference: 'INV-202601-000001', user: 'alice', total: '1.00', issuedAt: T0 },
    ]);
    const requested = async (): Promise<string | undefined> =>
      (await services.listInstanceTreeSummaries({ caller: alice }))[0]?.requestedState;

    let runs = schedule.runs;
    await past(() => schedule.runs, runs);
    assert.equal(await requested(), 'started');

    clock.set(T0 + 10 * SECONDS_PER_DAY);
    await schedule.idle();
    runs = schedule.runs;
    await past(() => schedule.runs, runs);
    assert.equal(await requested(), 'stopped');
    clock.set(T0 + 30 * SECONDS_PER_DAY);
    await schedule.idle();
    runs = schedule.runs;
    await past(() => schedule.runs, runs);
    assert.equal(await requested(), 'destroyed');
  } finally {
    await master.close();
  }
  assert.equal(master.master.state, 'closed');
});

test('proxy mode refuses the policy (nobody owns its instance trees)', async () => {
  await assert.rejects(
    startMaster({
      database: { kind: 'sqlite', path: ':memory:' },
      port: 0,
      regularisation: { policy: { stopAfterDays: 1, destroyAfterDays: 2 } },
    }),
    (error) => isSlapError(error) && error.code === 'SLAP_ERR_CONFIG',
  );
});

/**
 * From a node's usage report to the invoice, through the master's own services (master mode, the
 * run's store): ingestion charges the holder, generation prices it, against hand-computed totals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../core/clock.ts';
import { openMasterModeServices } from '../../testing/master-mode-services.ts';
import type { Caller } from './caller.ts';

const SR = 'https://example.com/sr.cfg';
const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';
const JAN_31_22H = Date.UTC(2026, 0, 31, 22) / 1000;
const FEB_1 = Date.UTC(2026, 1, 1) / 1000;
const MAR_1 = Date.UTC(2026, 2, 1) / 1000;
const DAY = 86_400;
const alice: Caller = { kind: 'user', userId: 'alice', admin: false };
const bob: Caller = { kind: 'user', userId: 'bob', admin: false };
const admin: Caller = { kind: 'user', userId: 'root', admin: true };
const node1: Caller = { kind: 'compute_node', computeNodeId: 'COMP-1' };

function journalDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

function journal(start: number, stop: number, movements: [string, string, string][]): string {
  return (
    `<?xml version='1.0' encoding='utf-8'?>\n<journal><transaction type="Sale Packing List">` +
    `<start_date>${journalDate(start)}</start_date><stop_date>${journalDate(stop)}</stop_date>` +
    movements
      .map(
        ([partition, resource, quantity]) =>
          `<movement><resource>${resource}</resource><reference>${partition}</reference>` +
          `<quantity>${quantity}</quantity></movement>`,
      )
      .join('') +
    '</transaction></journal>\n'
  );
}

test("a node's usage report becomes its holder's invoice: 0.36 of cpu, 12.288 of memory, the month's fee", async () => {
  const clock = fixedClock(JAN_31_22H);
  const { services, store, setUp, format, request } = await openMasterModeServices({ clock });
  try {
    await setUp({ users: ['alice', 'bob'], nodes: [{ owner: 'alice', title: 'one' }] });
    await format('COMP-1', 2);
    await services.supplySoftware({ caller: alice, computeNodeId: 'COMP-1', url: SR, state: 'available' });
    const tree = await request(alice, 'tree', SR);
    assert.equal(tree.partitionId, 'slappart0');
    await services.setPriceList({
      caller: admin,
      document: JSON.stringify({
        currency: 'EUR',
        effective: '2026-01-01',
        resources: { [CPU]: 0.0001, [MEMORY]: 0.001 },
        instance_tree_monthly_fee: 2.8,
      }),
    });
    clock.set(FEB_1 + 2 * DAY);
    // February 1st, 00:00 to 24:00: 3600 s of cpu, 512 MB held all day (12288 MB-hours).
    await services.reportComputeNodeUsage({
      caller: node1,
      computeNodeId: 'COMP-1',
      usageXml: journal(FEB_1, FEB_1 + DAY, [
        ['slappart0', CPU, '3600'],
        ['slappart0', MEMORY, '512'],
      ]),
    });
    clock.set(MAR_1 + 60);
    const { invoices } = await services.generateInvoices({ caller: admin, period: '2026-02' });
    assert.deepEqual(
      invoices.map((invoice) => [invoice.id, invoice.user, invoice.total]),
      [['INV-202602-000001', 'alice', '15.45']],
    );
    assert.deepEqual(
      invoices[0]?.lines.map((line) => [line.instance_tree, line.resource, line.quantity, line.amount]),
      [
        ['tree', CPU, '3600', '0.36'],
        ['tree', MEMORY, '12288', '12.288'],
        // Held all of February's 28 days: the whole fee.
        ['tree', 'instance_tree_monthly_fee', '28', '2.8'],
      ],
    );
    assert.deepEqual(
      (await services.listInvoices({ caller: alice })).map((invoice) => invoice.id),
      ['INV-202602-000001'],
    );
    assert.deepEqual(await services.listInvoices({ caller: bob }), []);
  } finally {
    await store.close();
  }
});

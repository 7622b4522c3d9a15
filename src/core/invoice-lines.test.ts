import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBillingPeriod } from './billing-period.ts';
import { add, formatDecimal, parseDecimal, roundHalfUp, sum, ZERO } from './decimal.ts';
import {
  computeInvoice,
  creditNoteOf,
  invoiceContentHash,
  invoiceTotal,
  priceSegments,
  treeDays,
  type ChargeSum,
  type TreeDays,
} from './invoice-lines.ts';
import type { InvoiceLine, PriceList } from './invoice-types.ts';
import { seededRandom } from '../testing/hostile-strings.ts';
import { throwsSlapError } from '../testing/slap-error-assert.ts';

const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';
const DAY = 86_400;

function list(effective: string, resources: Record<string, string>, fee = '0', currency = 'EUR'): PriceList {
  return { currency, effective, resources, instanceTreeMonthlyFee: fee };
}

const JANUARY_LIST = list('2026-01-01', { [CPU]: '0.0001', [MEMORY]: '0.001' });

test('hand-computed: 3600 s of cpu at 0.0001 and 512 MB over 24 h at 0.001', () => {
  const period = parseBillingPeriod('2026-01');
  const invoice = computeInvoice({
    period,
    segments: priceSegments(period, [JANUARY_LIST]),
    charges: [
      { instanceTree: 'tree', resource: CPU, effective: '2026-01-01', quantityMicro: 3600_000000n },
      // 512 MB × 24 h = 12288 MB-hours.
      { instanceTree: 'tree', resource: MEMORY, effective: '2026-01-01', quantityMicro: 12288_000000n },
    ],
    days: [],
  });
  assert.deepEqual(invoice, {
    currency: 'EUR',
    lines: [
      { instance_tree: 'tree', resource: CPU, quantity: '3600', unit_price: '0.0001', amount: '0.36' },
      { instance_tree: 'tree', resource: MEMORY, quantity: '12288', unit_price: '0.001', amount: '12.288' },
    ],
    total: '12.65',
  });
});

test('the monthly fee is prorated by the days the tree held a partition, rounded half-up to 6 places', () => {
  const period = parseBillingPeriod('2026-01'); // 31 days
  const segments = priceSegments(period, [list('2025-06-01', {}, '10')]);
  const invoice = computeInvoice({
    period,
    segments,
    charges: [],
    days: [
      { instanceTree: 'a', effective: '2025-06-01', days: 10 },
      { instanceTree: 'b', effective: '2025-06-01', days: 31 },
    ],
  });
  assert.deepEqual(
    invoice?.lines.map((line) => [
      line.instance_tree,
      line.resource,
      line.quantity,
      line.unit_price,
      line.amount,
    ]),
    [
      ['a', 'instance_tree_monthly_fee', '10', '10', '3.225806'], // 100/31 = 3.2258064…
      ['b', 'instance_tree_monthly_fee', '31', '10', '10'],
    ],
  );
  assert.equal(invoice?.total, '13.23');
  // February of a leap year has 29 days: 1 day of 29 at 0.29 = 0.01.
  const leap = parseBillingPeriod('2028-02');
  const february = computeInvoice({
    period: leap,
    segments: priceSegments(leap, [list('2028-01-01', {}, '0.29')]),
    charges: [],
    days: [{ instanceTree: 't', effective: '2028-01-01', days: 1 }],
  });
  assert.equal(february?.lines[0]?.amount, '0.01');
  // 1 day of February 2026 (28 days) at various fees.
  const feb = parseBillingPeriod('2026-02');
  const one = (fee: string) =>
    computeInvoice({
      period: feb,
      segments: priceSegments(feb, [list('2026-02-01', {}, fee)]),
      charges: [],
      days: [{ instanceTree: 't', effective: '2026-02-01', days: 1 }],
    })?.lines[0]?.amount;
  assert.equal(one('1'), '0.035714');
  assert.equal(one('7'), '0.25');
  assert.equal(one('0.000014'), '0.000001', '0.0000005 rounds half-up');
  assert.equal(one('0.0000139'), '0', '0.00000049642… rounds down');
});

test('a month is cut at the effective days of the lists inside it; before any list nothing is billed', () => {
  const march = parseBillingPeriod('2026-03');
  const later = list('2026-03-15', { [CPU]: '0.0002' });
  const segments = priceSegments(march, [later, JANUARY_LIST, list('2026-04-01', { [CPU]: '1' })]);
  assert.deepEqual(
    segments.map((segment) => [segment.from, segment.to, segment.list.effective]),
    [
      [march.from, march.from + 14 * DAY, '2026-01-01'],
      [march.from + 14 * DAY, march.to, '2026-03-15'],
    ],
  );
  assert.deepEqual(priceSegments(parseBillingPeriod('2025-12'), [JANUARY_LIST]), []);
  const invoice = computeInvoice({
    period: march,
    segments,
    charges: [
      { instanceTree: 't', resource: CPU, effective: '2026-01-01', quantityMicro: 1000_000000n },
      { instanceTree: 't', resource: CPU, effective: '2026-03-15', quantityMicro: 1000_000000n },
      // A list no segment of the month uses prices nothing.
      { instanceTree: 't', resource: CPU, effective: '2026-04-01', quantityMicro: 1000_000000n },
    ],
    days: [],
  });
  assert.deepEqual(
    invoice?.lines.map((line) => [line.unit_price, line.amount]),
    [
      ['0.0001', '0.1'],
      ['0.0002', '0.2'],
    ],
  );
  throwsSlapError(
    () => priceSegments(march, [JANUARY_LIST, list('2026-03-15', {}, '0', 'USD')]),
    'SLAP_ERR_PRICE_LIST_INVALID',
    /different currencies \(2026-01-01: EUR, 2026-03-15: USD\)/,
  );
  // A currency change on the first of a month is fine.
  assert.equal(priceSegments(march, [JANUARY_LIST, list('2026-03-01', {}, '0', 'USD')]).length, 1);
});

test('resources the list does not name, and zero quantities, are not billed; nothing to bill is no invoice', () => {
  const period = parseBillingPeriod('2026-01');
  const segments = priceSegments(period, [JANUARY_LIST]);
  assert.equal(
    computeInvoice({
      period,
      segments,
      charges: [
        { instanceTree: 't', resource: 'service_module/unknown', effective: '2026-01-01', quantityMicro: 5n },
        { instanceTree: 't', resource: CPU, effective: '2026-01-01', quantityMicro: 0n },
        { instanceTree: 't', resource: 'constructor', effective: '2026-01-01', quantityMicro: 5n },
        { instanceTree: 't', resource: '__proto__', effective: '2026-01-01', quantityMicro: 5n },
      ],
      days: [{ instanceTree: 't', effective: '2026-01-01', days: 31 }], // the fee is 0
    }),
    undefined,
  );
  assert.equal(computeInvoice({ period, segments: [], charges: [], days: [] }), undefined);
});

test('tree days: a day counts when a hold overlaps it; holds ending at the month start do not', () => {
  const period = parseBillingPeriod('2026-01');
  const segments = priceSegments(period, [JANUARY_LIST, list('2026-01-11', {})]);
  const at = (day: number, hours = 0) => period.from + (day - 1) * DAY + hours * 3600;
  const days = treeDays(period, segments, [
    // 2025-12-20 → exactly 2026-01-01 00:00: not in January.
    { instanceTree: 'ended', allocatedAt: period.from - 12 * DAY, releasedAt: period.from },
    // Jan 5 23:00 → Jan 6 01:00: two days.
    { instanceTree: 'short', allocatedAt: at(5, 23), releasedAt: at(6, 1) },
    // Overlapping holds of one tree count each day once; an instant hold counts its day.
    { instanceTree: 'short', allocatedAt: at(5, 1), releasedAt: at(5, 2) },
    { instanceTree: 'short', allocatedAt: at(20, 5), releasedAt: at(20, 5) },
    // Held since before the month, never released: every day, split at Jan 11.
    { instanceTree: 'open', allocatedAt: period.from - DAY, releasedAt: null },
    // Released exactly at midnight Jan 12: days 10 and 11.
    { instanceTree: 'edge', allocatedAt: at(10, 12), releasedAt: at(12) },
    // After the month.
    { instanceTree: 'later', allocatedAt: period.to, releasedAt: null },
  ]);
  const sorted = (list: TreeDays[]) =>
    list
      .map((entry) => [entry.instanceTree, entry.effective, entry.days])
      .sort((a, b) => String(a).localeCompare(String(b)));
  assert.deepEqual(
    sorted(days),
    sorted([
      { instanceTree: 'short', effective: '2026-01-01', days: 2 },
      { instanceTree: 'short', effective: '2026-01-11', days: 1 },
      { instanceTree: 'open', effective: '2026-01-01', days: 10 },
      { instanceTree: 'open', effective: '2026-01-11', days: 21 },
      { instanceTree: 'edge', effective: '2026-01-01', days: 1 },
      { instanceTree: 'edge', effective: '2026-01-11', days: 1 },
    ]),
  );
});

/** Random charges and fee days over two lists in one month. */
function randomCase(random: () => number) {
  const period = parseBillingPeriod('2026-05');
  const price = () =>
    formatDecimal(parseDecimal(`${Math.floor(random() * 1e6)}e-${Math.floor(random() * 9)}`));
  const resources = ['cpu', 'mem', 'disk', 'other'];
  const lists = [
    list('2026-01-01', { cpu: price(), mem: price(), disk: price() }, price()),
    list('2026-05-17', { cpu: price(), mem: price(), other: price() }, price()),
  ];
  const segments = priceSegments(period, lists);
  const trees = ['t1', 't2', 't3', 'a "tree"\n'];
  const charges: ChargeSum[] = [];
  for (let i = Math.floor(random() * 30); i > 0; i--)
    charges.push({
      instanceTree: trees[Math.floor(random() * trees.length)] as string,
      resource: resources[Math.floor(random() * resources.length)] as string,
      effective: (lists[Math.floor(random() * 2)] as PriceList).effective,
      quantityMicro: BigInt(Math.floor(random() * 1e12)),
    });
  const days: TreeDays[] = trees
    .filter(() => random() < 0.7)
    .flatMap((instanceTree) => [
      { instanceTree, effective: '2026-01-01', days: Math.floor(random() * 17) },
      { instanceTree, effective: '2026-05-17', days: Math.floor(random() * 16) },
    ]);
  return { period, lists, segments, charges, days };
}

test('property: line amounts are exact, trees sum to the invoice, the total is their sum rounded to cents', () => {
  const random = seededRandom(2026);
  for (let round = 0; round < 300; round++) {
    const input = randomCase(random);
    const invoice = computeInvoice(input);
    if (!invoice) continue;
    const amounts = invoice.lines.map((line) => parseDecimal(line.amount));
    assert.equal(invoice.total, formatDecimal(roundHalfUp(sum(amounts), 2), 2));
    assert.match(invoice.total, /^\d+\.\d\d$/);
    // Per tree: each tree's lines, summed, make up the whole.
    const byTree = new Map<string, ReturnType<typeof sum>>();
    for (const line of invoice.lines)
      byTree.set(line.instance_tree, add(byTree.get(line.instance_tree) ?? ZERO, parseDecimal(line.amount)));
    assert.equal(formatDecimal(sum(byTree.values())), formatDecimal(sum(amounts)));
    for (const line of invoice.lines) {
      if (line.resource === 'instance_tree_monthly_fee') {
        // fee × days / 31, half-up at 6 places, checked in integers: |amount × 31 − fee × days| ≤ 31/2 × 10^-6.
        const scaled = (text: string) => {
          const [whole = '', fraction = ''] = text.split('.');
          return BigInt(whole + fraction.padEnd(30, '0'));
        };
        const error = scaled(line.amount) * 31n - scaled(line.unit_price) * BigInt(line.quantity);
        const half = (31n * 10n ** 24n) / 2n;
        assert.ok(
          error <= half && error >= -half,
          `${line.amount} ≠ ${line.unit_price} × ${line.quantity} / 31`,
        );
        assert.ok(
          line.amount.split('.')[1] === undefined || (line.amount.split('.')[1] as string).length <= 6,
        );
      } else {
        // amount = quantity × price exactly.
        const product = formatDecimal({
          coefficient: parseDecimal(line.quantity).coefficient * parseDecimal(line.unit_price).coefficient,
          scale: parseDecimal(line.quantity).scale + parseDecimal(line.unit_price).scale,
        });
        assert.equal(formatDecimal(parseDecimal(line.amount)), formatDecimal(parseDecimal(product)));
        const listPrice = input.lists.find(
          (l) => Object.hasOwn(l.resources, line.resource) && l.resources[line.resource] === line.unit_price,
        );
        assert.ok(listPrice, `the unit price of ${line.resource} comes from a list naming it`);
      }
    }
    // Charges split into more pieces of the same key bill the same.
    const split = input.charges.flatMap((charge) => {
      const part = charge.quantityMicro / 3n;
      return [
        { ...charge, quantityMicro: part },
        { ...charge, quantityMicro: charge.quantityMicro - part },
      ];
    });
    assert.deepEqual(computeInvoice({ ...input, charges: split.reverse() }), invoice);
  }
});

test('property: a credit note negates the invoice, and cancelling it twice gives the invoice back', () => {
  const random = seededRandom(99);
  for (let round = 0; round < 200; round++) {
    const invoice = computeInvoice(randomCase(random));
    if (!invoice) continue;
    const credit = creditNoteOf(invoice);
    assert.equal(formatDecimal(add(parseDecimal(credit.total), parseDecimal(invoice.total))), '0');
    assert.equal(invoiceTotal([...invoice.lines, ...credit.lines]), '0.00');
    assert.deepEqual(creditNoteOf(credit), invoice);
    assert.notEqual(invoiceContentHash(credit), invoiceContentHash(invoice));
  }
});

test('the content hash covers the currency and every field of every line, in order', () => {
  const line: InvoiceLine = {
    instance_tree: 't',
    resource: 'r',
    quantity: '1',
    unit_price: '2',
    amount: '2',
  };
  const base = invoiceContentHash({ currency: 'EUR', lines: [line] });
  assert.equal(invoiceContentHash({ currency: 'EUR', lines: [{ ...line }] }), base);
  assert.notEqual(invoiceContentHash({ currency: 'USD', lines: [line] }), base);
  for (const key of Object.keys(line) as (keyof InvoiceLine)[])
    assert.notEqual(invoiceContentHash({ currency: 'EUR', lines: [{ ...line, [key]: '9' }] }), base, key);
  assert.notEqual(invoiceContentHash({ currency: 'EUR', lines: [line, line] }), base);
});

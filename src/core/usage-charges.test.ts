import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../testing/hostile-strings.ts';
import {
  billedQuantityMicro,
  shareByLargestRemainder,
  splitMovement,
  usagePeriodBounds,
  usagePeriodOf,
  type HolderAllocation,
  type UsageChargePiece,
} from './usage-charges.ts';
import type { UsageJournalMovement } from './usage-journal.ts';

const CPU = 'service_module/cpu_time';
const MEMORY = 'service_module/memory_used';
const DISK = 'service_module/disk_used';
const NODE = { computeNodeId: 'COMP-1' };
const JAN_31_2330 = Date.UTC(2026, 0, 31, 23, 30) / 1000;
const FEB_1 = Date.UTC(2026, 1, 1) / 1000;

const movement = (fields: Partial<UsageJournalMovement>): UsageJournalMovement => ({
  reference: 'slappart0',
  resource: CPU,
  title: null,
  quantity: 1,
  start: JAN_31_2330,
  stop: JAN_31_2330 + 3600,
  ...fields,
});

const holder = (owner: string, allocatedAt: number, releasedAt: number | null, instanceId = 1) => ({
  instanceId,
  owner,
  instanceTree: `${owner}-tree`,
  allocatedAt,
  releasedAt,
});

const brief = (pieces: UsageChargePiece[]) =>
  pieces.map((p) => [p.period, p.owner, p.start, p.stop, p.quantityMicro]);

test('a journal across midnight UTC of the last day of a month is split between the two periods', () => {
  const alice = [holder('alice', 0, null)];
  assert.deepEqual(brief(splitMovement(movement({ quantity: 3600 }), alice, NODE)), [
    [202601, 'alice', JAN_31_2330, FEB_1, 1_800_000_000n],
    [202602, 'alice', FEB_1, JAN_31_2330 + 3600, 1_800_000_000n],
  ]);
  // 1024 MB held for one hour: 1024 MB-hours, half in each month.
  assert.deepEqual(
    splitMovement(movement({ resource: MEMORY, quantity: 1024 }), alice, NODE).map((p) => p.quantityMicro),
    [512_000_000n, 512_000_000n],
  );
  // A year-end boundary too, and a whole month in between.
  const dec31 = Date.UTC(2026, 11, 31, 12) / 1000;
  const pieces = splitMovement(
    movement({ start: dec31, stop: Date.UTC(2027, 1, 1, 12) / 1000, quantity: 7 }),
    alice,
    NODE,
  );
  assert.deepEqual(
    pieces.map((p) => p.period),
    [202612, 202701, 202702],
  );
  assert.equal(
    pieces.reduce((a, p) => a + p.quantityMicro, 0n),
    7_000_000n,
  );
});

test('a partition reused by another user after a destroy bills each for their own time, the gap for nobody', () => {
  const start = 1_000_000;
  const history = [holder('alice', 0, start + 1000, 1), holder('bob', start + 1500, null, 2)];
  const pieces = splitMovement(movement({ start, stop: start + 3000, quantity: 30 }), history, NODE);
  assert.deepEqual(brief(pieces), [
    [usagePeriodOf(start), 'alice', start, start + 1000, 10_000_000n],
    [usagePeriodOf(start), 'bob', start + 1500, start + 3000, 15_000_000n],
  ]);
  assert.deepEqual(
    pieces.map((p) => p.instanceId),
    [1, 2],
  );
});

test('instant movements, the node itself, nobody holding, zero quantities', () => {
  const alice = [holder('alice', 100, 200)];
  const at = (t: number, fields: Partial<UsageJournalMovement> = {}) =>
    splitMovement(movement({ start: t, stop: t, quantity: 2.5, ...fields }), alice, NODE);
  assert.deepEqual(brief(at(150)), [[usagePeriodOf(150), 'alice', 150, 150, 2_500_000n]]);
  assert.deepEqual(at(100).length, 1, 'held from allocatedAt');
  assert.deepEqual(at(200), [], 'not held from releasedAt');
  assert.deepEqual(at(150, { resource: DISK }), [], 'an instant holds no MB-hour');
  assert.deepEqual(at(150, { reference: 'COMP-1' }), [], "the node's own figures");
  assert.deepEqual(at(150, { quantity: 0 }), []);
  assert.deepEqual(at(150, { quantity: 4e-7 }), [], 'rounds to 0 millionths');
  assert.deepEqual(
    splitMovement(movement({ start: 300, stop: 400 }), alice, NODE),
    [],
    'nobody held the partition',
  );
});

test('billed quantities are exact decimals rounded half-up once', () => {
  assert.equal(billedQuantityMicro(movement({ quantity: 0.1 })), 100_000n);
  assert.equal(billedQuantityMicro(movement({ quantity: 1.0000005 })), 1_000_001n);
  assert.equal(billedQuantityMicro(movement({ quantity: 1.0000004999 })), 1_000_000n);
  assert.equal(billedQuantityMicro(movement({ quantity: 1e-7 })), 0n);
  // 0.1 MB over 0.3 s: 0.03 / 3600 MB-hours = 0.0000083… → 0.000008.
  assert.equal(billedQuantityMicro(movement({ resource: MEMORY, quantity: 0.1, start: 0.1, stop: 0.4 })), 8n);
  // Float differences are not used: 0.3 − 0.1 is 0.19999999999999998 in binary.
  assert.equal(
    billedQuantityMicro(movement({ resource: DISK, quantity: 3600, start: 0.1, stop: 0.3 })),
    200_000n,
  );
  assert.equal(billedQuantityMicro(movement({ quantity: 123456789.123456 })), 123456789123456n);
});

test('largest remainder: exact total, proportional within one unit, earliest first on a tie', () => {
  assert.deepEqual(shareByLargestRemainder(10n, [1n, 1n, 1n]), [4n, 3n, 3n]);
  assert.deepEqual(shareByLargestRemainder(2n, [1n, 1n, 1n]), [1n, 1n, 0n]);
  assert.deepEqual(shareByLargestRemainder(5n, [1n, 3n]), [1n, 4n]);
  assert.throws(() => shareByLargestRemainder(1n, [0n]), RangeError);
});

/** A random history covering [0, ∞) by handovers (or with gaps when `gaps`), times with fractions. */
function randomHistory(random: () => number, start: number, stop: number, gaps: boolean): HolderAllocation[] {
  const history: HolderAllocation[] = [];
  let at = gaps ? start + random() * (stop - start) : 0;
  const owners = ['alice', 'bob', 'carol'];
  for (let n = 1; n <= 1 + Math.floor(random() * 5) && at < stop; n++) {
    const end = random() < 0.25 ? null : at + Math.round(random() * (stop - start) * 1000) / 1000;
    history.push(holder(owners[n % 3] ?? 'alice', at, end, n));
    if (end === null) break;
    at = gaps && random() < 0.5 ? end + random() * 1000 : end;
  }
  if (!gaps && history.at(-1)?.releasedAt !== null) history.push(holder('dave', at, null, 99));
  return history;
}

test('property: pieces sum exactly to the billed quantity, each in one month and one holder, proportional', () => {
  const random = seededRandom(15);
  const resources = [CPU, MEMORY, DISK, 'custom/unit'];
  for (let run = 0; run < 2000; run++) {
    const start = Math.round((1.7e9 + random() * 1e8) * 1000) / 1000;
    const length = random() < 0.2 ? 0 : Math.round(random() * (random() < 0.5 ? 7200 : 9e6) * 1000) / 1000;
    const stop = start + length;
    const gaps = random() < 0.3;
    const history = randomHistory(random, start, stop, gaps);
    const m = movement({
      resource: resources[run % resources.length] ?? CPU,
      quantity: Number(
        (random() * 10 ** Math.floor(random() * 7)).toPrecision(1 + Math.floor(random() * 12)),
      ),
      start,
      stop,
    });
    const pieces = splitMovement(m, history, NODE);
    const total = billedQuantityMicro(m);
    const billed = pieces.reduce((a, p) => a + p.quantityMicro, 0n);
    const context = JSON.stringify({ m, history, pieces: brief(pieces).map(String) });
    if (gaps) assert.ok(billed <= total, context);
    else if (start !== stop) assert.equal(billed, total, context);
    let previousStop = -Infinity;
    for (const p of pieces) {
      assert.ok(p.quantityMicro > 0n, context);
      assert.ok(p.start >= previousStop && p.start >= start && p.stop <= stop, context);
      previousStop = p.stop;
      const { from, to } = usagePeriodBounds(p.period);
      assert.ok(p.start >= from && (p.stop < to || (p.stop === to && p.start < p.stop)), context);
      const allocation = history.find((a) => a.instanceId === p.instanceId);
      assert.ok(allocation && allocation.owner === p.owner, context);
      assert.ok(allocation.allocatedAt <= p.start, context);
      assert.ok(allocation.releasedAt === null || allocation.releasedAt >= p.stop, context);
      if (start !== stop) {
        const exact = (Number(total) * (p.stop - p.start)) / (stop - start);
        // Within one millionth of the exact share, give or take this check's own float noise (the
        // durations here are float differences of times near 1.7e9: ±2 ulp).
        const noise = (Number(total) * 1e-6) / (stop - start) + exact * 1e-12;
        assert.ok(Math.abs(Number(p.quantityMicro) - exact) <= 1 + noise, context);
      }
    }
  }
});

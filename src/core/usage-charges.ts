/**
 * What a usage movement bills (docs/invoicing.md): its billed quantity, split into pieces at the
 * partition's changes of holder and at UTC month boundaries, each piece in one period (YYYYMM) and
 * held by one instance. Pure: the master's ingestion and the invoice verifier compute the same pieces
 * from the same journal and allocation history.
 *
 * - The billed quantity: an integrated resource (INTEGRATED_RESOURCES, MB held) bills
 *   quantity × (stop − start) / 3600 MB-hours; any other resource bills its quantity as reported.
 *   It is computed in exact decimal from the quantity's shortest text and rounded half-up once, to
 *   integer millionths (QUANTITY_PLACES).
 * - An interval [start, stop) is cut at every change of holder and month boundary; each cut gets the
 *   share of the total proportional to its duration, in exact integer arithmetic, the millionths left
 *   over going to the largest remainders (earliest first on a tie): the cuts sum exactly to the total.
 *   Cuts nobody held keep their share (it is not moved onto the holders) and are not returned.
 * - An instant movement (start = stop) is one piece in the month of `stop`, for the holder at `stop`.
 * - A movement of the compute node itself, and a piece of zero millionths, bill nothing.
 *
 * A holder holds the partition during [allocatedAt, releasedAt); where histories overlap, the latest
 * allocation holds.
 */
import {
  decimalOfInteger,
  decimalOfNumber,
  divideHalfUp,
  multiply,
  roundHalfUp,
  subtract,
  toScaledInteger,
  type Decimal,
} from './decimal.ts';
import { INTEGRATED_RESOURCES, QUANTITY_PLACES } from './invoice-types.ts';
import type { UsageJournalMovement } from './usage-journal.ts';

/** One allocation of the partition (the master's partition_allocation row). */
export interface HolderAllocation {
  instanceId: number;
  owner: string;
  instanceTree: string;
  /** Float seconds. */
  allocatedAt: number;
  /** Null while the holder keeps the partition. */
  releasedAt: number | null;
}

export interface UsageChargePiece {
  /** YYYYMM of the piece's start (UTC). */
  period: number;
  instanceId: number;
  owner: string;
  instanceTree: string;
  resource: string;
  /** [start, stop), float seconds, within one UTC month (start = stop for an instant movement). */
  start: number;
  stop: number;
  /** Integer millionths of the billed unit (second, MB-hour, or the unit reported); > 0. */
  quantityMicro: bigint;
}

const SECONDS_PER_HOUR = decimalOfInteger(3600);

/** The UTC month (YYYYMM) of a time. */
export function usagePeriodOf(seconds: number): number {
  const date = new Date(seconds * 1000);
  return date.getUTCFullYear() * 100 + date.getUTCMonth() + 1;
}

/** The first second of a period and of the next one: the period is [from, to). */
export function usagePeriodBounds(period: number): { from: number; to: number } {
  const year = Math.floor(period / 100);
  const month = (period % 100) - 1;
  return { from: Date.UTC(year, month, 1) / 1000, to: Date.UTC(year, month + 1, 1) / 1000 };
}

/** The start of the UTC month after the one `seconds` lies in. */
function nextMonthStart(seconds: number): number {
  const date = new Date(seconds * 1000);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / 1000;
}

/** The billed quantity of a movement, in millionths (rounded half-up once). */
export function billedQuantityMicro(movement: UsageJournalMovement): bigint {
  const quantity = decimalOfNumber(movement.quantity);
  let billed: Decimal;
  if (INTEGRATED_RESOURCES.has(movement.resource)) {
    const seconds = subtract(decimalOfNumber(movement.stop), decimalOfNumber(movement.start));
    billed = divideHalfUp(multiply(quantity, seconds), SECONDS_PER_HOUR, QUANTITY_PLACES);
  } else {
    billed = roundHalfUp(quantity, QUANTITY_PLACES);
  }
  return toScaledInteger(billed, QUANTITY_PLACES);
}

/** The allocation holding the partition at `at`: the latest one with allocatedAt <= at < releasedAt. */
function holderAt(allocations: readonly HolderAllocation[], at: number): HolderAllocation | undefined {
  let holder: HolderAllocation | undefined;
  for (const allocation of allocations)
    if (
      allocation.allocatedAt <= at &&
      (allocation.releasedAt === null || allocation.releasedAt > at) &&
      (holder === undefined || allocation.allocatedAt >= holder.allocatedAt)
    )
      holder = allocation;
  return holder;
}

interface Cut {
  start: number;
  stop: number;
  holder: HolderAllocation | undefined;
}

/** [start, stop) cut at the holders' changes and month boundaries, adjacent cuts of one holder and month merged. */
function cutsOf(start: number, stop: number, allocations: readonly HolderAllocation[]): Cut[] {
  const points = new Set<number>([start, stop]);
  for (const allocation of allocations)
    for (const at of [allocation.allocatedAt, allocation.releasedAt])
      if (at !== null && at > start && at < stop) points.add(at);
  for (let month = nextMonthStart(start); month < stop; month = nextMonthStart(month)) points.add(month);
  const sorted = [...points].sort((a, b) => a - b);
  const cuts: Cut[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const from = sorted[i] as number;
    const to = sorted[i + 1] as number;
    const holder = holderAt(allocations, from);
    const last = cuts[cuts.length - 1];
    if (last && last.holder === holder && usagePeriodOf(last.start) === usagePeriodOf(from)) last.stop = to;
    else cuts.push({ start: from, stop: to, holder });
  }
  return cuts;
}

/**
 * `total` shared among weights proportionally, exactly: floors, then the units left over to the
 * largest remainders (the earliest on a tie).
 */
export function shareByLargestRemainder(total: bigint, weights: readonly bigint[]): bigint[] {
  const whole = weights.reduce((a, b) => a + b, 0n);
  if (whole === 0n) throw new RangeError('the weights sum to zero');
  const shares = weights.map((weight) => (total * weight) / whole);
  let left = total - shares.reduce((a, b) => a + b, 0n);
  const order = weights
    .map((weight, index) => ({ index, remainder: (total * weight) % whole }))
    .sort((a, b) => (a.remainder === b.remainder ? a.index - b.index : a.remainder > b.remainder ? -1 : 1));
  for (const { index } of order) {
    if (left === 0n) break;
    shares[index] = (shares[index] as bigint) + 1n;
    left--;
  }
  return shares;
}

/** Durations of the cuts as exact integers at one common scale. */
function exactDurations(cuts: readonly Cut[]): bigint[] {
  const bounds = cuts.map((cut) => [decimalOfNumber(cut.start), decimalOfNumber(cut.stop)] as const);
  const scale = Math.max(0, ...bounds.flat().map((bound) => bound.scale));
  return bounds.map(([from, to]) => toScaledInteger(subtract(to, from), scale));
}

function piece(
  movement: UsageJournalMovement,
  holder: HolderAllocation,
  cut: { start: number; stop: number },
  quantityMicro: bigint,
): UsageChargePiece {
  return {
    period: usagePeriodOf(cut.start),
    instanceId: holder.instanceId,
    owner: holder.owner,
    instanceTree: holder.instanceTree,
    resource: movement.resource,
    start: cut.start,
    stop: cut.stop,
    quantityMicro,
  };
}

/**
 * The billed pieces of a movement of `computeNodeId`'s usage report, given the allocation history of
 * the partition it names (any order). Pieces in time order.
 */
export function splitMovement(
  movement: UsageJournalMovement,
  allocations: readonly HolderAllocation[],
  options: { computeNodeId: string },
): UsageChargePiece[] {
  if (movement.reference === options.computeNodeId) return [];
  const total = billedQuantityMicro(movement);
  if (total === 0n) return [];
  if (movement.start === movement.stop) {
    const holder = holderAt(allocations, movement.stop);
    return holder ? [piece(movement, holder, movement, total)] : [];
  }
  const cuts = cutsOf(movement.start, movement.stop, allocations);
  if (cuts.length === 1) {
    const [cut] = cuts as [Cut];
    return cut.holder ? [piece(movement, cut.holder, cut, total)] : [];
  }
  const shares = shareByLargestRemainder(total, exactDurations(cuts));
  const pieces: UsageChargePiece[] = [];
  cuts.forEach((cut, index) => {
    const share = shares[index] ?? 0n;
    if (cut.holder && share > 0n) pieces.push(piece(movement, cut.holder, cut, share));
  });
  return pieces;
}

/**
 * What a user's invoice for a period says, from what was used (docs/invoicing.md). Pure: the master
 * generates invoices with it and the verifier recomputes them with it.
 *
 * - The month is cut into segments at the effective days of the price lists that start inside it;
 *   each segment is priced by the list with the latest effective day on or before its start (a part
 *   of the month before any list is not billed). The lists of one month must share a currency.
 * - One line per (instance tree, resource, price list) whose list names the resource and whose
 *   quantity is not zero: quantity = Σ millionths / 10^6, amount = quantity × unit price, exact.
 * - One fee line per (instance tree, price list) when that list's fee is not zero: quantity = the UTC
 *   days of the segment during which the tree held at least one partition, amount = fee × days /
 *   days in the month, rounded half-up to 6 places.
 * - Total = Σ amounts rounded half-up to cents. Lines sorted by tree, resource (the fee last), list.
 */
import { createHash } from 'node:crypto';
import { SECONDS_PER_DAY, dayStart, type BillingPeriod } from './billing-period.ts';
import {
  compare,
  decimalOfInteger,
  divideHalfUp,
  formatDecimal,
  multiply,
  negate,
  parseDecimal,
  roundHalfUp,
  sum,
  ZERO,
  type Decimal,
} from './decimal.ts';
import { SlapError } from './errors.ts';
import { MONTHLY_FEE_RESOURCE, QUANTITY_PLACES, type InvoiceLine, type PriceList } from './invoice-types.ts';

/** Places of a prorated fee amount. */
export const FEE_AMOUNT_PLACES = 6;
/** Places of an invoice total. */
export const TOTAL_PLACES = 2;

/** A part of a period, [from, to) in float seconds, priced by one list. */
export interface PriceSegment {
  from: number;
  to: number;
  list: PriceList;
}

/** The usage of one instance tree's resource in one segment (the list's effective day). */
export interface ChargeSum {
  instanceTree: string;
  resource: string;
  effective: string;
  /** Integer millionths of the billed unit. */
  quantityMicro: bigint;
}

/** The days of one segment (the list's effective day) a tree held at least one partition. */
export interface TreeDays {
  instanceTree: string;
  effective: string;
  days: number;
}

/** A tree's hold on one partition, [allocatedAt, releasedAt) in float seconds. */
export interface TreeAllocation {
  instanceTree: string;
  allocatedAt: number;
  /** Null while held. */
  releasedAt: number | null;
}

export interface ComputedInvoice {
  currency: string;
  lines: InvoiceLine[];
  /** Decimal text, 2 places. */
  total: string;
}

/**
 * The segments of `period` and the list pricing each: cut at the effective days inside the month.
 * Throws SLAP_ERR_PRICE_LIST_INVALID when the lists of the month have different currencies.
 */
export function priceSegments(period: BillingPeriod, lists: readonly PriceList[]): PriceSegment[] {
  const sorted = [...lists].sort((a, b) =>
    a.effective < b.effective ? -1 : a.effective > b.effective ? 1 : 0,
  );
  const segments: PriceSegment[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const list = sorted[i] as PriceList;
    const next = sorted[i + 1];
    const from = Math.max(dayStart(list.effective), period.from);
    const to = Math.min(next ? dayStart(next.effective) : Infinity, period.to);
    if (from < to) segments.push({ from, to, list });
  }
  const currencies = new Set(segments.map((segment) => segment.list.currency));
  if (currencies.size > 1)
    throw new SlapError(
      'SLAP_ERR_PRICE_LIST_INVALID',
      `the price lists of ${period.text} have different currencies (${segments
        .map((segment) => `${segment.list.effective}: ${segment.list.currency}`)
        .join(', ')}): an invoice has one currency`,
      { hint: 'change currency on the first day of a month' },
    );
  return segments;
}

/**
 * Per tree and segment, the UTC days of the segment during which the tree held at least one
 * partition (a day counts when a hold overlaps it, however briefly).
 */
export function treeDays(
  period: BillingPeriod,
  segments: readonly PriceSegment[],
  allocations: readonly TreeAllocation[],
): TreeDays[] {
  const held = new Map<string, Uint8Array>();
  for (const allocation of allocations) {
    const { allocatedAt, releasedAt } = allocation;
    let first: number;
    let last: number;
    if (releasedAt === allocatedAt) {
      // An instant hold: the day it happened.
      if (allocatedAt < period.from || allocatedAt >= period.to) continue;
      first = last = Math.floor((allocatedAt - period.from) / SECONDS_PER_DAY);
    } else {
      const from = Math.max(allocatedAt, period.from);
      const to = Math.min(releasedAt ?? Infinity, period.to);
      if (to <= from) continue;
      first = Math.floor((from - period.from) / SECONDS_PER_DAY);
      last = Math.ceil((to - period.from) / SECONDS_PER_DAY) - 1;
    }
    let days = held.get(allocation.instanceTree);
    if (!days) held.set(allocation.instanceTree, (days = new Uint8Array(period.days)));
    days.fill(1, first, Math.min(last, period.days - 1) + 1);
  }
  const result: TreeDays[] = [];
  for (const [instanceTree, days] of held)
    for (const segment of segments) {
      const first = Math.round((segment.from - period.from) / SECONDS_PER_DAY);
      const end = Math.round((segment.to - period.from) / SECONDS_PER_DAY);
      let count = 0;
      for (let day = first; day < end; day++) count += days[day] ?? 0;
      if (count > 0) result.push({ instanceTree, effective: segment.list.effective, days: count });
    }
  return result;
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface PricedLine extends InvoiceLine {
  effective: string;
}

/**
 * A user's invoice for the period: undefined when nothing is to be billed (no line). `segments`
 * are priceSegments' of the period; charges and days of a list no segment uses are ignored.
 */
export function computeInvoice(input: {
  period: BillingPeriod;
  segments: readonly PriceSegment[];
  charges: readonly ChargeSum[];
  days: readonly TreeDays[];
}): ComputedInvoice | undefined {
  const lists = new Map(input.segments.map((segment) => [segment.list.effective, segment.list]));
  const lines: PricedLine[] = [];
  const quantities = new Map<string, ChargeSum>();
  for (const charge of input.charges) {
    const key = JSON.stringify([charge.instanceTree, charge.resource, charge.effective]);
    const seen = quantities.get(key);
    quantities.set(
      key,
      seen ? { ...seen, quantityMicro: seen.quantityMicro + charge.quantityMicro } : charge,
    );
  }
  for (const charge of quantities.values()) {
    const list = lists.get(charge.effective);
    const price =
      list && Object.hasOwn(list.resources, charge.resource) ? list.resources[charge.resource] : undefined;
    if (price === undefined || charge.quantityMicro === 0n) continue;
    const quantity = decimalOfInteger(charge.quantityMicro, QUANTITY_PLACES);
    lines.push({
      instance_tree: charge.instanceTree,
      resource: charge.resource,
      quantity: formatDecimal(quantity),
      unit_price: price,
      amount: formatDecimal(multiply(quantity, parseDecimal(price))),
      effective: charge.effective,
    });
  }
  const daysInMonth = decimalOfInteger(input.period.days);
  for (const held of input.days) {
    const list = lists.get(held.effective);
    if (!list || held.days <= 0) continue;
    const fee = parseDecimal(list.instanceTreeMonthlyFee);
    if (compare(fee, ZERO) === 0) continue;
    lines.push({
      instance_tree: held.instanceTree,
      resource: MONTHLY_FEE_RESOURCE,
      quantity: String(held.days),
      unit_price: list.instanceTreeMonthlyFee,
      amount: formatDecimal(
        divideHalfUp(multiply(fee, decimalOfInteger(held.days)), daysInMonth, FEE_AMOUNT_PLACES),
      ),
      effective: held.effective,
    });
  }
  if (lines.length === 0) return undefined;
  const feeLast = (line: PricedLine): number => (line.resource === MONTHLY_FEE_RESOURCE ? 1 : 0);
  lines.sort(
    (a, b) =>
      byText(a.instance_tree, b.instance_tree) ||
      feeLast(a) - feeLast(b) ||
      byText(a.resource, b.resource) ||
      byText(a.effective, b.effective),
  );
  const currency = (input.segments[0] as PriceSegment).list.currency;
  const invoiceLines: InvoiceLine[] = lines.map((line) => ({
    instance_tree: line.instance_tree,
    resource: line.resource,
    quantity: line.quantity,
    unit_price: line.unit_price,
    amount: line.amount,
  }));
  return { currency, lines: invoiceLines, total: invoiceTotal(invoiceLines) };
}

/** Σ amounts rounded half-up to cents, as text with 2 places. */
export function invoiceTotal(lines: readonly InvoiceLine[]): string {
  const total: Decimal = sum(lines.map((line) => parseDecimal(line.amount)));
  return formatDecimal(roundHalfUp(total, TOTAL_PLACES), TOTAL_PLACES);
}

/** What a credit note cancelling an invoice says: its lines with quantity and amount negated. */
export function creditNoteOf(invoice: { currency: string; lines: readonly InvoiceLine[] }): ComputedInvoice {
  const negated = (text: string): string => formatDecimal(negate(parseDecimal(text)));
  const lines = invoice.lines.map((line) => ({
    ...line,
    quantity: negated(line.quantity),
    amount: negated(line.amount),
  }));
  return { currency: invoice.currency, lines, total: invoiceTotal(lines) };
}

/** The SHA-256 (hex) of what an invoice bills: generating again compares it. */
export function invoiceContentHash(invoice: { currency: string; lines: readonly InvoiceLine[] }): string {
  const lines = invoice.lines.map((line) => [
    line.instance_tree,
    line.resource,
    line.quantity,
    line.unit_price,
    line.amount,
  ]);
  return createHash('sha256')
    .update(JSON.stringify({ currency: invoice.currency, lines }))
    .digest('hex');
}

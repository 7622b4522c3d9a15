/**
 * Price lists (docs/invoicing.md): versioned by their effective day; a list applies from that day
 * until the next list's. Setting a list that would change the prices of a period already invoiced
 * (a new list starting in or before it, or a replacement of a list that priced it) is refused:
 * issued invoices keep the prices they were computed with. Setting the same list again changes
 * nothing.
 */
import { dayStart, billingPeriodAt, nextBillingPeriod } from '../../core/billing-period.ts';
import { SlapError } from '../../core/errors.ts';
import type { PriceList } from '../../core/invoice-types.ts';
import { parsePriceList, priceListDocument } from '../../core/price-list.ts';
import type { PriceListRecord } from '../storage/invoice-repository.ts';
import { audit } from './audit.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';

/** What the invoicing use cases need of the service context. */
export type InvoicingContext = Pick<ServiceContext, 'store' | 'clock' | 'logger' | 'authorize'>;

const MASTER = { kind: 'master' } as const;

/** A stored price list (its normalised document, validated again). */
export function priceListOf(record: PriceListRecord): PriceList {
  return parsePriceList(record.document);
}

/** The periods (YYYY-MM) a list effective `effective` prices, up to the next list's day: [from, to). */
function pricedPeriods(effective: string, next: string | undefined): { from: string; to: string | null } {
  const from = effective.slice(0, 7);
  if (next === undefined) return { from, to: null };
  const lastDay = billingPeriodAt(dayStart(next) - 1);
  return { from, to: nextBillingPeriod(lastDay).text };
}

export interface SetPriceListResult {
  list: PriceList;
  /** `replaced`: a list of that day existed; `unchanged`: the same list was set again. */
  outcome: 'added' | 'replaced' | 'unchanged';
}

/** Validates and stores a price list (the document's text). */
export async function setPriceList(
  context: InvoicingContext,
  input: { caller: Caller; document: string },
): Promise<SetPriceListResult> {
  await context.authorize(input.caller, 'invoice.manage', MASTER);
  const list = parsePriceList(input.document);
  const document = priceListDocument(list);
  const now = context.clock.now();
  const outcome = await context.store.write(async (repository) => {
    const stored = await repository.listPriceLists();
    const same = stored.find((record) => record.effective === list.effective);
    if (same?.document === document) return 'unchanged' as const;
    const next = stored.find((record) => record.effective > list.effective)?.effective;
    const periods = pricedPeriods(list.effective, next);
    const invoiced = await repository.findInvoiceInPeriods(periods);
    if (invoiced)
      throw new SlapError(
        'SLAP_ERR_CONFLICT',
        `the price list effective ${list.effective} would ${same ? 'change' : 'set'} the prices of ${invoiced.period}, already invoiced (${invoiced.reference})`,
        {
          hint: 'issued invoices keep their prices: give the new list an effective day after the last invoiced month',
        },
      );
    await repository.putPriceList({
      effective: list.effective,
      currency: list.currency,
      document,
      loadedAt: now,
    });
    return same ? ('replaced' as const) : ('added' as const);
  });
  if (outcome !== 'unchanged')
    audit(context.logger, 'price_list.set', { effective: list.effective, currency: list.currency, outcome });
  return { list, outcome };
}

/** Every price list, by effective day. */
export async function listPriceLists(
  context: InvoicingContext,
  input: { caller: Caller },
): Promise<PriceList[]> {
  await context.authorize(input.caller, 'invoice.read', MASTER);
  const records = await context.store.read((repository) => repository.listPriceLists());
  return records.map(priceListOf);
}

/**
 * Price lists and invoices in the storage boundary (docs/invoicing.md). A price list is stored as
 * its normalised document (core/price-list.ts), one per effective day; invoices and credit notes
 * are never deleted, their lines kept as JSON with decimal text amounts.
 */
import type { InvoiceKind, InvoiceLine, InvoiceState } from '../../core/invoice-types.ts';

export interface PriceListRecord {
  /** YYYY-MM-DD (UTC). */
  effective: string;
  currency: string;
  /** The normalised document (core/price-list.ts priceListDocument). */
  document: string;
  /** Float seconds. */
  loadedAt: number;
}

export interface InvoiceRecord {
  /** INV-YYYYMM-NNNNNN or CN-YYYYMM-NNNNNN. */
  reference: string;
  kind: InvoiceKind;
  user: string;
  /** YYYY-MM. */
  period: string;
  currency: string;
  lines: InvoiceLine[];
  /** Decimal text, 2 places. */
  total: string;
  contentHash: string;
  state: InvoiceState;
  corrects: string | null;
  /** Float seconds. */
  issuedAt: number;
  paidAt: number | null;
  /** What the regularisation policy did: null, 'stopped' or 'destroyed'. */
  regularisation: string | null;
}

export interface InvoiceFilter {
  user?: string | undefined;
  /** YYYY-MM. */
  period?: string | undefined;
  state?: InvoiceState | undefined;
  kind?: InvoiceKind | undefined;
}

export interface InvoiceRepository {
  // price lists
  /** Stores the list of its effective day, replacing the one of that day if any. */
  putPriceList(record: PriceListRecord): Promise<void>;
  /** Every list, by effective day. */
  listPriceLists(): Promise<PriceListRecord[]>;
  /** The list with the latest effective day on or before `day` (YYYY-MM-DD). */
  getPriceListEffectiveAt(day: string): Promise<PriceListRecord | undefined>;

  // invoices and credit notes
  /** Throws SLAP_ERR_CONFLICT for a reference already stored. */
  insertInvoice(record: InvoiceRecord): Promise<void>;
  getInvoice(reference: string): Promise<InvoiceRecord | undefined>;
  /** By period, then reference. */
  listInvoices(filter: InvoiceFilter): Promise<InvoiceRecord[]>;
  /** The first invoice (not credit note) of a period in [from, to) (YYYY-MM; `to` open when null). */
  findInvoiceInPeriods(range: { from: string; to: string | null }): Promise<InvoiceRecord | undefined>;
  /** The number the next invoice (or credit note) of that kind and period gets: 1, 2… */
  nextInvoiceSequence(key: { kind: InvoiceKind; period: string }): Promise<number>;
  /** False when there is no such invoice. */
  setInvoiceState(
    reference: string,
    change: { state: InvoiceState; paidAt?: number | null },
  ): Promise<boolean>;
  setInvoiceRegularisation(reference: string, regularisation: string | null): Promise<boolean>;
}

/**
 * The shapes of price lists and invoices shared by the master, the CLI and the verifier
 * (docs/invoicing.md). Money, prices and quantities cross every boundary as decimal text
 * (core/decimal.ts), never as floating-point numbers.
 */

/** Billed quantities are stored in integer millionths of the priced unit. */
export const QUANTITY_PLACES = 6;

/** Reported as MB held; billed in MB-hours (quantity × hours of the interval). */
export const INTEGRATED_RESOURCES: ReadonlySet<string> = new Set([
  'service_module/memory_used',
  'service_module/disk_used',
]);

/** The name of the fee line of an instance tree. */
export const MONTHLY_FEE_RESOURCE = 'instance_tree_monthly_fee';

/** A price list as `slapos master prices set FILE` loads it (prices as decimal text once parsed). */
export interface PriceList {
  currency: string;
  /** YYYY-MM-DD: applies from this UTC day on. */
  effective: string;
  /** Price per billed unit (second, MB-hour, or the unit reported) by resource. */
  resources: Record<string, string>;
  /** Per instance tree and month, prorated by the days the tree existed in the month. */
  instanceTreeMonthlyFee: string;
}

export interface InvoiceLine {
  instance_tree: string;
  /** A resource, or MONTHLY_FEE_RESOURCE. */
  resource: string;
  /** Decimal text: billed units (for the fee line: days the tree existed in the month). */
  quantity: string;
  /** Decimal text (for the fee line: the monthly fee). */
  unit_price: string;
  /** Decimal text, exact (the fee line rounded half-up to 6 places). */
  amount: string;
}

export type InvoiceKind = 'invoice' | 'credit_note';
export type InvoiceState = 'issued' | 'paid' | 'cancelled';

/** An invoice or credit note as the CLI prints it (`--json`) and the API returns it. */
export interface InvoiceDocument {
  id: string;
  kind: InvoiceKind;
  user: string;
  /** YYYY-MM. */
  period: string;
  currency: string;
  lines: InvoiceLine[];
  /** Decimal text rounded to cents, half-up (negative for a credit note). */
  total: string;
  state: InvoiceState;
  /** Credit note: the invoice it cancels; corrected invoice: the one it replaces; else null. */
  corrects: string | null;
  /** ISO 8601. */
  issued_at: string;
  paid_at: string | null;
}

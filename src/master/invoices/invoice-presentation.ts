/**
 * What an invoice says to a person, whatever renders it (HTML, PDF, the terminal): its heading,
 * the unit of each resource, the facts above its lines. Values from the document (titles, resource
 * names, users) are outside text: renderers show them through `oneLine` (src/core/printable-text.ts)
 * so that no line terminator or control character changes the shape of what they print.
 */
import type { InvoiceDocument, InvoiceLine } from '../../core/invoice-types.ts';
import { INTEGRATED_RESOURCES, MONTHLY_FEE_RESOURCE } from '../../core/invoice-types.ts';
import { oneLine } from '../../core/printable-text.ts';

/** "Invoice INV-202601-000001" or "Credit note CN-202601-000001". */
export function invoiceHeading(invoice: Pick<InvoiceDocument, 'kind' | 'id'>): string {
  return `${invoice.kind === 'credit_note' ? 'Credit note' : 'Invoice'} ${oneLine(invoice.id)}`;
}

/** The unit a line's quantity is counted in ('' for a resource billed in the unit its node reports). */
export function quantityUnit(resource: string): string {
  if (resource === MONTHLY_FEE_RESOURCE) return 'days';
  if (resource === 'service_module/cpu_time') return 's';
  if (INTEGRATED_RESOURCES.has(resource)) return 'MB·h';
  return '';
}

/** The resource column of a line: its name, the fee line in words. */
export function resourceLabel(resource: string): string {
  return resource === MONTHLY_FEE_RESOURCE ? 'Monthly fee' : oneLine(resource);
}

/** The quantity column of a line: the exact quantity and its unit. */
export function quantityText(line: Pick<InvoiceLine, 'quantity' | 'resource'>): string {
  const unit = quantityUnit(line.resource);
  return unit === '' ? oneLine(line.quantity) : `${oneLine(line.quantity)} ${unit}`;
}

export interface InvoiceFact {
  label: string;
  value: string;
  /** The fact names another invoice (the one corrected): its id, for a link. */
  invoiceId?: string;
}

const ISO_UTC = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$/;

/** An ISO 8601 UTC instant as shown on a document, `2026-02-01 00:00:00 UTC`; anything else as it is. */
export function documentTime(iso: string): string {
  const match = ISO_UTC.exec(iso);
  return match ? `${match[1]} ${match[2]} UTC` : oneLine(iso);
}

/** The facts shown above the lines, in order. */
export function invoiceFacts(invoice: InvoiceDocument): InvoiceFact[] {
  const facts: InvoiceFact[] = [
    { label: 'User', value: oneLine(invoice.user) },
    { label: 'Period', value: oneLine(invoice.period) },
    { label: 'Issued', value: documentTime(invoice.issued_at) },
    { label: 'State', value: oneLine(invoice.state) },
  ];
  if (invoice.paid_at !== null) facts.push({ label: 'Paid', value: documentTime(invoice.paid_at) });
  if (invoice.corrects !== null)
    facts.push({
      label: invoice.kind === 'credit_note' ? 'Cancels' : 'Replaces',
      value: oneLine(invoice.corrects),
      invoiceId: invoice.corrects,
    });
  facts.push({ label: 'Currency', value: oneLine(invoice.currency) });
  return facts;
}

/** The total as shown: `12.34 EUR`. */
export function totalText(invoice: Pick<InvoiceDocument, 'total' | 'currency'>): string {
  return `${oneLine(invoice.total)} ${oneLine(invoice.currency)}`;
}

/**
 * An invoice as HTML: the facts and lines fragments the panel's invoice page shows in its layout,
 * and a standalone, printable document (`slapos invoice show ID --html FILE`) with its own style
 * and no script. Built with the panel's escaping templates (panel/html.ts): no value of the
 * document can change the structure of the markup.
 */
import { oneLine } from '../../core/printable-text.ts';
import type { InvoiceDocument, InvoiceLine } from '../../core/invoice-types.ts';
import { html, trustedHtml, type Html } from '../panel/html.ts';
import {
  invoiceFacts,
  invoiceHeading,
  quantityText,
  resourceLabel,
  totalText,
} from './invoice-presentation.ts';

export interface InvoiceHtmlOptions {
  /** Where an instance tree's title links to (the panel's tree page); no link when it gives undefined. */
  treeHref?: (title: string) => string | undefined;
  /** Where an invoice id (the one corrected) links to; no link when it gives undefined. */
  invoiceHref?: (id: string) => string | undefined;
}

/** The facts above the lines (user, period, issue date, state…) as a description list. */
export function invoiceFactsHtml(invoice: InvoiceDocument, options: InvoiceHtmlOptions = {}): Html {
  return html`<dl class="properties invoice-facts">
    ${invoiceFacts(invoice).map((fact) => {
      const href = fact.invoiceId === undefined ? undefined : options.invoiceHref?.(fact.invoiceId);
      const value = href === undefined ? fact.value : html`<a href="${href}">${fact.value}</a>`;
      return html`<dt>${fact.label}</dt>
        <dd>${value}</dd>`;
    })}
  </dl>`;
}

function lineRow(line: InvoiceLine, options: InvoiceHtmlOptions): Html {
  const title = oneLine(line.instance_tree);
  const href = options.treeHref?.(line.instance_tree);
  return html`<tr>
    <th scope="row">${href === undefined ? title : html`<a href="${href}">${title}</a>`}</th>
    <td><code>${resourceLabel(line.resource)}</code></td>
    <td class="number">${quantityText(line)}</td>
    <td class="number">${oneLine(line.unit_price)}</td>
    <td class="number">${oneLine(line.amount)}</td>
  </tr>`;
}

/** The lines and the total as a table. */
export function invoiceLinesHtml(invoice: InvoiceDocument, options: InvoiceHtmlOptions = {}): Html {
  // Focusable: a keyboard can scroll the table on a narrow screen (axe: scrollable-region-focusable).
  return html`<div class="table-scroll" tabindex="0" role="region" aria-label="Invoice lines">
    <table class="invoice-lines">
      <caption>
        Lines, amounts in ${oneLine(invoice.currency)}
      </caption>
      <thead>
        <tr>
          <th scope="col">Instance tree</th>
          <th scope="col">Resource</th>
          <th scope="col" class="number">Quantity</th>
          <th scope="col" class="number">Unit price</th>
          <th scope="col" class="number">Amount</th>
        </tr>
      </thead>
      <tbody>
        ${
          invoice.lines.length === 0
            ? html`<tr>
                <td colspan="5">Nothing billed.</td>
              </tr>`
            : invoice.lines.map((line) => lineRow(line, options))
        }
      </tbody>
      <tfoot>
        <tr>
          <th scope="row" colspan="4">Total</th>
          <td class="number"><strong>${totalText(invoice)}</strong></td>
        </tr>
      </tfoot>
    </table>
  </div>`;
}

// Constant style of the standalone document (printable: black on white, no external resource).
const DOCUMENT_STYLE = trustedHtml(`<style>
  body { font-family: system-ui, sans-serif; color: #000; background: #fff; margin: 2rem; }
  h1 { font-size: 1.5rem; margin: 0 0 1rem; overflow-wrap: anywhere; }
  dl.properties { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0 0 1.5rem; }
  dl.properties dt { font-weight: 600; }
  dl.properties dd { margin: 0; overflow-wrap: anywhere; }
  .table-scroll { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; }
  caption { text-align: left; padding: 0.25rem 0; color: #444; }
  th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #999; vertical-align: top; overflow-wrap: anywhere; }
  .number { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  tfoot th, tfoot td { border-top: 2px solid #000; border-bottom: none; }
  @media print { body { margin: 0; } }
</style>`);

/** A standalone HTML document of the invoice (UTF-8, its own style, no script, no external resource). */
export function renderInvoiceHtml(invoice: InvoiceDocument): string {
  const heading = invoiceHeading(invoice);
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${heading} · SlapOS</title>
        ${DOCUMENT_STYLE}
      </head>
      <body>
        <main>
          <h1>${heading}</h1>
          ${invoiceFactsHtml(invoice)} ${invoiceLinesHtml(invoice)}
        </main>
      </body>
    </html>`.markup;
}

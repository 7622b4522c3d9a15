/**
 * The invoices pages: `/panel/invoices` lists the caller's invoices and credit notes (an admin's:
 * everyone's), `/panel/invoices/:id` shows one with its lines (each instance tree linking to its
 * page, where its usage graphs are), `/panel/invoices/:id.pdf` is its PDF. Another user's invoice
 * is not found, as an unknown one (the services decide, as for the API).
 */
import type { InvoiceDocument } from '../../../core/invoice-types.ts';
import { invoiceHeading, totalText } from '../../invoices/invoice-presentation.ts';
import { invoiceFactsHtml, invoiceLinesHtml } from '../../invoices/render-html.ts';
import { html, type Html } from '../html.ts';
import {
  file,
  page,
  pathSegment,
  type PanelAnswer,
  type PanelRequest,
  type PanelRoutes,
} from '../panel-routes.ts';
import { treePath } from './instance-tree.ts';

const PDF_SUFFIX = '.pdf';

export function register(routes: PanelRoutes): void {
  routes.get('/invoices', invoiceList);
  // One route: an invoice id never holds a dot, so `ID.pdf` is its PDF.
  routes.get('/invoices/:id', (request) => {
    const id = request.params.id ?? '';
    return id.endsWith(PDF_SUFFIX)
      ? invoicePdf(request, id.slice(0, -PDF_SUFFIX.length))
      : invoicePage(request, id);
  });
}

function invoicePath(id: string): string {
  return `/panel/invoices/${pathSegment(id)}`;
}

/** A tree's page, unless its title cannot be a URL (no link then). */
function treeHref(title: string): string | undefined {
  try {
    return treePath(title);
  } catch {
    return undefined;
  }
}

async function invoiceList({ caller, services }: PanelRequest): Promise<PanelAnswer> {
  const invoices = await services.listInvoices({ caller });
  const everyone = caller.kind === 'local' || (caller.kind === 'user' && caller.admin);
  const body =
    invoices.length === 0
      ? html`<p class="muted">No invoices yet.</p>`
      : html`<div class="table-scroll">
          <table>
            <caption class="muted">
              ${invoices.length === 1 ? '1 invoice' : `${invoices.length} invoices and credit notes`}
            </caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Kind</th>
                <th scope="col">Period</th>
                ${everyone ? html`<th scope="col">User</th>` : ''}
                <th scope="col">State</th>
                <th scope="col" class="number">Total</th>
              </tr>
            </thead>
            <tbody>
              ${invoices.map((invoice) => invoiceRow(invoice, everyone))}
            </tbody>
          </table>
        </div>`;
  return page('Invoices', 'invoices', body);
}

function invoiceRow(invoice: InvoiceDocument, everyone: boolean): Html {
  return html`<tr>
    <th scope="row"><a href="${invoicePath(invoice.id)}">${invoice.id}</a></th>
    <td>${invoice.kind === 'credit_note' ? 'Credit note' : 'Invoice'}</td>
    <td>${invoice.period}</td>
    ${everyone ? html`<td>${invoice.user}</td>` : ''}
    <td>${invoice.state}</td>
    <td class="number">${totalText(invoice)}</td>
  </tr>`;
}

async function invoicePage({ caller, services }: PanelRequest, id: string): Promise<PanelAnswer> {
  const invoice = await services.getInvoice({ caller, reference: id });
  const body = html`<p>
      <a href="${invoicePath(invoice.id)}${PDF_SUFFIX}">Download as PDF</a> ·
      <a href="/panel/invoices">All invoices</a>
    </p>
    ${invoiceFactsHtml(invoice, { invoiceHref: invoicePath })}
    <section aria-labelledby="lines-heading">
      <h2 id="lines-heading">Lines</h2>
      <p class="muted">Each instance tree's page shows its usage graphs.</p>
      ${invoiceLinesHtml(invoice, { treeHref })}
    </section>`;
  return page(invoiceHeading(invoice), 'invoices', body);
}

async function invoicePdf({ caller, services }: PanelRequest, id: string): Promise<PanelAnswer> {
  const invoice = await services.getInvoice({ caller, reference: id });
  // pdfkit is loaded with the first PDF asked for, not when the master starts.
  const { renderInvoicePdf } = await import('../../invoices/render-pdf.ts');
  return file(await renderInvoicePdf(invoice), 'application/pdf', `${invoice.id}${PDF_SUFFIX}`);
}

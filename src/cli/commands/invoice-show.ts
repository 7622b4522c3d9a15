/**
 * `slapos invoice show ID`: an invoice or credit note with its lines and total; `--html FILE` and
 * `--pdf FILE` write it as a document. The documents are rendered here, from the JSON the master
 * answers (src/master/invoices): the CLI needs no other route, and the file is what the panel
 * serves for the same invoice.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Invoice } from '../../client/types.ts';
import { SlapError } from '../../core/errors.ts';
import {
  invoiceFacts,
  invoiceHeading,
  quantityText,
  resourceLabel,
  totalText,
} from '../../master/invoices/invoice-presentation.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { oneLine, renderTable } from '../text-block.ts';

interface InvoiceShowOptions extends ClientCommandOptions {
  html?: string;
  pdf?: string;
}

export function registerInvoiceShow(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'invoice')
    .command('show')
    .description('show an invoice or credit note with its lines; write it as HTML or PDF')
    .argument('<id>', 'the invoice id (INV-YYYYMM-NNNNNN or CN-YYYYMM-NNNNNN, see `slapos invoice list`)')
    .option('--html <file>', 'write the invoice as a standalone HTML document to this file')
    .option('--pdf <file>', 'write the invoice as a PDF document to this file');
  addClientOptions(command).action((id: string, options: InvoiceShowOptions) =>
    showInvoice(ctx, id, options),
  );
}

async function showInvoice(ctx: CliContext, id: string, options: InvoiceShowOptions): Promise<void> {
  const invoice = await withMasterClient(ctx, options, (client) => client.getInvoice(id));
  const written: string[] = [];
  if (options.html !== undefined) {
    const { renderInvoiceHtml } = await import('../../master/invoices/render-html.ts');
    written.push(await writeDocument(ctx, options.html, renderInvoiceHtml(invoice)));
  }
  if (options.pdf !== undefined) {
    const { renderInvoicePdf } = await import('../../master/invoices/render-pdf.ts');
    written.push(await writeDocument(ctx, options.pdf, await renderInvoicePdf(invoice)));
  }
  if (options.json) ctx.printJson(invoice);
  else ctx.print(invoiceText(invoice).join('\n'));
  for (const path of written) ctx.note(`wrote ${path}`);
}

/** Writes a document (0600: an invoice is personal) and returns its absolute path. */
async function writeDocument(ctx: CliContext, file: string, content: string | Buffer): Promise<string> {
  const path = resolve(ctx.cwd, file);
  try {
    await writeFileAtomic(path, content, { mode: 0o600 });
  } catch (error) {
    throw new SlapError('SLAP_ERR_USAGE', `cannot write ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return path;
}

/** The invoice as terminal text: heading, facts, a table of the lines, the total. */
export function invoiceText(invoice: Invoice): string[] {
  const facts = invoiceFacts(invoice);
  const width = Math.max(...facts.map((fact) => fact.label.length));
  return [
    invoiceHeading(invoice),
    ...facts.map((fact) => `  ${fact.label.padEnd(width)}  ${fact.value}`),
    `Lines (amounts in ${oneLine(invoice.currency)}):`,
    ...(invoice.lines.length === 0
      ? ['  Nothing billed.']
      : renderTable(
          ['INSTANCE TREE', 'RESOURCE', 'QUANTITY', 'UNIT PRICE', 'AMOUNT'],
          invoice.lines.map((line) => [
            line.instance_tree,
            resourceLabel(line.resource),
            quantityText(line),
            line.unit_price,
            oneLine(line.amount),
          ]),
          { indent: '  ' },
        )),
    `Total: ${totalText(invoice)}`,
  ];
}

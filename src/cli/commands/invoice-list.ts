/** `slapos invoice list`: the caller's invoices and credit notes (an admin's: everyone's). */
import { Option, type Command } from 'commander';
import type { Invoice, InvoiceFilter } from '../../client/types.ts';
import { totalText } from '../../master/invoices/invoice-presentation.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { oneLine, renderTable } from '../text-block.ts';

interface InvoiceListOptions extends ClientCommandOptions {
  period?: string;
  state?: NonNullable<InvoiceFilter['state']>;
}

export function registerInvoiceList(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'invoice')
    .command('list')
    .description('list your invoices and credit notes (by period, in the order they were issued)')
    .option('--period <YYYY-MM>', 'only those of this UTC month')
    .addOption(
      new Option('--state <state>', 'only those in this state').choices(['issued', 'paid', 'cancelled']),
    );
  addClientOptions(command).action((options: InvoiceListOptions) => listInvoices(ctx, options));
}

async function listInvoices(ctx: CliContext, options: InvoiceListOptions): Promise<void> {
  const filter: InvoiceFilter = {
    ...(options.period !== undefined ? { period: options.period } : {}),
    ...(options.state !== undefined ? { state: options.state } : {}),
  };
  const invoices = await withMasterClient(ctx, options, (client) => client.listInvoices(filter));
  if (options.json) {
    ctx.printJson({ invoices });
    return;
  }
  if (invoices.length === 0) {
    ctx.print('No invoices.');
    return;
  }
  ctx.print(invoiceTable(invoices).join('\n'));
}

/** One row per invoice: id, kind, period, user, state, total with its currency. */
export function invoiceTable(invoices: readonly Invoice[]): string[] {
  return renderTable(
    ['ID', 'KIND', 'PERIOD', 'USER', 'STATE', 'TOTAL'],
    invoices.map((invoice) => [
      invoice.id,
      invoice.kind === 'credit_note' ? 'credit note' : 'invoice',
      invoice.period,
      invoice.user,
      invoice.state,
      oneLine(totalText(invoice)),
    ]),
  );
}

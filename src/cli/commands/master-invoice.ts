/**
 * `slapos master prices set|list` and `slapos master invoice generate|list|paid`: price lists and
 * invoices of a master, on its directory (works while the master runs), as its operator
 * (docs/invoicing.md).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import type { InvoiceDocument, PriceList } from '../../core/invoice-types.ts';
import { MAX_PRICE_LIST_LENGTH } from '../../core/price-list.ts';
import type { InvoiceAdmin } from '../../master/invoice-admin.ts';
import type { CliContext } from '../context.ts';
import { commandGroup, subcommandGroup } from '../group.ts';
import {
  addMasterAdminOptions,
  withMasterDirectory,
  type MasterAdminFlags,
} from '../master-admin-options.ts';
import { oneLine } from '../text-block.ts';

function withInvoiceAdmin<T>(
  ctx: CliContext,
  flags: MasterAdminFlags,
  action: (admin: InvoiceAdmin) => Promise<T>,
): Promise<T> {
  return withMasterDirectory(
    ctx,
    flags,
    async (options) => (await import('../../master/invoice-admin.ts')).openInvoiceAdmin(options),
    action,
  );
}

/** The price list file's text: UTF-8, bounded. */
async function readPriceListFile(ctx: CliContext, file: string): Promise<string> {
  const path = resolve(ctx.cwd, file);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new SlapError('SLAP_ERR_USAGE', `cannot read the price list ${path}: ${(error as Error).message}`);
  }
  if (bytes.length > MAX_PRICE_LIST_LENGTH * 4)
    throw new SlapError('SLAP_ERR_PRICE_LIST_INVALID', `invalid price list: ${path} is too large`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SlapError('SLAP_ERR_PRICE_LIST_INVALID', `invalid price list: ${path} is not UTF-8 text`);
  }
}

/** A price list in the file format (what `prices set` reads). */
function priceListJson(list: PriceList): Record<string, unknown> {
  return {
    currency: list.currency,
    effective: list.effective,
    resources: { ...list.resources },
    instance_tree_monthly_fee: list.instanceTreeMonthlyFee,
  };
}

function invoiceRow(invoice: InvoiceDocument): string {
  const corrects = invoice.corrects === null ? '' : ` corrects ${invoice.corrects}`;
  return `${invoice.id} ${JSON.stringify(invoice.user)} ${invoice.period} ${invoice.total} ${invoice.currency} ${invoice.state}${corrects}`;
}

function printInvoices(ctx: CliContext, invoices: InvoiceDocument[], json: boolean | undefined): void {
  if (json) ctx.printJson({ invoices });
  else ctx.print(invoices.length === 0 ? 'No invoice.' : invoices.map(invoiceRow).join('\n'));
}

export function registerMasterInvoice(program: Command, ctx: CliContext): void {
  const master = commandGroup(program, 'master');
  const prices = subcommandGroup(master, 'prices', 'the price lists of a master (what invoices bill)');
  const invoices = subcommandGroup(
    master,
    'invoice',
    'the invoices of a master: generate, list, record payments',
  );

  addMasterAdminOptions(
    prices
      .command('set')
      .description(
        'load a price list (JSON: currency, effective YYYY-MM-DD, resources, instance_tree_monthly_fee); it applies from its effective day',
      )
      .argument('<file>', 'the price list file'),
  ).action(async (file: string, options: MasterAdminFlags) => {
    const document = await readPriceListFile(ctx, file);
    const { list, outcome } = await withInvoiceAdmin(ctx, options, (admin) => admin.setPriceList(document));
    if (options.json) ctx.printJson({ ...priceListJson(list), outcome });
    else ctx.print(`price list effective ${list.effective} (${list.currency}) ${outcome}`);
  });

  addMasterAdminOptions(prices.command('list').description('list the price lists, oldest first')).action(
    async (options: MasterAdminFlags) => {
      const lists = await withInvoiceAdmin(ctx, options, (admin) => admin.listPriceLists());
      if (options.json) ctx.printJson(lists.map(priceListJson));
      else if (lists.length === 0) ctx.print('No price list.');
      else
        ctx.print(
          lists
            .map((list) =>
              [
                `${list.effective} ${list.currency} instance_tree_monthly_fee ${list.instanceTreeMonthlyFee}`,
                ...Object.entries(list.resources).map(
                  ([resource, price]) => `  ${JSON.stringify(resource)} ${price}`,
                ),
              ].join('\n'),
            )
            .join('\n'),
        );
    },
  );

  addMasterAdminOptions(
    invoices
      .command('generate')
      .description(
        "compute every user's invoice for a past month; again, it changes nothing unless usage changed (then a credit note cancels the invoice and a corrected one is issued)",
      )
      .requiredOption('--period <YYYY-MM>', 'the month (UTC), e.g. 2026-01'),
  ).action(async (options: MasterAdminFlags & { period: string }) => {
    const result = await withInvoiceAdmin(ctx, options, (admin) => admin.generateInvoices(options.period));
    printInvoices(ctx, result.invoices, options.json);
    if (!options.json)
      ctx.note(
        `${result.period}: ${result.issued.length} issued, ${result.cancelled.length} cancelled, ${result.unchanged.length} unchanged`,
      );
  });

  addMasterAdminOptions(
    invoices
      .command('list')
      .description('list invoices and credit notes')
      .option('--user <user>', "only this user's")
      .option('--period <YYYY-MM>', "only this month's")
      .option('--state <state>', 'only those in this state: issued, paid or cancelled'),
  ).action(async (options: MasterAdminFlags & { user?: string; period?: string; state?: string }) => {
    const list = await withInvoiceAdmin(ctx, options, (admin) =>
      admin.listInvoices({ user: options.user, period: options.period, state: options.state }),
    );
    printInvoices(ctx, list, options.json);
  });

  addMasterAdminOptions(
    invoices
      .command('paid')
      .description('record the payment of an invoice')
      .argument('<id>', 'the invoice, e.g. INV-202601-000001'),
  ).action(async (id: string, options: MasterAdminFlags) => {
    const { invoice, restarted } = await withInvoiceAdmin(ctx, options, (admin) => admin.markInvoicePaid(id));
    if (options.json) ctx.printJson(invoice);
    else ctx.print(`${invoice.id} paid (${invoice.paid_at ?? ''})`);
    for (const action of restarted)
      ctx.note(
        action.error === undefined
          ? `instance tree ${oneLine(action.instanceTree)} of ${oneLine(action.user)} restarted (stopped by the regularisation)`
          : `instance tree ${oneLine(action.instanceTree)} of ${oneLine(action.user)} not restarted: ${oneLine(action.error)}`,
      );
    if (restarted.some((action) => action.error !== undefined)) ctx.exitCode = 1;
  });
}

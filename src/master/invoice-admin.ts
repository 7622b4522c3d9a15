/**
 * Invoicing's administration on a master directory (`slapos master prices …`, `slapos master
 * invoice …`): like master-admin.ts, it opens the directory's database directly, so it works
 * whether the master runs or not, and acts as the master's operator (every invoice, every user).
 * The use cases are the services' (services/price-lists.ts, services/invoices.ts), audited there.
 */
import { systemClock } from '../core/clock.ts';
import type { InvoiceDocument, PriceList } from '../core/invoice-types.ts';
import { silentLogger } from '../lib/logger.ts';
import { adminServiceContext } from './admin-service-context.ts';
import { openMasterDirectoryStore, type MasterAdminOptions } from './master-admin.ts';
import { restartAfterPayment, type RegularisationAction } from './services/regularisation.ts';
import { LOCAL_CALLER, proxyModeAuthorizer } from './services/caller.ts';
import {
  generateInvoices,
  listInvoices,
  markInvoicePaid,
  type GenerationResult,
  type InvoiceListInput,
} from './services/invoices.ts';
import {
  listPriceLists,
  setPriceList,
  type InvoicingContext,
  type SetPriceListResult,
} from './services/price-lists.ts';

export interface InvoiceAdmin {
  setPriceList(document: string): Promise<SetPriceListResult>;
  listPriceLists(): Promise<PriceList[]>;
  generateInvoices(period: string): Promise<GenerationResult>;
  listInvoices(filter: Omit<InvoiceListInput, 'caller'>): Promise<InvoiceDocument[]>;
  /**
   * Records a payment, then restarts the instance trees the regularisation policy stopped for its
   * user (services/regularisation.ts), unless another unpaid invoice it acted on holds them.
   */
  markInvoicePaid(
    reference: string,
  ): Promise<{ invoice: InvoiceDocument; restarted: RegularisationAction[] }>;
  close(): Promise<void>;
}

export async function openInvoiceAdmin(options: MasterAdminOptions): Promise<InvoiceAdmin> {
  const logger = options.logger ?? silentLogger();
  const store = await openMasterDirectoryStore({ dir: options.dir, database: options.database, logger });
  // The operator on the directory is the local caller: allowed everything, as in proxy mode.
  const context: InvoicingContext = {
    store,
    clock: options.clock ?? systemClock,
    logger,
    authorize: (caller, action, target) => proxyModeAuthorizer.authorize(caller, action, target),
  };
  const caller = LOCAL_CALLER;
  return {
    setPriceList: (document) => setPriceList(context, { caller, document }),
    listPriceLists: () => listPriceLists(context, { caller }),
    generateInvoices: (period) => generateInvoices(context, { caller, period }),
    listInvoices: (filter) => listInvoices(context, { ...filter, caller }),
    async markInvoicePaid(reference) {
      const invoice = await markInvoicePaid(context, { caller, reference });
      const services = adminServiceContext(store, { clock: context.clock, logger });
      try {
        return { invoice, restarted: await restartAfterPayment(services.context, { user: invoice.user }) };
      } finally {
        await services.close();
      }
    },
    close: () => store.close(),
  };
}

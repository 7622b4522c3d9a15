/**
 * Invoices stored as they are, for tests of what reads invoices (the regularisation policy)
 * without generating them from usage: the engine's own tests cover that.
 */
import type { InvoiceKind, InvoiceState } from '../core/invoice-types.ts';
import type { MasterStore } from '../master/storage/repository.ts';

export interface TestInvoiceRow {
  reference: string;
  user: string;
  /** Decimal text. */
  total: string;
  issuedAt: number;
  kind?: InvoiceKind;
  state?: InvoiceState;
  corrects?: string | null;
}

export async function insertTestInvoices(store: MasterStore, rows: readonly TestInvoiceRow[]): Promise<void> {
  await store.write(async (repository) => {
    for (const row of rows)
      await repository.insertInvoice({
        reference: row.reference,
        kind: row.kind ?? 'invoice',
        user: row.user,
        period: '2026-01',
        currency: 'EUR',
        lines: [],
        total: row.total,
        contentHash: `hash-${row.reference}`,
        state: row.state ?? 'issued',
        corrects: row.corrects ?? null,
        issuedAt: row.issuedAt,
        paidAt: null,
        regularisation: null,
      });
  });
}

/** Sets an invoice's state as paying or cancelling it would. */
export async function setTestInvoiceState(
  store: MasterStore,
  reference: string,
  state: InvoiceState,
): Promise<void> {
  await store.write((repository) => repository.setInvoiceState(reference, { state }));
}

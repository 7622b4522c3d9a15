/**
 * Invoices stored as they are for tests of what users see (API, CLI, panel): the generation is the
 * engine's (services/invoices.ts) and tested there; these tests need invoices of known content,
 * hostile values included, written through the storage boundary on the master's own database.
 */
import { join } from 'node:path';
import type { InvoiceLine } from '../core/invoice-types.ts';
import { MASTER_DATABASE_FILE } from '../master/master-mode.ts';
import type { InvoiceRecord } from '../master/storage/invoice-repository.ts';
import type { DatabaseLocation } from '../master/storage/database-location.ts';
import { openMasterStore } from '../master/storage/open-store.ts';

export const SAMPLE_LINES: readonly InvoiceLine[] = [
  {
    instance_tree: 'blog',
    resource: 'service_module/cpu_time',
    quantity: '3600',
    unit_price: '0.0001',
    amount: '0.3600',
  },
  {
    instance_tree: 'blog',
    resource: 'service_module/memory_used',
    quantity: '744000',
    unit_price: '0.001',
    amount: '744.000',
  },
];

/** An issued invoice of alice for 2026-01 (override what a test needs). */
export function invoiceRecord(overrides: Partial<InvoiceRecord> = {}): InvoiceRecord {
  return {
    reference: 'INV-202601-000001',
    kind: 'invoice',
    user: 'alice',
    period: '2026-01',
    currency: 'EUR',
    lines: [...SAMPLE_LINES],
    total: '744.36',
    contentHash: 'test',
    state: 'issued',
    corrects: null,
    issuedAt: Date.UTC(2026, 1, 1, 0, 5) / 1000,
    paidAt: null,
    regularisation: null,
    ...overrides,
  };
}

/** The database of the master-mode directory `dir`. */
export function masterModeDatabase(dir: string): DatabaseLocation {
  return { kind: 'sqlite', path: join(dir, MASTER_DATABASE_FILE) };
}

/** Stores invoices in a running master's database (its own connection, one transaction). */
export async function seedInvoices(
  database: DatabaseLocation,
  records: readonly InvoiceRecord[],
): Promise<void> {
  const store = await openMasterStore(database, { backgroundCheckpointAfter: Infinity });
  try {
    await store.write(async (repository) => {
      for (const record of records) await repository.insertInvoice(record);
    });
  } finally {
    await store.close();
  }
}

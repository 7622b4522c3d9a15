/**
 * Invoice rows written straight into a test database, for tests of what reads invoices (the
 * regularisation policy) without generating them from usage: the engine's own tests cover that.
 */
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { InvoiceKind, InvoiceState } from '../core/invoice-types.ts';
import type { DatabaseLocation } from '../master/storage/database-location.ts';
import { pgClientConfig } from '../master/storage/postgres/connection.ts';

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

const COLUMNS =
  '(reference, kind, "user", period, currency, lines, total, content_hash, state, corrects, issued_at)';

function valuesOf(row: TestInvoiceRow): unknown[] {
  return [
    row.reference,
    row.kind ?? 'invoice',
    row.user,
    '2026-01',
    'EUR',
    '[]',
    row.total,
    `hash-${row.reference}`,
    row.state ?? 'issued',
    row.corrects ?? null,
    row.issuedAt,
  ];
}

export async function insertTestInvoices(
  location: DatabaseLocation,
  rows: readonly TestInvoiceRow[],
): Promise<void> {
  if (location.kind === 'sqlite') {
    const db = new BetterSqlite3(location.path);
    try {
      const insert = db.prepare(`INSERT INTO invoice ${COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const row of rows) insert.run(...valuesOf(row));
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client(pgClientConfig(location.uri, { applicationName: 'slapos-tests' }));
  await client.connect();
  try {
    for (const row of rows)
      await client.query(
        `INSERT INTO invoice ${COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        valuesOf(row),
      );
  } finally {
    await client.end();
  }
}

/** Sets invoices' state as paying or cancelling them would. */
export async function setTestInvoiceState(
  location: DatabaseLocation,
  reference: string,
  state: InvoiceState,
): Promise<void> {
  if (location.kind === 'sqlite') {
    const db = new BetterSqlite3(location.path);
    try {
      db.prepare('UPDATE invoice SET state = ? WHERE reference = ?').run(state, reference);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client(pgClientConfig(location.uri, { applicationName: 'slapos-tests' }));
  await client.connect();
  try {
    await client.query('UPDATE invoice SET state = $1 WHERE reference = $2', [state, reference]);
  } finally {
    await client.end();
  }
}

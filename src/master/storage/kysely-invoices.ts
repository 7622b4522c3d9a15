/**
 * The InvoiceRepository (invoice-repository.ts) written once for every SQL store, merged by
 * kysely-repository.ts into the repository; it runs inside the store's transactions.
 */
import type { Kysely, Selectable } from 'kysely';
import { SlapError } from '../../core/errors.ts';
import type { InvoiceKind, InvoiceLine, InvoiceState } from '../../core/invoice-types.ts';
import type {
  InvoiceFilter,
  InvoiceRecord,
  InvoiceRepository,
  PriceListRecord,
} from './invoice-repository.ts';
import { param } from './query-params.ts';
import type { InvoiceTable, MasterDatabase } from './schema.ts';
import { constraintViolation, type SqlExecutor } from './sql-executor.ts';

type InvoiceRow = Selectable<InvoiceTable>;

function toInvoice(row: InvoiceRow): InvoiceRecord {
  return {
    reference: row.reference,
    kind: row.kind,
    user: row.user,
    period: row.period,
    currency: row.currency,
    lines: JSON.parse(row.lines) as InvoiceLine[],
    total: row.total,
    contentHash: row.content_hash,
    state: row.state,
    corrects: row.corrects,
    issuedAt: row.issued_at,
    paidAt: row.paid_at,
    regularisation: row.regularisation,
  };
}

const PRICE_LIST_COLUMNS = [
  'effective',
  'currency',
  'document',
  'loaded_at as loadedAt',
] as const satisfies readonly string[];

const FILTERS = ['user', 'period', 'state', 'kind'] as const;

export function createKyselyInvoiceRepository(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
): InvoiceRepository {
  const { all, get, run, recoverable } = executor;
  return {
    putPriceList: async (record) => {
      await run(
        'invoices:putPriceList',
        () =>
          db
            .insertInto('price_list')
            .values({
              effective: param('effective'),
              currency: param('currency'),
              document: param('document'),
              loaded_at: param<number>('loadedAt'),
            })
            .onConflict((conflict) =>
              conflict.column('effective').doUpdateSet({
                currency: param('currency'),
                document: param('document'),
                loaded_at: param<number>('loadedAt'),
              }),
            ),
        { ...record },
      );
    },
    listPriceLists: async () =>
      await all<PriceListRecord>('invoices:listPriceLists', () =>
        db.selectFrom('price_list').select(PRICE_LIST_COLUMNS).orderBy('effective'),
      ),
    getPriceListEffectiveAt: async (day) =>
      await get<PriceListRecord>(
        'invoices:getPriceListEffectiveAt',
        () =>
          db
            .selectFrom('price_list')
            .select(PRICE_LIST_COLUMNS)
            .where('effective', '<=', param('day'))
            .orderBy('effective', 'desc')
            .limit(1),
        { day },
      ),

    insertInvoice: async (record) => {
      try {
        await recoverable(() =>
          run(
            'invoices:insertInvoice',
            () =>
              db.insertInto('invoice').values({
                reference: param('reference'),
                kind: param<InvoiceKind>('kind'),
                user: param('user'),
                period: param('period'),
                currency: param('currency'),
                lines: param('lines'),
                total: param('total'),
                content_hash: param('contentHash'),
                state: param<InvoiceState>('state'),
                corrects: param<string | null>('corrects'),
                issued_at: param<number>('issuedAt'),
                paid_at: param<number | null>('paidAt'),
                regularisation: param<string | null>('regularisation'),
              }),
            { ...record, lines: JSON.stringify(record.lines) },
          ),
        );
      } catch (error) {
        if (constraintViolation(error) === 'unique')
          throw new SlapError('SLAP_ERR_CONFLICT', `the invoice ${record.reference} already exists`, {
            cause: error,
          });
        throw error;
      }
    },
    getInvoice: async (reference) => {
      const row = await get<InvoiceRow>(
        'invoices:getInvoice',
        () => db.selectFrom('invoice').selectAll().where('reference', '=', param('reference')),
        { reference },
      );
      return row && toInvoice(row);
    },
    listInvoices: async (filter: InvoiceFilter) => {
      const used = FILTERS.filter((name) => filter[name] !== undefined);
      const rows = await all<InvoiceRow>(
        `invoices:listInvoices:${used.join(',')}`,
        () => {
          let query = db.selectFrom('invoice').selectAll();
          for (const name of used) query = query.where(name, '=', param(name));
          return query.orderBy('period').orderBy('id');
        },
        Object.fromEntries(used.map((name) => [name, filter[name]])),
      );
      return rows.map(toInvoice);
    },
    findInvoiceInPeriods: async ({ from, to }) => {
      const row = await get<InvoiceRow>(
        `invoices:findInvoiceInPeriods:${to === null ? 'open' : 'closed'}`,
        () => {
          let query = db
            .selectFrom('invoice')
            .selectAll()
            .where('kind', '=', 'invoice')
            .where('period', '>=', param('from'));
          if (to !== null) query = query.where('period', '<', param('to'));
          return query.orderBy('period').orderBy('id').limit(1);
        },
        to === null ? { from } : { from, to },
      );
      return row && toInvoice(row);
    },
    nextInvoiceSequence: async ({ kind, period }) => {
      const row = await get<{ count: number | string }>(
        'invoices:nextInvoiceSequence',
        () =>
          db
            .selectFrom('invoice')
            .select((eb) => eb.fn.countAll().as('count'))
            .where('kind', '=', param<InvoiceKind>('kind'))
            .where('period', '=', param('period')),
        { kind, period },
      );
      return Number(row?.count ?? 0) + 1;
    },
    setInvoiceState: async (reference, { state, paidAt }) =>
      (await (paidAt === undefined
        ? run(
            'invoices:setInvoiceState',
            () =>
              db
                .updateTable('invoice')
                .set({ state: param<InvoiceState>('state') })
                .where('reference', '=', param('reference')),
            { reference, state },
          )
        : run(
            'invoices:setInvoiceStatePaid',
            () =>
              db
                .updateTable('invoice')
                .set({ state: param<InvoiceState>('state'), paid_at: param<number | null>('paidAt') })
                .where('reference', '=', param('reference')),
            { reference, state, paidAt },
          ))) === 1,
    setInvoiceRegularisation: async (reference, regularisation) =>
      (await run(
        'invoices:setInvoiceRegularisation',
        () =>
          db
            .updateTable('invoice')
            .set({ regularisation: param<string | null>('regularisation') })
            .where('reference', '=', param('reference')),
        { reference, regularisation },
      )) === 1,
  };
}

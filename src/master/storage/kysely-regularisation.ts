/**
 * The RegularisationRepository (regularisation-repository.ts) written once for every SQL store,
 * merged by kysely-repository.ts into the repository; it runs inside the store's transactions.
 */
import type { Kysely } from 'kysely';
import type { RegularisationStage } from '../../core/regularisation-policy.ts';
import { param } from './query-params.ts';
import type {
  InvoiceIssueRecord,
  RegularisationRepository,
  RegularisationStopRecord,
  UnpaidInvoiceRecord,
} from './regularisation-repository.ts';
import type { MasterDatabase } from './schema.ts';
import type { SqlExecutor } from './sql-executor.ts';

interface UnpaidRow {
  reference: string;
  user: string;
  issued_at: number;
  total: string;
  corrects: string | null;
  regularisation: string | null;
}

function regularisationOf(value: string | null): RegularisationStage | null {
  return value === 'stopped' || value === 'destroyed' ? value : null;
}

export function createKyselyRegularisationRepository(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
): RegularisationRepository {
  const { all, get, run } = executor;
  return {
    async listUnpaidInvoices(filter = {}) {
      const byUser = filter.user !== undefined;
      const rows = await all<UnpaidRow>(
        `regularisation:listUnpaidInvoices:${byUser ? 'user' : ''}`,
        () => {
          let select = db
            .selectFrom('invoice')
            .select(['reference', 'user', 'issued_at', 'total', 'corrects', 'regularisation'])
            .where('kind', '=', 'invoice')
            .where('state', '=', 'issued');
          if (byUser) select = select.where('user', '=', param('user'));
          return select.orderBy('issued_at').orderBy('id');
        },
        { user: filter.user },
      );
      return rows.map((row): UnpaidInvoiceRecord => ({
        reference: row.reference,
        user: row.user,
        issuedAt: row.issued_at,
        total: row.total,
        corrects: row.corrects,
        regularisation: regularisationOf(row.regularisation),
      }));
    },

    async getInvoiceIssue(reference) {
      const row = await get<{ reference: string; issued_at: number; corrects: string | null }>(
        'regularisation:getInvoiceIssue',
        () =>
          db
            .selectFrom('invoice')
            .select(['reference', 'issued_at', 'corrects'])
            .where('reference', '=', param('reference')),
        { reference },
      );
      return (
        row &&
        ({
          reference: row.reference,
          issuedAt: row.issued_at,
          corrects: row.corrects,
        } satisfies InvoiceIssueRecord)
      );
    },

    async setInvoiceRegularisation(reference, regularisation) {
      await run(
        'regularisation:setInvoiceRegularisation',
        () =>
          db
            .updateTable('invoice')
            .set({ regularisation: param('regularisation') })
            .where('reference', '=', param('reference')),
        { reference, regularisation },
      );
    },

    async listRegularisationStops(filter = {}) {
      const byOwner = filter.owner !== undefined;
      const rows = await all<{ owner: string; instance_tree: string; invoice: string; stopped_at: number }>(
        `regularisation:listStops:${byOwner ? 'owner' : ''}`,
        () => {
          let select = db
            .selectFrom('regularisation_stop')
            .select(['owner', 'instance_tree', 'invoice', 'stopped_at']);
          if (byOwner) select = select.where('owner', '=', param('owner'));
          return select.orderBy('owner').orderBy('instance_tree');
        },
        { owner: filter.owner },
      );
      return rows.map((row): RegularisationStopRecord => ({
        owner: row.owner,
        instanceTree: row.instance_tree,
        invoice: row.invoice,
        stoppedAt: row.stopped_at,
      }));
    },

    async insertRegularisationStop(stop) {
      await run(
        'regularisation:insertStop',
        () =>
          db
            .insertInto('regularisation_stop')
            .values({
              owner: param('owner'),
              instance_tree: param('tree'),
              invoice: param('invoice'),
              stopped_at: param<number>('at'),
            })
            .onConflict((conflict) => conflict.columns(['owner', 'instance_tree']).doNothing()),
        { owner: stop.owner, tree: stop.instanceTree, invoice: stop.invoice, at: stop.stoppedAt },
      );
    },

    async deleteRegularisationStop(owner, instanceTree) {
      await run(
        'regularisation:deleteStop',
        () =>
          db
            .deleteFrom('regularisation_stop')
            .where('owner', '=', param('owner'))
            .where('instance_tree', '=', param('tree')),
        { owner, tree: instanceTree },
      );
    },
  };
}

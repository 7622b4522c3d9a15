/**
 * The RegularisationRepository (regularisation-repository.ts) written once for every SQL store,
 * merged by kysely-repository.ts into the repository; it runs inside the store's transactions.
 */
import type { Kysely } from 'kysely';
import { param } from './query-params.ts';
import type { RegularisationRepository, RegularisationStopRecord } from './regularisation-repository.ts';
import type { MasterDatabase } from './schema.ts';
import type { SqlExecutor } from './sql-executor.ts';

export function createKyselyRegularisationRepository(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
): RegularisationRepository {
  const { all, run } = executor;
  return {
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

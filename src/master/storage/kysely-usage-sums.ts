/**
 * TEMPORARY (drop at the merge of branch `ingest`): the two reads of usage that invoice generation
 * needs, with the signatures of H1's UsageRepository (usage-repository.ts, kysely-usage.ts), so that
 * the invoicing engine builds and is tested before ingestion lands. When it lands: delete this file,
 * remove `UsageSumsRepository` and `createKyselyUsageSums` from repository.ts, kysely-repository.ts
 * and node-scopes.ts (UsageRepository has the same two methods).
 */
import type { Kysely } from 'kysely';
import { sql } from '../../lib/kysely.ts';
import { param } from './query-params.ts';
import type { MasterDatabase } from './schema.ts';
import type { SqlExecutor } from './sql-executor.ts';

export interface UsageChargeSum {
  owner: string;
  instanceTree: string;
  resource: string;
  /** Σ of the pieces' integer millionths. */
  quantityMicro: bigint;
}

/** One allocation of a partition to an instance tree. */
export interface TreeAllocation {
  owner: string;
  instanceTree: string;
  allocatedAt: number;
  releasedAt: number | null;
}

export interface UsageSumsRepository {
  /** The period's (YYYYMM) billed quantities per (owner, tree, resource), pieces starting in [from, to). */
  sumUsageCharges(query: { period: number; from?: number; to?: number }): Promise<UsageChargeSum[]>;
  /** The partitions' allocations overlapping [from, to). */
  listTreeAllocations(query: { from: number; to: number }): Promise<TreeAllocation[]>;
}

export function createKyselyUsageSums(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
): UsageSumsRepository {
  const { all } = executor;
  return {
    sumUsageCharges: async ({ period, from, to }) => {
      const rows = await all<{ owner: string; instance_tree: string; resource: string; quantity: string }>(
        'usageSums:sumUsageCharges',
        () =>
          db
            .selectFrom('usage_charge')
            .select([
              'owner',
              'instance_tree',
              'resource',
              sql<string>`CAST(SUM(quantity_micro) AS TEXT)`.as('quantity'),
            ])
            .where('period', '=', param<number>('period'))
            .where('start_at', '>=', param<number>('from'))
            .where('start_at', '<', param<number>('to'))
            .groupBy(['owner', 'instance_tree', 'resource']),
        {
          period,
          from: from ?? Date.UTC(Math.floor(period / 100), (period % 100) - 1, 1) / 1000,
          to: to ?? Date.UTC(Math.floor(period / 100), period % 100, 1) / 1000,
        },
      );
      return rows.map((row) => ({
        owner: row.owner,
        instanceTree: row.instance_tree,
        resource: row.resource,
        quantityMicro: BigInt(row.quantity),
      }));
    },
    listTreeAllocations: async ({ from, to }) =>
      (
        await all<{ owner: string; instanceTree: string; allocatedAt: number; releasedAt: number | null }>(
          'usageSums:listTreeAllocations',
          () =>
            db
              .selectFrom('partition_allocation')
              .select([
                'owner',
                'instance_tree as instanceTree',
                'allocated_at as allocatedAt',
                'released_at as releasedAt',
              ])
              .where((eb) =>
                eb.or([eb('released_at', 'is', null), eb('released_at', '>', param<number>('from'))]),
              )
              .where('allocated_at', '<', param<number>('to'))
              .orderBy('id'),
          { from, to },
        )
      ).map((row) => ({
        owner: row.owner,
        instanceTree: row.instanceTree,
        allocatedAt: Number(row.allocatedAt),
        releasedAt: row.releasedAt === null ? null : Number(row.releasedAt),
      })),
  };
}

/**
 * An owner's instance trees with what their status is made of (Repository.listInstanceTreeRows):
 * one query for the non-shared roots and one for the shared roots, each row joining the root (or
 * the host of a shared root), its partition, its software installation and whether a promise of the
 * tree fails, so that the services list of a user with a thousand trees is a few index searches.
 */
import type { Kysely } from 'kysely';
import type { RequestedState, SoftwareInstallationState } from '../../core/states.ts';
import { param } from './query-params.ts';
import type { DeploymentFacts, InstanceTreeRow } from './repository.ts';
import type { MasterDatabase } from './schema.ts';
import type { SqlExecutor } from './sql-executor.ts';

/**
 * A failed promise in a stored result list. The list is written by JSON.stringify with the keys in
 * a fixed order (`{"name":…,"status":…,…}`, services/promise-results.ts) and `status` is `pass` or
 * `fail`: the key and value can only appear as such unescaped, a message's quotes being escaped.
 */
export const FAILED_PROMISE_PATTERN = '%"status":"fail"%';

/** What an instance's status is made of, as queries select it (`d_`: the deploying instance's). */
export interface DeploymentColumns {
  /** Null columns when there is no deploying instance (a shared root without a host). */
  d_id: number | null;
  d_requested_state: RequestedState | null;
  d_node: string | null;
  d_partition: string | null;
  d_allocation_message: string | null;
  d_reported_state: string | null;
  d_reported_at: number | null;
  d_error_at: number | null;
  partition_timestamp: number | null;
  software_requested_state: SoftwareInstallationState | null;
  software_reported_state: string | null;
}

interface TreeRowColumns extends DeploymentColumns {
  title: string;
  software_release: string;
  software_type: string;
  requested_state: RequestedState;
  updated_at: number;
  /** 0/1 on SQLite, a boolean on PostgreSQL. */
  promise_failing: number | boolean;
}

/** The facts of the columns; null when they name no deploying instance. */
export function deploymentFactsOf(row: DeploymentColumns): DeploymentFacts | null {
  return row.d_id === null || row.d_requested_state === null
    ? null
    : {
        requestedState: row.d_requested_state,
        location:
          row.d_node === null || row.d_partition === null
            ? null
            : { computeNodeId: row.d_node, partitionId: row.d_partition },
        allocationMessage: row.d_allocation_message,
        partitionTimestamp: row.partition_timestamp,
        reportedState: row.d_reported_state,
        reportedAt: row.d_reported_at,
        errorAt: row.d_error_at,
        software:
          row.software_requested_state === null
            ? null
            : { requestedState: row.software_requested_state, reportedState: row.software_reported_state },
      };
}

function toTreeRow(row: TreeRowColumns, shared: boolean): InstanceTreeRow {
  return {
    title: row.title,
    shared,
    softwareRelease: row.software_release,
    softwareType: row.software_type,
    requestedState: row.requested_state,
    updatedAt: row.updated_at,
    deployment: deploymentFactsOf(row),
    promiseFailing: row.promise_failing === true || row.promise_failing === 1,
  };
}

export async function listInstanceTreeRows(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
  owner: string,
): Promise<InstanceTreeRow[]> {
  const roots = await executor.all<TreeRowColumns>(
    'listInstanceTreeRoots',
    () =>
      db
        .selectFrom('instance as i')
        .leftJoin('partition as p', (join) =>
          join
            .onRef('p.compute_node_reference', '=', 'i.compute_node_reference')
            .onRef('p.reference', '=', 'i.partition_reference'),
        )
        .leftJoin('software_installation as s', (join) =>
          join
            .onRef('s.compute_node_reference', '=', 'i.compute_node_reference')
            .onRef('s.url', '=', 'i.software_release'),
        )
        .select((eb) => [
          'i.title',
          'i.software_release',
          'i.software_type',
          'i.requested_state',
          'i.updated_at',
          'i.id as d_id',
          'i.requested_state as d_requested_state',
          'i.compute_node_reference as d_node',
          'i.partition_reference as d_partition',
          'i.allocation_message as d_allocation_message',
          'i.reported_state as d_reported_state',
          'i.reported_at as d_reported_at',
          'i.error_at as d_error_at',
          'p.timestamp as partition_timestamp',
          's.requested_state as software_requested_state',
          's.reported_state as software_reported_state',
          eb
            .or([
              eb.exists(
                eb
                  .selectFrom('instance_promise_result as r')
                  .select('r.instance_id')
                  .whereRef('r.instance_id', '=', 'i.id')
                  .where('r.result_list_json', 'like', FAILED_PROMISE_PATTERN),
              ),
              eb.exists(
                eb
                  .selectFrom('instance as c')
                  .innerJoin('instance_promise_result as r', 'r.instance_id', 'c.id')
                  .select('c.id')
                  .whereRef('c.owner', '=', 'i.owner')
                  .whereRef('c.requested_by', '=', 'i.title')
                  .where('c.shared', '=', 0)
                  .where('r.result_list_json', 'like', FAILED_PROMISE_PATTERN),
              ),
            ])
            .as('promise_failing'),
        ])
        .where('i.owner', '=', param('owner'))
        .where('i.requested_by', '=', '')
        .where('i.shared', '=', 0)
        .orderBy('i.id'),
    { owner },
  );
  const shared = await executor.all<TreeRowColumns>(
    'listInstanceTreeSharedRoots',
    () =>
      db
        .selectFrom('instance as i')
        .leftJoin('instance as h', (join) =>
          join
            .onRef('h.compute_node_reference', '=', 'i.compute_node_reference')
            .onRef('h.partition_reference', '=', 'i.partition_reference')
            .on('h.shared', '=', 0),
        )
        .leftJoin('partition as p', (join) =>
          join
            .onRef('p.compute_node_reference', '=', 'h.compute_node_reference')
            .onRef('p.reference', '=', 'h.partition_reference'),
        )
        .leftJoin('software_installation as s', (join) =>
          join
            .onRef('s.compute_node_reference', '=', 'h.compute_node_reference')
            .onRef('s.url', '=', 'h.software_release'),
        )
        .select((eb) => [
          'i.title',
          'i.software_release',
          'i.software_type',
          'i.requested_state',
          'i.updated_at',
          'h.id as d_id',
          'h.requested_state as d_requested_state',
          'h.compute_node_reference as d_node',
          'h.partition_reference as d_partition',
          'h.allocation_message as d_allocation_message',
          'h.reported_state as d_reported_state',
          'h.reported_at as d_reported_at',
          'h.error_at as d_error_at',
          'p.timestamp as partition_timestamp',
          's.requested_state as software_requested_state',
          's.reported_state as software_reported_state',
          // The host's promises are its owner's tree's, not this one's.
          eb.lit(false).as('promise_failing'),
        ])
        .where('i.owner', '=', param('owner'))
        .where('i.requested_by', '=', '')
        .where('i.shared', '=', 1)
        .where('i.requested_state', '!=', 'destroyed')
        .orderBy('i.id'),
    { owner },
  );
  return [...roots.map((row) => toTreeRow(row, false)), ...shared.map((row) => toTreeRow(row, true))];
}

/**
 * The master's Repository (repository.ts) written once for every SQL store: queries built with
 * Kysely's query builder and named placeholders (`param('node')`), run through the store's
 * SqlExecutor, which compiles each query once per key with its own dialect.
 */
import type { Kysely } from 'kysely';
import { sql } from '../../lib/kysely.ts';
import type { InstanceEventKind } from '../../core/instance-events.ts';
import type { RequestedState, SlapState, SoftwareInstallationState } from '../../core/states.ts';
import { createKyselyIdentityRepository } from './kysely-identities.ts';
import { createKyselyRegularisationRepository } from './kysely-regularisation.ts';
import { createKyselyBackupRepository } from './kysely-backups.ts';
import { createKyselyUsageRepository } from './kysely-usage.ts';
import { createKyselyInvoiceRepository } from './kysely-invoices.ts';
import { deploymentFactsOf, listInstanceTreeRows, type DeploymentColumns } from './kysely-instance-trees.ts';
import { param, type QueryArgs } from './query-params.ts';
import type {
  AddressRecord,
  ComputeNodeContactRecord,
  ComputeNodeRecord,
  InstanceEventRecord,
  InstanceSummary,
  PartitionAllocationRecord,
  PartitionInstanceOwner,
  PartitionKey,
  PromiseEventRecord,
  PromiseResultsRecord,
  Repository,
  UsagePoint,
} from './repository.ts';
import type { MasterDatabase, UsageRecordTable } from './schema.ts';
import {
  ONE,
  instanceColumnValues,
  selectInstances,
  selectPartitions,
  selectSoftwareInstallations,
  toInstance,
  toPartition,
  toSoftwareInstallation,
  type InstanceRow,
  type PartitionRow,
  type SoftwareInstallationRow,
} from './kysely-rows.ts';
import type { SqlExecutor } from './sql-executor.ts';

type UsageRecordRow = Omit<UsageRecordTable, 'id' | 'compute_node_reference'>;

export interface RepositoryHooks {
  /** Called when a use case bumps a node's revision (its listeners are told after the commit). */
  nodeBumped(computeNodeId: string): void;
}

export function createKyselyRepository(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
  hooks: RepositoryHooks,
): Repository {
  const { all, get, run, insert } = executor;
  const nodeAndPartition = (key: PartitionKey): QueryArgs => ({
    node: key.computeNodeId,
    partition: key.partitionId,
  });

  /**
   * Deletes an instance's rows of a history table but the newest `keep`, in one statement: the
   * subquery reads the instance's index entries from the newest and finds none past `keep` (the
   * common case) or the one or few that go. (The limit is a bound both dialects accept: SQLite wants
   * a LIMIT before an OFFSET, PostgreSQL takes no -1.)
   */
  const keepNewest = async (
    table: 'instance_event' | 'instance_promise_event',
    instanceId: number,
    keep: number,
  ): Promise<void> => {
    await run(
      `keepNewest:${table}`,
      () =>
        db
          .deleteFrom(table)
          .where('id', 'in', (eb) =>
            eb
              .selectFrom(table)
              .select('id')
              .where('instance_id', '=', param<number>('id'))
              .orderBy('at', 'desc')
              .orderBy('id', 'desc')
              .limit(sql.lit(1_000_000_000))
              .offset(param<number>('keep')),
          ),
      { id: instanceId, keep },
    );
  };

  /** A node's busy partitions joined to the (non-shared) instance on each, in partition order. */
  const busyPartitionInstances = () =>
    db
      .selectFrom('partition as p')
      .innerJoin('instance as i', (join) =>
        join
          .onRef('i.compute_node_reference', '=', 'p.compute_node_reference')
          .onRef('i.partition_reference', '=', 'p.reference')
          .on('i.shared', '=', 0),
      )
      .where('p.compute_node_reference', '=', param('node'))
      .where('p.slap_state', '=', 'busy')
      .orderBy('p.id');

  const repository: Repository = {
    ...createKyselyIdentityRepository(db, executor),
    ...createKyselyUsageRepository(db, executor),
    ...createKyselyInvoiceRepository(db, executor),
    ...createKyselyRegularisationRepository(db, executor),
    ...createKyselyBackupRepository(db, executor),
    getComputeNode: async (reference) => {
      const row = await get<ComputeNodeRecord>(
        'getComputeNode',
        () =>
          db
            .selectFrom('compute_node')
            .select(['reference', 'address', 'netmask'])
            .where('reference', '=', param('reference')),
        { reference },
      );
      return row;
    },
    listComputeNodes: async () =>
      await all<ComputeNodeRecord>('listComputeNodes', () =>
        db.selectFrom('compute_node').select(['reference', 'address', 'netmask']).orderBy('id'),
      ),
    upsertComputeNode: async (node) => {
      await run(
        'upsertComputeNode',
        () =>
          db
            .insertInto('compute_node')
            .values({
              reference: param('reference'),
              address: param<string | null>('address'),
              netmask: param<string | null>('netmask'),
              created_at: param<number>('now'),
            })
            .onConflict((conflict) =>
              conflict.column('reference').doUpdateSet({
                address: param<string | null>('address'),
                netmask: param<string | null>('netmask'),
              }),
            ),
        { reference: node.reference, address: node.address, netmask: node.netmask, now: node.now },
      );
    },
    recordComputeNodeBang: async (reference, bang) => {
      await run(
        'recordComputeNodeBang',
        () =>
          db
            .updateTable('compute_node')
            .set({ bang_message: param('message'), bang_at: param<number>('at') })
            .where('reference', '=', param('reference')),
        { reference, message: bang.message, at: bang.at },
      );
    },
    listComputeNodeContacts: async () =>
      await all<ComputeNodeContactRecord>('listComputeNodeContacts', () =>
        db
          .selectFrom('compute_node')
          .select(['reference as computeNodeId', 'last_contact_at as lastContactAt'])
          .orderBy('id'),
      ),
    getComputeNodeLastContact: async (reference) => {
      const row = await get<{ lastContactAt: number | null }>(
        'getComputeNodeLastContact',
        () =>
          db
            .selectFrom('compute_node')
            .select('last_contact_at as lastContactAt')
            .where('reference', '=', param('reference')),
        { reference },
      );
      return row?.lastContactAt ?? null;
    },
    recordComputeNodeContacts: async (contacts) => {
      for (const contact of contacts)
        await run(
          'recordComputeNodeContact',
          () =>
            db
              .updateTable('compute_node')
              .set({ last_contact_at: param<number>('at') })
              .where('reference', '=', param('reference'))
              .where((eb) =>
                eb.or([eb('last_contact_at', 'is', null), eb('last_contact_at', '<', param<number>('at'))]),
              ),
          { reference: contact.computeNodeId, at: contact.at },
        );
    },

    listPartitions: async (computeNodeId) =>
      (
        await all<PartitionRow>(
          'listPartitions',
          () => selectPartitions(db).where('compute_node_reference', '=', param('node')).orderBy('id'),
          { node: computeNodeId },
        )
      ).map(toPartition),
    firstFreePartition: async (computeNodeId) => {
      const row = await get<PartitionRow>(
        'firstFreePartition',
        () =>
          selectPartitions(db)
            .where('compute_node_reference', '=', param('node'))
            .where('slap_state', '=', 'free')
            .orderBy('id')
            .limit(ONE),
        { node: computeNodeId },
      );
      return row && toPartition(row);
    },
    insertPartition: async (key) => {
      await run(
        'insertPartition',
        () =>
          db.insertInto('partition').values({
            compute_node_reference: param('node'),
            reference: param('partition'),
            slap_state: 'free',
          }),
        nodeAndPartition(key),
      );
    },
    deletePartition: async (key) => {
      await run(
        'deletePartition',
        () =>
          db
            .deleteFrom('partition')
            .where('compute_node_reference', '=', param('node'))
            .where('reference', '=', param('partition')),
        nodeAndPartition(key),
      );
    },
    setPartitionSlapState: async (key, slapState) => {
      await run(
        'setPartitionSlapState',
        () =>
          db
            .updateTable('partition')
            .set({ slap_state: param<SlapState>('state') })
            .where('compute_node_reference', '=', param('node'))
            .where('reference', '=', param('partition')),
        { node: key.computeNodeId, partition: key.partitionId, state: slapState },
      );
    },
    allocatePartition: async (key, timestamp, holder) => {
      await run(
        'allocatePartition',
        () =>
          db
            .updateTable('partition')
            .set({ slap_state: 'busy', timestamp: param<number>('timestamp') })
            .where('compute_node_reference', '=', param('node'))
            .where('reference', '=', param('partition')),
        { node: key.computeNodeId, partition: key.partitionId, timestamp },
      );
      await repository.endPartitionAllocation(key, timestamp);
      await run(
        'startPartitionAllocation',
        () =>
          db.insertInto('partition_allocation').values({
            compute_node_reference: param('node'),
            partition_reference: param('partition'),
            instance_id: param<number>('instance'),
            owner: param('owner'),
            instance_tree: param('tree'),
            allocated_at: param<number>('at'),
          }),
        {
          ...nodeAndPartition(key),
          instance: holder.instanceId,
          owner: holder.owner,
          tree: holder.instanceTree,
          at: timestamp,
        },
      );
      return repository.bumpNodeRevision(key.computeNodeId);
    },
    endPartitionAllocation: async (key, at) => {
      await run(
        'endPartitionAllocation',
        () =>
          db
            .updateTable('partition_allocation')
            .set({ released_at: param<number>('at') })
            .where('compute_node_reference', '=', param('node'))
            .where('partition_reference', '=', param('partition'))
            .where('released_at', 'is', null),
        { ...nodeAndPartition(key), at },
      );
    },
    listPartitionAllocations: async (computeNodeId) =>
      await all<PartitionAllocationRecord>(
        'listPartitionAllocations',
        () =>
          db
            .selectFrom('partition_allocation')
            .select([
              'partition_reference as partitionId',
              'instance_id as instanceId',
              'owner',
              'instance_tree as instanceTree',
              'allocated_at as allocatedAt',
              'released_at as releasedAt',
            ])
            .where('compute_node_reference', '=', param('node'))
            .orderBy('allocated_at')
            .orderBy('id'),
        { node: computeNodeId },
      ),
    listOwnerAllocations: async ({ owner, from, to }) =>
      await all<PartitionAllocationRecord & { computeNodeId: string }>(
        'listOwnerAllocations',
        () =>
          db
            .selectFrom('partition_allocation')
            .select([
              'compute_node_reference as computeNodeId',
              'partition_reference as partitionId',
              'instance_id as instanceId',
              'owner',
              'instance_tree as instanceTree',
              'allocated_at as allocatedAt',
              'released_at as releasedAt',
            ])
            .where('owner', '=', param('owner'))
            .where('allocated_at', '<', param<number>('to'))
            .where((eb) =>
              eb.or([eb('released_at', 'is', null), eb('released_at', '>', param<number>('from'))]),
            )
            .orderBy('allocated_at')
            .orderBy('id'),
        { owner, from, to },
      ),
    setPartitionTimestamp: async (key, timestamp) => {
      await run(
        'setPartitionTimestamp',
        () =>
          db
            .updateTable('partition')
            .set({ timestamp: param<number>('timestamp') })
            .where('compute_node_reference', '=', param('node'))
            .where('reference', '=', param('partition')),
        { node: key.computeNodeId, partition: key.partitionId, timestamp },
      );
      return repository.bumpNodeRevision(key.computeNodeId);
    },
    listAddresses: async (key) =>
      await all<AddressRecord>(
        'listAddresses',
        () =>
          db
            .selectFrom('partition_address')
            .select(['network_interface as networkInterface', 'address', 'netmask'])
            .where('compute_node_reference', '=', param('node'))
            .where('partition_reference', '=', param('partition'))
            .orderBy('id'),
        nodeAndPartition(key),
      ),
    deleteAddresses: async (computeNodeId) => {
      await run(
        'deleteAddresses',
        () => db.deleteFrom('partition_address').where('compute_node_reference', '=', param('node')),
        { node: computeNodeId },
      );
    },
    insertAddress: async (key, address) => {
      await run(
        'insertAddress',
        () =>
          db.insertInto('partition_address').values({
            compute_node_reference: param('node'),
            partition_reference: param('partition'),
            network_interface: param('networkInterface'),
            address: param('address'),
            netmask: param<string | null>('netmask'),
          }),
        {
          node: key.computeNodeId,
          partition: key.partitionId,
          networkInterface: address.networkInterface,
          address: address.address,
          netmask: address.netmask,
        },
      );
    },

    listSoftwareInstallations: async (computeNodeId) =>
      (
        await all<SoftwareInstallationRow>(
          'listSoftwareInstallations',
          () =>
            selectSoftwareInstallations(db).where('compute_node_reference', '=', param('node')).orderBy('id'),
          { node: computeNodeId },
        )
      ).map(toSoftwareInstallation),
    upsertSoftwareInstallation: async (computeNodeId, url, state) => {
      await run(
        'upsertSoftwareInstallation',
        () =>
          db
            .insertInto('software_installation')
            .values({
              compute_node_reference: param('node'),
              url: param('url'),
              requested_state: param<SoftwareInstallationState>('state'),
            })
            .onConflict((conflict) =>
              conflict
                .columns(['compute_node_reference', 'url'])
                .doUpdateSet({ requested_state: param<SoftwareInstallationState>('state') }),
            ),
        { node: computeNodeId, url, state },
      );
    },
    recordSoftwareInstallationReport: async (computeNodeId, url, report) => {
      if (report.reportedState !== undefined) {
        await run(
          'recordSoftwareInstallationState',
          () =>
            db
              .updateTable('software_installation')
              .set({ reported_state: param('state'), reported_at: param<number>('at') })
              .where('compute_node_reference', '=', param('node'))
              .where('url', '=', param('url')),
          { node: computeNodeId, url, at: report.at, state: report.reportedState },
        );
      }
      if (report.errorMessage !== undefined) {
        await run(
          'recordSoftwareInstallationError',
          () =>
            db
              .updateTable('software_installation')
              .set({ error_message: param('message'), error_at: param<number>('at') })
              .where('compute_node_reference', '=', param('node'))
              .where('url', '=', param('url')),
          { node: computeNodeId, url, at: report.at, message: report.errorMessage },
        );
      }
    },
    deleteSoftwareInstallation: async (computeNodeId, url) => {
      await run(
        'deleteSoftwareInstallation',
        () =>
          db
            .deleteFrom('software_installation')
            .where('compute_node_reference', '=', param('node'))
            .where('url', '=', param('url')),
        { node: computeNodeId, url },
      );
    },

    findInstance: async (identity) => {
      const row = await get<InstanceRow>(
        'findInstance',
        () =>
          selectInstances(db)
            .where('i.owner', '=', param('owner'))
            .where('i.title', '=', param('title'))
            .where('i.requested_by', '=', param('requestedBy'))
            .where('i.shared', '=', param<number>('shared')),
        {
          owner: identity.owner,
          title: identity.title,
          requestedBy: identity.requestedBy,
          shared: identity.shared ? 1 : 0,
        },
      );
      return row && toInstance(row);
    },
    getInstanceById: async (id) => {
      const row = await get<InstanceRow>(
        'getInstanceById',
        () => selectInstances(db).where('i.id', '=', param<number>('id')),
        { id },
      );
      return row && toInstance(row);
    },
    instanceComputeNode: async (id) => {
      const row = await get<{ node: string | null }>(
        'instanceComputeNode',
        () =>
          db
            .selectFrom('instance')
            .select('compute_node_reference as node')
            .where('id', '=', param<number>('id')),
        { id },
      );
      return row?.node ?? undefined;
    },
    getInstanceOnPartition: async (key) => {
      const row = await get<InstanceRow>(
        'getInstanceOnPartition',
        () =>
          selectInstances(db)
            .where('i.compute_node_reference', '=', param('node'))
            .where('i.partition_reference', '=', param('partition'))
            .where('i.shared', '=', 0),
        nodeAndPartition(key),
      );
      return row && toInstance(row);
    },
    insertInstance: async (instance) => {
      const id = await insert(
        'insertInstance',
        () =>
          db.insertInto('instance').values({
            title: param('title'),
            requested_by: param('requestedBy'),
            shared: param<number>('shared'),
            software_release: param('softwareRelease'),
            software_type: param('softwareType'),
            parameter_xml: param('parameterXml'),
            shared_parameters_json: param<string | null>('sharedParametersJson'),
            sla_json: param('slaJson'),
            requested_state: param<RequestedState>('requestedState'),
            compute_node_reference: param<string | null>('node'),
            partition_reference: param<string | null>('partition'),
            host_position: param<number | null>('hostPosition'),
            requester_node: param<string | null>('requesterNode'),
            requester_partition: param<string | null>('requesterPartition'),
            owner: param('owner'),
            allocation_message: param<string | null>('allocationMessage'),
            created_at: param<number>('now'),
            updated_at: param<number>('now'),
          }),
        {
          title: instance.title,
          requestedBy: instance.requestedBy,
          shared: instance.shared ? 1 : 0,
          softwareRelease: instance.softwareRelease,
          softwareType: instance.softwareType,
          parameterXml: instance.parameterXml,
          sharedParametersJson: instance.sharedParametersJson,
          slaJson: instance.slaJson,
          requestedState: instance.requestedState,
          node: instance.location?.computeNodeId ?? null,
          partition: instance.location?.partitionId ?? null,
          hostPosition: instance.hostPosition,
          requesterNode: instance.requester?.computeNodeId ?? null,
          requesterPartition: instance.requester?.partitionId ?? null,
          owner: instance.owner,
          allocationMessage: instance.allocationMessage ?? null,
          now: instance.now,
        },
      );
      return id;
    },
    updateInstance: async (id, fields) => {
      const values = instanceColumnValues(fields);
      const columns = Object.keys(values).sort();
      values.id = id;
      await run(
        `updateInstance:${columns.join(',')}`,
        () =>
          db
            .updateTable('instance')
            .set(Object.fromEntries(columns.map((column) => [column, param(column)])))
            .where('id', '=', param<number>('id')),
        values,
      );
    },
    deleteInstance: async (id) => {
      await run('deleteInstance', () => db.deleteFrom('instance').where('id', '=', param<number>('id')), {
        id,
      });
    },
    listInstancesOnNode: async (computeNodeId) =>
      await all<InstanceSummary>(
        'listInstancesOnNode',
        () =>
          busyPartitionInstances().select([
            'i.id as id',
            'i.title as title',
            'i.requested_by as requestedBy',
            'i.requested_state as requestedState',
            'p.reference as partitionId',
            'i.software_release as softwareRelease',
          ]),
        { node: computeNodeId },
      ),
    listPartitionInstanceOwners: async (computeNodeId) =>
      await all<PartitionInstanceOwner>(
        'listPartitionInstanceOwners',
        () =>
          busyPartitionInstances().select([
            'p.reference as partitionId',
            'i.id as instanceId',
            'i.owner as owner',
            'i.title as title',
            'i.requested_by as requestedBy',
          ]),
        { node: computeNodeId },
      ),
    listChildren: async (owner, rootTitle) =>
      (
        await all<InstanceRow>(
          'listChildren',
          () =>
            selectInstances(db)
              .where('i.owner', '=', param('owner'))
              .where('i.requested_by', '=', param('root'))
              .where('i.shared', '=', 0)
              .orderBy('i.id'),
          { owner, root: rootTitle },
        )
      ).map(toInstance),
    markChildrenDestroyed: async (owner, rootTitle, now) => {
      await run(
        'markChildrenDestroyed',
        () =>
          db
            .updateTable('instance')
            .set({ requested_state: 'destroyed', updated_at: param<number>('now') })
            .where('owner', '=', param('owner'))
            .where('requested_by', '=', param('root'))
            .where('shared', '=', 0),
        { owner, root: rootTitle, now },
      );
    },
    listPendingInstances: async () =>
      (
        await all<InstanceRow>('listPendingInstances', () =>
          selectInstances(db)
            .where('i.shared', '=', 0)
            .where('i.compute_node_reference', 'is', null)
            .where('i.requested_state', '!=', 'destroyed')
            .orderBy('i.id'),
        )
      ).map(toInstance),
    findSharedHost: async (query) => {
      const byType = query.softwareType ? 'type' : '';
      const byPartition = query.partitionId !== undefined ? 'partition' : '';
      const row = await get<InstanceRow>(
        `findSharedHost:${byType}:${byPartition}`,
        () => {
          let select = selectInstances(db)
            .where('i.shared', '=', 0)
            .where('p.compute_node_reference', '=', param('node'))
            .where('p.slap_state', '=', 'busy')
            .where('i.software_release', '=', param('softwareRelease'));
          if (byType) select = select.where('i.software_type', '=', param('softwareType'));
          if (byPartition) select = select.where('p.reference', '=', param('partition'));
          return select.orderBy('p.id').limit(ONE);
        },
        {
          node: query.computeNodeId,
          softwareRelease: query.softwareRelease,
          softwareType: query.softwareType,
          partition: query.partitionId,
        },
      );
      return row && toInstance(row);
    },
    listHostedSharedInstances: async (host) =>
      (
        await all<InstanceRow>(
          'listHostedSharedInstances',
          () =>
            selectInstances(db)
              .where('i.compute_node_reference', '=', param('node'))
              .where('i.partition_reference', '=', param('partition'))
              .where('i.shared', '=', 1)
              .where('i.requested_state', '!=', 'destroyed')
              .orderBy('i.host_position'),
          nodeAndPartition(host),
        )
      ).map(toInstance),
    nextHostPosition: async () => {
      const row = await get<{ position: number }>('nextHostPosition', () =>
        db
          .selectFrom('instance')
          .select((eb) => eb(eb.fn.coalesce(eb.fn.max('host_position'), eb.lit(0)), '+', 1).as('position')),
      );
      return row?.position ?? 1;
    },
    detachSharedInstances: async (host, now) => {
      await run(
        'detachSharedInstances',
        () =>
          db
            .updateTable('instance')
            .set({
              compute_node_reference: null,
              partition_reference: null,
              host_position: null,
              updated_at: param<number>('now'),
            })
            .where('compute_node_reference', '=', param('node'))
            .where('partition_reference', '=', param('partition'))
            .where('shared', '=', 1),
        { node: host.computeNodeId, partition: host.partitionId, now },
      );
    },
    listRootTitles: async (owner) => {
      const instances = await all<{ title: string }>(
        'listRootInstanceTitles',
        () =>
          db
            .selectFrom('instance as i')
            .innerJoin('partition as p', (join) =>
              join
                .onRef('p.compute_node_reference', '=', 'i.compute_node_reference')
                .onRef('p.reference', '=', 'i.partition_reference'),
            )
            .select('i.title')
            .where('i.owner', '=', param('owner'))
            .where('i.shared', '=', 0)
            .where('i.requested_by', '=', '')
            .orderBy('p.id'),
        { owner },
      );
      const pending = await all<{ title: string }>(
        'listRootPendingTitles',
        () =>
          db
            .selectFrom('instance')
            .select('title')
            .where('owner', '=', param('owner'))
            .where('shared', '=', 0)
            .where('requested_by', '=', '')
            .where('compute_node_reference', 'is', null)
            .orderBy('id'),
        { owner },
      );
      const shared = await all<{ title: string }>(
        'listRootSharedTitles',
        () =>
          db
            .selectFrom('instance')
            .select('title')
            .where('owner', '=', param('owner'))
            .where('shared', '=', 1)
            .where('requested_by', '=', '')
            .orderBy('id'),
        { owner },
      );
      return {
        instances: [...instances, ...pending].map((row) => row.title),
        shared: shared.map((row) => row.title),
      };
    },
    listInstanceTreeRows: (owner) => listInstanceTreeRows(db, executor, owner),

    getPromiseResults: async (instanceId) => {
      const row = await get<PromiseResultsRecord>(
        'getPromiseResults',
        () =>
          db
            .selectFrom('instance_promise_result')
            .select(['result_list_json as resultListJson', 'reported_at as reportedAt'])
            .where('instance_id', '=', param<number>('id')),
        { id: instanceId },
      );
      return row;
    },
    setPromiseResults: async (instanceId, results) => {
      await run(
        'setPromiseResults',
        () =>
          db
            .insertInto('instance_promise_result')
            .values({
              instance_id: param<number>('id'),
              result_list_json: param('json'),
              reported_at: param<number>('at'),
            })
            .onConflict((conflict) =>
              conflict.column('instance_id').doUpdateSet((eb) => ({
                result_list_json: eb.ref('excluded.result_list_json'),
                reported_at: eb.ref('excluded.reported_at'),
              })),
            ),
        { id: instanceId, json: results.resultListJson, at: results.reportedAt },
      );
    },

    appendInstanceEvent: async (instanceId, event, keep) => {
      await run(
        'appendInstanceEvent',
        () =>
          db.insertInto('instance_event').values({
            instance_id: param<number>('id'),
            at: param<number>('at'),
            kind: param<InstanceEventKind>('kind'),
            detail: param<string | null>('detail'),
          }),
        { id: instanceId, at: event.at, kind: event.kind, detail: event.detail },
      );
      await keepNewest('instance_event', instanceId, keep);
    },
    listInstanceEvents: async (instanceId, limit) =>
      await all<InstanceEventRecord>(
        'listInstanceEvents',
        () =>
          db
            .selectFrom('instance_event')
            .select(['kind', 'at', 'detail'])
            .where('instance_id', '=', param<number>('id'))
            .orderBy('at', 'desc')
            .orderBy('id', 'desc')
            .limit(param<number>('limit')),
        { id: instanceId, limit },
      ),
    appendPromiseEvents: async (instanceId, events, keep) => {
      if (events.length === 0) return;
      for (const event of events)
        await run(
          'appendPromiseEvent',
          () =>
            db.insertInto('instance_promise_event').values({
              instance_id: param<number>('id'),
              at: param<number>('at'),
              name: param('name'),
              status: param<'pass' | 'fail'>('status'),
              message: param('message'),
            }),
          { id: instanceId, at: event.at, name: event.name, status: event.status, message: event.message },
        );
      await keepNewest('instance_promise_event', instanceId, keep);
    },
    listPromiseEvents: async (instanceId) =>
      await all<PromiseEventRecord>(
        'listPromiseEvents',
        () =>
          db
            .selectFrom('instance_promise_event')
            .select(['name', 'status', 'message', 'at'])
            .where('instance_id', '=', param<number>('id'))
            .orderBy('at', 'desc')
            .orderBy('id', 'desc'),
        { id: instanceId },
      ),
    listUsageRecords: async (computeNodeId, query) => {
      const rows = await all<UsageRecordRow>(
        'listUsageRecords',
        () =>
          db
            .selectFrom('usage_record')
            .select([
              'partition_reference',
              'instance_id',
              'owner',
              'instance_tree',
              'resource',
              'title',
              'quantity',
              'start_at',
              'stop_at',
              'recorded_at',
            ])
            .where('compute_node_reference', '=', param('node'))
            .where('stop_at', '>=', param<number>('from'))
            .where('stop_at', '<=', param<number>('to'))
            .orderBy('stop_at')
            .orderBy('partition_reference')
            .orderBy('start_at')
            .orderBy('resource')
            .limit(param<number>('limit')),
        { node: computeNodeId, from: query.from, to: query.to, limit: query.limit },
      );
      return rows.map((row) => ({
        computeNodeId,
        partitionId: row.partition_reference,
        holder:
          row.instance_id === null
            ? null
            : { instanceId: row.instance_id, owner: row.owner ?? '', instanceTree: row.instance_tree ?? '' },
        resource: row.resource,
        title: row.title,
        quantity: Number(row.quantity),
        start: Number(row.start_at),
        stop: Number(row.stop_at),
        recordedAt: Number(row.recorded_at),
      }));
    },
    listUsagePoints: async (subject, query) => {
      const args = { resource: query.resource, from: query.from, to: query.to, limit: query.limit };
      const latest =
        'computeNodeId' in subject
          ? await all<UsagePoint>(
              'listNodeUsagePoints',
              () =>
                db
                  .selectFrom('usage_record')
                  .select(['stop_at as stop', (eb) => eb.fn.sum<number>('quantity').as('quantity')])
                  .where('compute_node_reference', '=', param('node'))
                  .where('resource', '=', param('resource'))
                  .where('stop_at', '>=', param<number>('from'))
                  .where('stop_at', '<=', param<number>('to'))
                  .where('partition_reference', '<>', '')
                  .groupBy('stop_at')
                  .orderBy('stop_at', 'desc')
                  .limit(param<number>('limit')),
              { ...args, node: subject.computeNodeId },
            )
          : await all<UsagePoint>(
              'listInstanceUsagePoints',
              () =>
                db
                  .selectFrom('usage_record')
                  .select(['stop_at as stop', 'quantity'])
                  .where('instance_id', '=', param<number>('instance'))
                  .where('resource', '=', param('resource'))
                  .where('stop_at', '>=', param<number>('from'))
                  .where('stop_at', '<=', param<number>('to'))
                  .orderBy('stop_at', 'desc')
                  .limit(param<number>('limit')),
              { ...args, instance: subject.instanceId },
            );
      // PostgreSQL's sum of double precision is a double; pg may hand numerics over as text.
      return latest
        .reverse()
        .map((point) => ({ stop: Number(point.stop), quantity: Number(point.quantity) }));
    },

    getNodeRevision: async (computeNodeId) => {
      const row = await get<{ revision: number }>(
        'getNodeRevision',
        () =>
          db
            .selectFrom('compute_node_revision')
            .select('revision')
            .where('compute_node_reference', '=', param('node')),
        { node: computeNodeId },
      );
      return row?.revision ?? 0;
    },
    bumpNodeRevision: async (computeNodeId) => {
      await run(
        'bumpNodeRevision',
        () =>
          db
            .insertInto('compute_node_revision')
            .values({ compute_node_reference: param('node'), revision: 1 })
            .onConflict((conflict) =>
              conflict
                .column('compute_node_reference')
                .doUpdateSet((eb) => ({ revision: eb('compute_node_revision.revision', '+', 1) })),
            ),
        { node: computeNodeId },
      );
      hooks.nodeBumped(computeNodeId);
    },
    bumpDependencySerial: async (key, now) => {
      await run(
        'bumpDependencySerial',
        () =>
          db
            .updateTable('partition')
            .set((eb) => ({
              dependency_serial: eb('dependency_serial', '+', 1),
              dependency_changed_at: param('now'),
            }))
            .where('compute_node_reference', '=', param('node'))
            .where('reference', '=', param('partition')),
        { ...nodeAndPartition(key), now },
      );
      return repository.bumpNodeRevision(key.computeNodeId);
    },
    listInstanceStatusFacts: async () => {
      const rows = await all<DeploymentColumns>('listInstanceStatusFacts', () =>
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
          .select([
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
          ])
          .where('i.shared', '=', 0),
      );
      return rows.flatMap((row) => deploymentFactsOf(row) ?? []);
    },
    readNodeSnapshot: async (computeNodeId) => {
      const args = { node: computeNodeId };
      const instances = await all<InstanceRow>(
        'snapshotInstances',
        () =>
          selectInstances(db)
            .where('p.compute_node_reference', '=', param('node'))
            .where('p.slap_state', '=', 'busy')
            .where('i.shared', '=', 0)
            .orderBy('p.id'),
        args,
      );
      const addresses = await all<AddressRecord & { partitionId: string }>(
        'snapshotAddresses',
        () =>
          db
            .selectFrom('partition_address as a')
            .innerJoin('partition as p', (join) =>
              join
                .onRef('p.compute_node_reference', '=', 'a.compute_node_reference')
                .onRef('p.reference', '=', 'a.partition_reference'),
            )
            .select([
              'a.partition_reference as partitionId',
              'a.network_interface as networkInterface',
              'a.address',
              'a.netmask',
            ])
            .where('a.compute_node_reference', '=', param('node'))
            .where('p.slap_state', '=', 'busy')
            .orderBy('a.id'),
        args,
      );
      const shared = await all<InstanceRow>(
        'snapshotShared',
        () =>
          selectInstances(db)
            .where('i.compute_node_reference', '=', param('node'))
            .where('i.shared', '=', 1)
            .where('i.requested_state', '!=', 'destroyed')
            .orderBy('i.host_position'),
        args,
      );
      return {
        revision: await repository.getNodeRevision(computeNodeId),
        software: await repository.listSoftwareInstallations(computeNodeId),
        instances: instances.map(toInstance),
        addresses,
        shared: shared.map(toInstance),
      };
    },
  };
  return repository;
}

/**
 * The UsageRepository (usage-repository.ts) written once for every SQL store, merged by
 * kysely-repository.ts into the repository. Rows go in multi-row INSERTs (batch-insert.ts).
 */
import type { Insertable, Kysely } from 'kysely';
import { sql } from '../../lib/kysely.ts';
import { usagePeriodBounds } from '../../core/usage-charges.ts';
import { inBatches, rowArguments, rowPlaceholders } from './batch-insert.ts';
import { param } from './query-params.ts';
import type { UsageRecord } from './repository.ts';
import type {
  MasterDatabase,
  UsageChargeTable,
  UsageIntervalTable,
  UsageJournalTable,
  UsageRecordTable,
} from './schema.ts';
import type { SqlExecutor } from './sql-executor.ts';
import type {
  UsageChargeRecord,
  UsageIntervalKey,
  UsageJournalRecord,
  UsageRepository,
} from './usage-repository.ts';

const RECORD_COLUMNS = [
  'compute_node_reference',
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
] as const satisfies readonly (keyof UsageRecordTable)[];

const INTERVAL_COLUMNS = [
  'partition_reference',
  'start_at',
  'stop_at',
] as const satisfies readonly (keyof UsageIntervalTable)[];

const CHARGE_COLUMNS = [
  'period',
  'owner',
  'instance_tree',
  'instance_id',
  'compute_node_reference',
  'partition_reference',
  'resource',
  'start_at',
  'stop_at',
  'quantity_micro',
] as const satisfies readonly (keyof UsageChargeTable)[];

const JOURNAL_COLUMNS = [
  'id',
  'compute_node_reference',
  'document_hash',
  'sequence',
  'previous_hash',
  'signature',
  'certificate',
  'document',
  'received_at',
] as const;

type JournalRow = Pick<UsageJournalTable, Exclude<(typeof JOURNAL_COLUMNS)[number], 'id'>> & { id: number };

function toJournal(row: JournalRow): UsageJournalRecord {
  const signed = row.sequence !== null && row.signature !== null && row.certificate !== null;
  return {
    id: Number(row.id),
    computeNodeId: row.compute_node_reference,
    documentHash: row.document_hash,
    seal: signed
      ? {
          sequence: Number(row.sequence),
          previousHash: row.previous_hash ?? '',
          signature: row.signature ?? '',
          certificatePem: row.certificate ?? '',
        }
      : null,
    document: row.document,
    receivedAt: Number(row.received_at),
  };
}

function recordRow(record: UsageRecord): Record<(typeof RECORD_COLUMNS)[number], unknown> {
  return {
    compute_node_reference: record.computeNodeId,
    partition_reference: record.partitionId,
    instance_id: record.holder?.instanceId ?? null,
    owner: record.holder?.owner ?? null,
    instance_tree: record.holder?.instanceTree ?? null,
    resource: record.resource,
    title: record.title,
    quantity: record.quantity,
    start_at: record.start,
    stop_at: record.stop,
    recorded_at: record.recordedAt,
  };
}

function chargeRow(charge: UsageChargeRecord): Record<(typeof CHARGE_COLUMNS)[number], unknown> {
  return {
    period: charge.period,
    owner: charge.owner,
    instance_tree: charge.instanceTree,
    instance_id: charge.instanceId,
    compute_node_reference: charge.computeNodeId,
    partition_reference: charge.partitionId,
    resource: charge.resource,
    start_at: charge.start,
    stop_at: charge.stop,
    // Text: pg binds no BigInt, and SQLite's integer affinity stores it as the integer.
    quantity_micro: charge.quantityMicro.toString(),
  };
}

export function createKyselyUsageRepository(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
): UsageRepository {
  const { all, get, run } = executor;
  const selectJournals = () =>
    db.selectFrom('usage_journal as j').select(JOURNAL_COLUMNS.map((column) => `j.${column}` as const));
  return {
    insertUsageJournal: async (journal) => {
      const row = await get<{ id: number }>(
        'insertUsageJournal',
        () =>
          db
            .insertInto('usage_journal')
            .values({
              compute_node_reference: param('node'),
              document_hash: param('hash'),
              sequence: param<number | null>('sequence'),
              previous_hash: param<string | null>('previous'),
              signature: param<string | null>('signature'),
              certificate: param<string | null>('certificate'),
              document: param('document'),
              received_at: param<number>('received'),
            })
            .onConflict((conflict) =>
              conflict.columns(['compute_node_reference', 'document_hash']).doNothing(),
            )
            .returning('id'),
        {
          node: journal.computeNodeId,
          hash: journal.documentHash,
          sequence: journal.seal?.sequence ?? null,
          previous: journal.seal?.previousHash ?? null,
          signature: journal.seal?.signature ?? null,
          certificate: journal.seal?.certificatePem ?? null,
          document: journal.document,
          received: journal.receivedAt,
        },
      );
      return row === undefined ? undefined : Number(row.id);
    },
    insertUsageRecords: (records) =>
      inBatches(records, (batch) =>
        run(
          `insertUsageRecords:${batch.length}`,
          () =>
            db
              .insertInto('usage_record')
              .values(
                rowPlaceholders(batch.length, RECORD_COLUMNS) as unknown as Insertable<UsageRecordTable>[],
              )
              .onConflict((conflict) =>
                conflict
                  .columns([
                    'compute_node_reference',
                    'partition_reference',
                    'start_at',
                    'stop_at',
                    'resource',
                  ])
                  .doNothing(),
              ),
          rowArguments(batch.map(recordRow), RECORD_COLUMNS),
        ),
      ),
    insertUsageIntervals: async (computeNodeId, journalId, intervals) => {
      const stored: UsageIntervalKey[] = [];
      await inBatches(intervals, async (batch) => {
        const rows = await all<Pick<UsageIntervalTable, (typeof INTERVAL_COLUMNS)[number]>>(
          `insertUsageIntervals:${batch.length}`,
          () =>
            db
              .insertInto('usage_interval')
              .values(
                rowPlaceholders(batch.length, INTERVAL_COLUMNS).map((row) => ({
                  ...row,
                  compute_node_reference: param('node'),
                  journal_id: param<number>('journal'),
                })) as unknown as Insertable<UsageIntervalTable>[],
              )
              .onConflict((conflict) =>
                conflict
                  .columns(['compute_node_reference', 'partition_reference', 'start_at', 'stop_at'])
                  .doNothing(),
              )
              .returning(INTERVAL_COLUMNS),
          {
            node: computeNodeId,
            journal: journalId,
            ...rowArguments(
              batch.map((key) => ({
                partition_reference: key.partitionId,
                start_at: key.start,
                stop_at: key.stop,
              })),
              INTERVAL_COLUMNS,
            ),
          },
        );
        for (const row of rows)
          stored.push({
            partitionId: row.partition_reference,
            start: Number(row.start_at),
            stop: Number(row.stop_at),
          });
        return rows.length;
      });
      return stored;
    },
    insertUsageCharges: async (charges) => {
      // One journal's charges: the journal id is bound once per batch.
      const byJournal = new Map<number, UsageChargeRecord[]>();
      for (const charge of charges) {
        const list = byJournal.get(charge.journalId);
        if (list) list.push(charge);
        else byJournal.set(charge.journalId, [charge]);
      }
      for (const [journalId, list] of byJournal)
        await inBatches(list, (batch) =>
          run(
            `insertUsageCharges:${batch.length}`,
            () =>
              db.insertInto('usage_charge').values(
                rowPlaceholders(batch.length, CHARGE_COLUMNS).map((row) => ({
                  ...row,
                  journal_id: param<number>('journal'),
                })) as unknown as Insertable<UsageChargeTable>[],
              ),
            { journal: journalId, ...rowArguments(batch.map(chargeRow), CHARGE_COLUMNS) },
          ),
        );
    },
    sumUsageCharges: async ({ period, from, to }) => {
      const bounds = usagePeriodBounds(period);
      const rows = await all<{ owner: string; instance_tree: string; resource: string; quantity: string }>(
        'sumUsageCharges',
        () =>
          db
            .selectFrom('usage_charge')
            .select([
              'owner',
              'instance_tree',
              'resource',
              // Exact whatever the size: SQLite's integer sum and PostgreSQL's numeric, as text.
              sql<string>`CAST(SUM(quantity_micro) AS TEXT)`.as('quantity'),
            ])
            .where('period', '=', param<number>('period'))
            .where('start_at', '>=', param<number>('from'))
            .where('start_at', '<', param<number>('to'))
            .groupBy(['owner', 'instance_tree', 'resource'])
            .orderBy('owner')
            .orderBy('instance_tree')
            .orderBy('resource'),
        { period, from: from ?? bounds.from, to: to ?? bounds.to },
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
          'listTreeAllocations',
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
              .where('allocated_at', '<', param<number>('to')),
          { from, to },
        )
      ).map((row) => ({
        owner: row.owner,
        instanceTree: row.instanceTree,
        allocatedAt: Number(row.allocatedAt),
        releasedAt: row.releasedAt === null ? null : Number(row.releasedAt),
      })),
    listUsageJournals: async ({ computeNodeId, fromSequence, limit }) =>
      (
        await all<JournalRow>(
          'listUsageJournals',
          () =>
            selectJournals()
              .where('j.compute_node_reference', '=', param('node'))
              .where('j.sequence', '>=', param<number>('from'))
              .orderBy('j.sequence')
              .orderBy('j.id')
              .limit(param<number>('limit')),
          { node: computeNodeId, from: fromSequence ?? 1, limit },
        )
      ).map(toJournal),
    listChargedUsageJournals: async ({ owner, period }) =>
      (
        await all<JournalRow>(
          'listChargedUsageJournals',
          () =>
            selectJournals()
              .where('j.id', 'in', (eb) =>
                eb
                  .selectFrom('usage_charge')
                  .select('journal_id')
                  .where('period', '=', param<number>('period'))
                  .where('owner', '=', param('owner')),
              )
              .orderBy('j.id'),
          { owner, period },
        )
      ).map(toJournal),
  };
}

/**
 * The BackupRepository (backup-repository.ts) written once for every SQL store, merged by
 * kysely-repository.ts into the repository; it runs inside the store's transactions.
 */
import type { Kysely } from 'kysely';
import type {
  BackupEndpointRecord,
  BackupListingRecord,
  BackupMemberRecord,
  BackupRepository,
  BackupRole,
  BackupTreeRecord,
} from './backup-repository.ts';
import { param } from './query-params.ts';
import type { BackupMemberTable, BackupTreeTable, MasterDatabase } from './schema.ts';
import type { SqlExecutor } from './sql-executor.ts';

const TREE_COLUMNS = [
  'root_instance_id',
  'password',
  'clones',
  'epoch',
  'backup_requested_at',
  'restore_request_json',
  'restore_source_root_id',
  'last_restore_json',
  'created_at',
] as const;

const MEMBER_COLUMNS = [
  'instance_id',
  'root_instance_id',
  'role',
  'restored_backup_id',
  'restored_at',
  'last_backup_id',
  'last_backup_at',
  'fenced_at',
  'updated_at',
] as const;

function toTree(row: BackupTreeTable): BackupTreeRecord {
  return {
    rootInstanceId: row.root_instance_id,
    password: row.password,
    clones: row.clones,
    epoch: row.epoch,
    backupRequestedAt: row.backup_requested_at,
    restoreRequestJson: row.restore_request_json,
    restoreSourceRootId: row.restore_source_root_id,
    lastRestoreJson: row.last_restore_json,
    createdAt: row.created_at,
  };
}

function toMember(row: BackupMemberTable): BackupMemberRecord {
  return {
    instanceId: row.instance_id,
    rootInstanceId: row.root_instance_id,
    role: row.role as BackupRole,
    restoredBackupId: row.restored_backup_id,
    restoredAt: row.restored_at,
    lastBackupId: row.last_backup_id,
    lastBackupAt: row.last_backup_at,
    fencedAt: row.fenced_at,
    updatedAt: row.updated_at,
  };
}

export function createKyselyBackupRepository(
  db: Kysely<MasterDatabase>,
  executor: SqlExecutor,
): BackupRepository {
  const { all, get, run } = executor;
  const setTreeColumn = async (
    key: string,
    column: 'clones' | 'backup_requested_at' | 'last_restore_json',
    rootInstanceId: number,
    value: unknown,
  ): Promise<void> => {
    await run(
      `backups:${key}`,
      () =>
        db
          .updateTable('backup_tree')
          .set({ [column]: param('value') })
          .where('root_instance_id', '=', param<number>('root')),
      { root: rootInstanceId, value },
    );
  };
  return {
    async getBackupTree(rootInstanceId) {
      const row = await get<BackupTreeTable>(
        'backups:getTree',
        () =>
          db
            .selectFrom('backup_tree')
            .select(TREE_COLUMNS)
            .where('root_instance_id', '=', param<number>('root')),
        { root: rootInstanceId },
      );
      return row ? toTree(row) : undefined;
    },

    async insertBackupTree(tree) {
      const changed = await run(
        'backups:insertTree',
        () =>
          db
            .insertInto('backup_tree')
            .values({
              root_instance_id: param<number>('root'),
              password: param('password'),
              clones: param<number>('clones'),
              epoch: param<number>('epoch'),
              backup_requested_at: param<number | null>('backupRequestedAt'),
              restore_request_json: param<string | null>('restoreRequestJson'),
              restore_source_root_id: param<number | null>('restoreSourceRootId'),
              last_restore_json: param<string | null>('lastRestoreJson'),
              created_at: param<number>('createdAt'),
            })
            .onConflict((conflict) => conflict.column('root_instance_id').doNothing()),
        {
          root: tree.rootInstanceId,
          password: tree.password,
          clones: tree.clones,
          epoch: tree.epoch,
          backupRequestedAt: tree.backupRequestedAt,
          restoreRequestJson: tree.restoreRequestJson,
          restoreSourceRootId: tree.restoreSourceRootId,
          lastRestoreJson: tree.lastRestoreJson,
          createdAt: tree.createdAt,
        },
      );
      return changed > 0;
    },

    async listResilientBackupTrees() {
      const rows = await all<BackupTreeTable>('backups:listResilientTrees', () =>
        db
          .selectFrom('backup_tree')
          .select(TREE_COLUMNS)
          .where('clones', '>', 0)
          .orderBy('clones')
          .orderBy('root_instance_id'),
      );
      return rows.map(toTree).sort((a, b) => a.rootInstanceId - b.rootInstanceId);
    },

    setBackupTreeClones: (rootInstanceId, clones) =>
      setTreeColumn('setTreeClones', 'clones', rootInstanceId, clones),
    setBackupRequestedAt: (rootInstanceId, at) =>
      setTreeColumn('setRequestedAt', 'backup_requested_at', rootInstanceId, at),
    async setBackupRestoreRequest(rootInstanceId, json, sourceRootId) {
      await run(
        'backups:setRestoreRequest',
        () =>
          db
            .updateTable('backup_tree')
            .set({
              restore_request_json: param<string | null>('json'),
              restore_source_root_id: param<number | null>('source'),
            })
            .where('root_instance_id', '=', param<number>('root')),
        { root: rootInstanceId, json, source: sourceRootId },
      );
    },
    setBackupLastRestore: (rootInstanceId, json) =>
      setTreeColumn('setLastRestore', 'last_restore_json', rootInstanceId, json),

    async listBackupTreesRestoringFrom(sourceRootId) {
      const rows = await all<BackupTreeTable>(
        'backups:listRestoringFrom',
        () =>
          db
            .selectFrom('backup_tree')
            .select(TREE_COLUMNS)
            .where('restore_source_root_id', '=', param<number>('source'))
            .orderBy('root_instance_id'),
        { source: sourceRootId },
      );
      return rows.map(toTree);
    },

    async advanceBackupEpoch(rootInstanceId, expected) {
      const changed = await run(
        'backups:advanceEpoch',
        () =>
          db
            .updateTable('backup_tree')
            .set({ epoch: param<number>('next') })
            .where('root_instance_id', '=', param<number>('root'))
            .where('epoch', '=', param<number>('expected')),
        { root: rootInstanceId, expected, next: expected + 1 },
      );
      return changed > 0;
    },

    async getBackupMember(instanceId) {
      const row = await get<BackupMemberTable>(
        'backups:getMember',
        () =>
          db
            .selectFrom('backup_member')
            .select(MEMBER_COLUMNS)
            .where('instance_id', '=', param<number>('id')),
        { id: instanceId },
      );
      return row ? toMember(row) : undefined;
    },

    async listBackupMembers(rootInstanceId) {
      const rows = await all<BackupMemberTable>(
        'backups:listMembers',
        () =>
          db
            .selectFrom('backup_member')
            .select(MEMBER_COLUMNS)
            .where('root_instance_id', '=', param<number>('root'))
            .orderBy('instance_id'),
        { root: rootInstanceId },
      );
      return rows.map(toMember);
    },

    async putBackupMember(member) {
      await run(
        'backups:putMember',
        () =>
          db
            .insertInto('backup_member')
            .values({
              instance_id: param<number>('id'),
              root_instance_id: param<number>('root'),
              role: param('role'),
              restored_backup_id: param<string | null>('restoredBackupId'),
              restored_at: param<number | null>('restoredAt'),
              last_backup_id: param<string | null>('lastBackupId'),
              last_backup_at: param<number | null>('lastBackupAt'),
              fenced_at: param<number | null>('fencedAt'),
              updated_at: param<number>('updatedAt'),
            })
            .onConflict((conflict) =>
              conflict.column('instance_id').doUpdateSet((eb) => ({
                root_instance_id: eb.ref('excluded.root_instance_id'),
                role: eb.ref('excluded.role'),
                restored_backup_id: eb.ref('excluded.restored_backup_id'),
                restored_at: eb.ref('excluded.restored_at'),
                last_backup_id: eb.ref('excluded.last_backup_id'),
                last_backup_at: eb.ref('excluded.last_backup_at'),
                fenced_at: eb.ref('excluded.fenced_at'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            ),
        {
          id: member.instanceId,
          root: member.rootInstanceId,
          role: member.role,
          restoredBackupId: member.restoredBackupId,
          restoredAt: member.restoredAt,
          lastBackupId: member.lastBackupId,
          lastBackupAt: member.lastBackupAt,
          fencedAt: member.fencedAt,
          updatedAt: member.updatedAt,
        },
      );
    },

    async getBackupEndpoint(computeNodeId) {
      return get<BackupEndpointRecord>(
        'backups:getEndpoint',
        () =>
          db
            .selectFrom('backup_endpoint')
            .select([
              'compute_node_reference as computeNodeId',
              'url',
              'certificate',
              'updated_at as updatedAt',
            ])
            .where('compute_node_reference', '=', param('node')),
        { node: computeNodeId },
      );
    },

    async putBackupEndpoint(endpoint) {
      await run(
        'backups:putEndpoint',
        () =>
          db
            .insertInto('backup_endpoint')
            .values({
              compute_node_reference: param('node'),
              url: param('url'),
              certificate: param('certificate'),
              updated_at: param<number>('at'),
            })
            .onConflict((conflict) =>
              conflict.column('compute_node_reference').doUpdateSet((eb) => ({
                url: eb.ref('excluded.url'),
                certificate: eb.ref('excluded.certificate'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            ),
        {
          node: endpoint.computeNodeId,
          url: endpoint.url,
          certificate: endpoint.certificate,
          at: endpoint.updatedAt,
        },
      );
    },

    async replaceBackupListing(rootInstanceId, computeNodeId, backups, keep) {
      await run(
        'backups:deleteNodeListing',
        () =>
          db
            .deleteFrom('backup_listing')
            .where('root_instance_id', '=', param<number>('root'))
            .where('compute_node_reference', '=', param('node')),
        { root: rootInstanceId, node: computeNodeId },
      );
      const seen = new Set<string>();
      for (const backup of backups) {
        if (seen.has(backup.backupId)) continue;
        seen.add(backup.backupId);
        await run(
          'backups:insertListing',
          () =>
            db.insertInto('backup_listing').values({
              root_instance_id: param<number>('root'),
              backup_id: param('backupId'),
              time: param<number>('time'),
              compute_node_reference: param('node'),
            }),
          { root: rootInstanceId, node: computeNodeId, backupId: backup.backupId, time: backup.time },
        );
      }
      // The newest `keep` rows stay: the first row past them, and every older one, go.
      const cut = await get<{ time: number; backup_id: string; compute_node_reference: string }>(
        'backups:listingCut',
        () =>
          db
            .selectFrom('backup_listing')
            .select(['time', 'backup_id', 'compute_node_reference'])
            .where('root_instance_id', '=', param<number>('root'))
            .orderBy('time', 'desc')
            .orderBy('backup_id', 'desc')
            .orderBy('compute_node_reference', 'desc')
            .limit(1)
            .offset(param<number>('keep')),
        { root: rootInstanceId, keep },
      );
      if (!cut) return;
      await run(
        'backups:trimListing',
        () =>
          db
            .deleteFrom('backup_listing')
            .where('root_instance_id', '=', param<number>('root'))
            .where((eb) =>
              eb.or([
                eb('time', '<', param<number>('time')),
                eb.and([
                  eb('time', '=', param<number>('time')),
                  eb.or([
                    eb('backup_id', '<', param('backupId')),
                    eb.and([
                      eb('backup_id', '=', param('backupId')),
                      eb('compute_node_reference', '<=', param('node')),
                    ]),
                  ]),
                ]),
              ]),
            ),
        { root: rootInstanceId, time: cut.time, backupId: cut.backup_id, node: cut.compute_node_reference },
      );
    },

    async listBackupListing(rootInstanceId) {
      return all<BackupListingRecord>(
        'backups:listListing',
        () =>
          db
            .selectFrom('backup_listing')
            .select(['backup_id as backupId', 'time', 'compute_node_reference as computeNodeId'])
            .where('root_instance_id', '=', param<number>('root'))
            .orderBy('time', 'desc')
            .orderBy('backup_id', 'desc')
            .orderBy('compute_node_reference', 'desc'),
        { root: rootInstanceId },
      );
    },
  };
}

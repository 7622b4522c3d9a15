/** What a node's backup agent reports of one partition in a backup sync, for tests that play the node. */
import type { WireRequest } from '../client/types.ts';
import type { BackupPartitionReport } from '../master/services/backup-sync.ts';

export type PartitionReport = WireRequest<'/slapos.post.ext.backup_sync'>['partition_list'][number];

/** A partition that declared a backup and holds none yet, with `fields` over it. */
export function partitionReport(
  partitionId: string,
  instanceGuid: string,
  fields: Partial<PartitionReport> = {},
): PartitionReport {
  return {
    partition_id: partitionId,
    instance_guid: instanceGuid,
    declared: true,
    services_stopped: false,
    last_backup: null,
    restored: null,
    backup_list: [],
    restore_done: null,
    ...fields,
  };
}

/** The same report as the master's services take it, for the instance `SOFTINST-<id>` on slappart0. */
export function serviceReport(
  instanceId: number,
  fields: Partial<BackupPartitionReport> = {},
): BackupPartitionReport {
  return {
    partitionId: 'slappart0',
    instanceGuid: `SOFTINST-${instanceId}`,
    declared: true,
    servicesStopped: false,
    lastBackup: null,
    restored: null,
    backupList: [],
    restoreDone: null,
    ...fields,
  };
}

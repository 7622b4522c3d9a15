/**
 * What the backup, restore and takeover commands of `slapos service` share: the message for a
 * service that does not exist, times as people read them, the table of backups and the line of a
 * restore.
 */
import { InvalidArgumentError } from 'commander';
import type { BackupListEntry, RestoreStatus } from '../client/types.ts';
import { restate } from './client-config.ts';
import { oneLine, renderTable } from './text-block.ts';

/** The error of an unknown service, said as `service info` says it. */
export function unknownService(reference: string): (error: unknown) => never {
  return restate(
    'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
    `Instance ${reference} does not exist.`,
    '`slapos service list` shows your services',
  );
}

/** A time in seconds since the epoch as ISO 8601 UTC (what is not a date is shown as it came). */
export function isoTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString();
}

/** One row per backup: its id, when it started, the compute nodes holding it. */
export function backupTable(backups: readonly BackupListEntry[]): string[] {
  return renderTable(
    ['BACKUP ID', 'TIME', 'NODES'],
    backups.map((backup) => [backup.backup_id, isoTime(backup.time), backup.computer_guid_list.join(', ')]),
  );
}

/**
 * A tree's last restore on one line: `last restore: <state> <request id>: <backup> from <source>,
 * requested <time>[, finished <time>][: <the node's message>]`.
 */
export function restoreLine(restore: RestoreStatus): string {
  const backupId = restore.restored_backup_id ?? restore.backup_id;
  const parts = [
    `last restore: ${oneLine(restore.state)} ${oneLine(restore.request_id)}: `,
    backupId === null ? 'the latest backup' : `backup ${oneLine(backupId)}`,
    ` from ${oneLine(restore.source)}, requested ${isoTime(restore.requested_at)}`,
    restore.finished_at === null ? '' : `, finished ${isoTime(restore.finished_at)}`,
    restore.message === '' ? '' : `: ${oneLine(restore.message)}`,
  ];
  return parts.join('');
}

/** A commander parser: a number of seconds, more than 0 and at most a week. */
export function positiveSeconds(value: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!(seconds > 0 && seconds <= 7 * 86400)) {
    throw new InvalidArgumentError(
      `expected a number of seconds (at most a week), got ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}

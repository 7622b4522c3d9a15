/**
 * What the backup, restore and takeover commands of `slapos service` share: the message for a
 * service that does not exist, times as people read them, and the table of backups.
 */
import { InvalidArgumentError } from 'commander';
import type { BackupListEntry } from '../client/types.ts';
import { restate } from './client-config.ts';
import { renderTable } from './text-block.ts';

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

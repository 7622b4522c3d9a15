/**
 * The time a backup id names (contract §0: `YYYYMMDDTHHMMSSmmmZ-xxxx`, made by restic.ts's
 * newBackupId): the same for a backup in every repository holding it, whatever restic recorded.
 */
import { utcFieldsTime } from '../../core/utc-fields.ts';

const BACKUP_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{4}$/;

/** The backup's start in float seconds since the epoch; undefined for anything not a backup id. */
export function backupIdTime(id: string): number | undefined {
  const match = BACKUP_ID.exec(id);
  if (!match) return undefined;
  const time = utcFieldsTime(match.slice(1, 8).map(Number));
  if (time === undefined) return undefined;
  return time / 1000;
}

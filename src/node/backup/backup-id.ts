/**
 * Backup ids (contract §0): `YYYYMMDDTHHMMSSmmmZ-xxxx`, the UTC time the backup started to the
 * millisecond and 4 random hex digits. The same id names a backup in every repository holding it,
 * and ids sort by time.
 */
import { randomBytes } from 'node:crypto';

const BACKUP_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{4}$/;

export function newBackupId(
  epochMs: number,
  random: () => string = () => randomBytes(2).toString('hex'),
): string {
  const iso = new Date(Math.floor(epochMs)).toISOString(); // 2026-12-07T20:30:15.123Z
  const stamp = iso.replace(/[-:]/g, '').replace('.', '');
  return `${stamp}-${random()}`;
}

export function isBackupId(value: unknown): value is string {
  return typeof value === 'string' && backupIdTime(value) !== undefined;
}

/** The backup's start in float seconds since the epoch; undefined for anything not a backup id. */
export function backupIdTime(id: string): number | undefined {
  const match = BACKUP_ID.exec(id);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second, ms] = match.slice(1, 8).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const time = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const back = new Date(time);
  // 20261331T… is not a date: refused rather than rolled over into the next year.
  if (
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day ||
    back.getUTCHours() !== hour ||
    back.getUTCMinutes() !== minute ||
    back.getUTCSeconds() !== second
  )
    return undefined;
  return time / 1000;
}

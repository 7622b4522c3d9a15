/**
 * What the node keeps inside a partition between passes (node.md §4.5): `.timestamp` (the change
 * marker of the last successful processing; its mtime is when), `.slapgrid/partition.json` (what was
 * deployed and what was last reported: our addition, used by the watchdog, offline mode and the
 * anomaly check), `.slapgrid-<partition>-error.log` (the last error), `.slapgrid/log/instance.log`.
 */
import { readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestedState } from '../../core/states.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

export const TIMESTAMP_FILE = '.timestamp';
export const RECORD_FILE = join('.slapgrid', 'partition.json');
export const INSTANCE_LOG_FILE = join('.slapgrid', 'log', 'instance.log');

export function errorLogPath(partitionPath: string, partitionId: string): string {
  return join(partitionPath, `.slapgrid-${partitionId}-error.log`);
}

export interface TimestampFile {
  marker: string;
  /** Seconds since the epoch of the last successful processing (the file's mtime). */
  at: number;
}

export async function readTimestamp(partitionPath: string): Promise<TimestampFile | undefined> {
  const path = join(partitionPath, TIMESTAMP_FILE);
  try {
    const [content, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { marker: content.trim(), at: info.mtimeMs / 1000 };
  } catch {
    return undefined;
  }
}

/** Writes the marker, the file's mtime set to `at` (the pass's clock). */
export async function writeTimestamp(partitionPath: string, marker: string, at: number): Promise<void> {
  const path = join(partitionPath, TIMESTAMP_FILE);
  // Atomic: the watchdog reads it at any time. Not flushed: lost in a crash of the machine, the
  // partition is only processed once more.
  await writeFileAtomic(path, marker, { mode: 0o644, mkdirs: false, durable: false });
  await utimes(path, at, at);
}

export async function removeTimestamp(partitionPath: string): Promise<void> {
  await rm(join(partitionPath, TIMESTAMP_FILE), { force: true });
}

/**
 * The skip rule of node.md §4.2: an unchanged partition is processed again only when `periodicity`
 * seconds passed since its last success (0: every pass; negative: never while unchanged).
 */
export function isUpToDate(input: {
  marker: string;
  timestamp: TimestampFile | undefined;
  periodicity: number;
  now: number;
}): boolean {
  if (input.periodicity === 0 || input.timestamp === undefined) return false;
  if (input.timestamp.marker !== input.marker) return false;
  return input.periodicity < 0 || input.now <= input.timestamp.at + input.periodicity;
}

export interface PartitionRecord {
  instanceGuid: string;
  title: string;
  requestedState: RequestedState;
  softwareReleaseUrl: string;
  /** What the master was last told: `started`, `stopped`, or `error` (with the message). */
  reported: 'started' | 'stopped' | 'error';
  message?: string;
  /**
   * Epoch seconds before which no promise is due for the anomaly check of an up-to-date partition
   * (set by that check; absent after a deployment): until then the check reads nothing else.
   */
  promisesDueAt?: number;
}

export async function readPartitionRecord(partitionPath: string): Promise<PartitionRecord | undefined> {
  try {
    const value = JSON.parse(await readFile(join(partitionPath, RECORD_FILE), 'utf8')) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const record = value as Partial<PartitionRecord>;
    return typeof record.instanceGuid === 'string' && typeof record.reported === 'string'
      ? (record as PartitionRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

export async function writePartitionRecord(partitionPath: string, record: PartitionRecord): Promise<void> {
  await writeFileAtomic(join(partitionPath, RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`, {
    mode: 0o644,
  });
}

/**
 * The node's side of `POST /slapos.post.ext.backup_sync` (contract §3): what the node reports about
 * its partitions, and the master's answer, checked field by field before anything is done with it
 * (its values become directory names, file contents and restic arguments).
 */
import { SlapError } from '../../core/errors.ts';
import { backupIdTime } from './backup-id.ts';

export const BACKUP_ROLES = ['main', 'clone', 'fenced', 'single'] as const;
export type BackupRole = (typeof BACKUP_ROLES)[number];

/** A backup as reported: its id and time (float seconds). */
export interface ReportedBackup {
  backup_id: string;
  time: number;
}

export interface PartitionBackupReport {
  partition_id: string;
  instance_guid: string;
  declared: boolean;
  services_stopped: boolean;
  last_backup: ReportedBackup | null;
  restored: ReportedBackup | null;
  backup_list: ReportedBackup[];
  restore_done: RestoreDone | null;
}

/** A restore request's outcome as reported: `restored_backup_id` is null when it failed. */
export interface RestoreDone {
  request_id: string;
  ok: boolean;
  message: string;
  restored_backup_id: string | null;
}

export interface BackupSyncRequest {
  computer_guid: string;
  repository: { url: string; certificate: string } | null;
  partition_list: PartitionBackupReport[];
}

export interface BackupSyncTarget {
  computer_guid: string;
  url: string;
  certificate: string;
}

/** A node holding backups of a restore's source tree: its repository server, or null (none reported). */
export interface RestoreSourceLocation {
  computer_guid: string;
  url: string | null;
  certificate: string | null;
}

/** Another tree whose backup is restored into this partition's tree (`restore --into`). */
export interface RestoreSource {
  repository: string;
  password: string;
  locations: RestoreSourceLocation[];
}

export interface RestoreRequest {
  request_id: string;
  backup_id: string | null;
  /** null: a backup of the partition's own tree. */
  source: RestoreSource | null;
}

export interface PartitionBackupAssignment {
  partition_id: string;
  instance_guid: string;
  repository: string;
  password: string;
  role: BackupRole;
  epoch: number;
  targets: BackupSyncTarget[];
  writers: string[];
  /** Nodes that may read (never append to) this node's repository of the tree. */
  readers: string[];
  backup_requested_at: number | null;
  restore_request: RestoreRequest | null;
}

export interface BackupSyncAnswer {
  heartbeat_interval: number;
  partition_list: PartitionBackupAssignment[];
}

/** The call to the master; a dependency of the agent (tests give a fake one). */
export type BackupSyncFunction = (
  body: BackupSyncRequest,
  options: { signal?: AbortSignal },
) => Promise<unknown>;

/** At most this many backups per partition in a report (contract §3). */
export const MAX_REPORTED_BACKUPS = 200;

export const REPOSITORY_NAME = /^tree-[0-9]{1,18}$/;
const PARTITION_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const TEXT_ID = /^[\x21-\x7e]{1,255}$/; // printable ASCII, no space: guids, request ids
const MAX_PASSWORD_LENGTH = 1024;
const MAX_CERTIFICATE_LENGTH = 65536;
const MAX_LIST = 64;
/** Locations of a restore's source (contract §2). */
export const MAX_SOURCE_LOCATIONS = 8;

function invalid(where: string, what: string): SlapError {
  return new SlapError(
    'SLAP_ERR_UNAVAILABLE',
    `the master answered slapos.post.ext.backup_sync with an invalid ${where}: ${what}`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, pattern: RegExp, where: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(where, 'not a valid identifier');
  return value;
}

function list(value: unknown, where: string, max = MAX_LIST): unknown[] {
  if (!Array.isArray(value) || value.length > max) throw invalid(where, `expected a list of at most ${max}`);
  return value;
}

function seconds(value: unknown, where: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(where, 'not a time');
  return value;
}

/** An https URL with a host and port, nothing else (no credentials, path, query or fragment). */
export function checkRepositoryUrl(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length > 512) throw invalid(where, 'not a URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(where, 'not a URL');
  }
  if (
    url.protocol !== 'https:' ||
    url.username !== '' ||
    url.password !== '' ||
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search !== '' ||
    url.hash !== '' ||
    /[\s\\]/.test(value)
  )
    throw invalid(where, 'expected https://HOST:PORT');
  return `${url.protocol}//${url.host}`;
}

function certificate(value: unknown, where: string): string {
  if (
    typeof value !== 'string' ||
    value.length > MAX_CERTIFICATE_LENGTH ||
    !/^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/.test(value)
  )
    throw invalid(where, 'not a PEM certificate');
  return value;
}

function repositoryPassword(value: unknown, where: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_PASSWORD_LENGTH ||
    // It goes into a password file read line by line by restic.
    /[\0\r\n\v\f\x1c-\x1e\x85\u2028\u2029]/.test(value)
  )
    throw invalid(where, 'not a usable password'); // its value is never shown
  return value;
}

function textList(value: unknown, where: string): string[] {
  return list(value, where).map((item, k) => text(item, TEXT_ID, `${where}[${k}]`));
}

/** A repository server endpoint: both url and certificate, or neither (the node reported none). */
function sourceLocation(value: unknown, where: string): RestoreSourceLocation {
  if (!isObject(value)) throw invalid(where, 'not an object');
  const computerGuid = text(value.computer_guid, TEXT_ID, `${where}.computer_guid`);
  if (value.url === null && value.certificate === null)
    return { computer_guid: computerGuid, url: null, certificate: null };
  return {
    computer_guid: computerGuid,
    url: checkRepositoryUrl(value.url, `${where}.url`),
    certificate: certificate(value.certificate, `${where}.certificate`),
  };
}

function restoreSource(value: unknown, where: string): RestoreSource | null {
  if (value === null || value === undefined) return null; // a master before restore --into
  if (!isObject(value)) throw invalid(where, 'not an object');
  return {
    repository: text(value.repository, REPOSITORY_NAME, `${where}.repository`),
    password: repositoryPassword(value.password, `${where}.password`),
    locations: list(value.locations, `${where}.locations`, MAX_SOURCE_LOCATIONS).map((location, k) =>
      sourceLocation(location, `${where}.locations[${k}]`),
    ),
  };
}

function assignment(value: unknown, index: number): PartitionBackupAssignment {
  const where = `partition_list[${index}]`;
  if (!isObject(value)) throw invalid(where, 'not an object');
  const role = value.role;
  if (typeof role !== 'string' || !(BACKUP_ROLES as readonly string[]).includes(role))
    throw invalid(`${where}.role`, 'not one of main, clone, fenced, single');
  const password = repositoryPassword(value.password, `${where}.password`);
  const epoch = value.epoch;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0)
    throw invalid(`${where}.epoch`, 'not an integer');
  const restore = value.restore_request;
  let restoreRequest: RestoreRequest | null = null;
  if (restore !== null && restore !== undefined) {
    if (!isObject(restore)) throw invalid(`${where}.restore_request`, 'not an object');
    const backupId = restore.backup_id;
    if (backupId !== null && (typeof backupId !== 'string' || backupIdTime(backupId) === undefined))
      throw invalid(`${where}.restore_request.backup_id`, 'not a backup id');
    restoreRequest = {
      request_id: text(restore.request_id, TEXT_ID, `${where}.restore_request.request_id`),
      backup_id: backupId,
      source: restoreSource(restore.source, `${where}.restore_request.source`),
    };
  }
  return {
    partition_id: text(value.partition_id, PARTITION_ID, `${where}.partition_id`),
    instance_guid: text(value.instance_guid, TEXT_ID, `${where}.instance_guid`),
    repository: text(value.repository, REPOSITORY_NAME, `${where}.repository`),
    password,
    role: role as BackupRole,
    epoch,
    targets: list(value.targets ?? [], `${where}.targets`).map((target, k) => {
      const at = `${where}.targets[${k}]`;
      if (!isObject(target)) throw invalid(at, 'not an object');
      return {
        computer_guid: text(target.computer_guid, TEXT_ID, `${at}.computer_guid`),
        url: checkRepositoryUrl(target.url, `${at}.url`),
        certificate: certificate(target.certificate, `${at}.certificate`),
      };
    }),
    writers: textList(value.writers ?? [], `${where}.writers`),
    // Absent from a master before restore --into.
    readers: textList(value.readers === undefined ? [] : value.readers, `${where}.readers`),
    backup_requested_at: seconds(value.backup_requested_at ?? null, `${where}.backup_requested_at`),
    restore_request: restoreRequest,
  };
}

/** The master's answer, checked; throws SLAP_ERR_UNAVAILABLE naming the first bad field (never a value). */
export function parseSyncAnswer(value: unknown): BackupSyncAnswer {
  if (!isObject(value)) throw invalid('answer', 'not an object');
  const heartbeat = value.heartbeat_interval;
  if (typeof heartbeat !== 'number' || !Number.isFinite(heartbeat) || heartbeat <= 0 || heartbeat > 3600)
    throw invalid('heartbeat_interval', 'expected seconds between 0 and 3600');
  const partitions = list(value.partition_list, 'partition_list', 10_000).map(assignment);
  const seen = new Set<string>();
  for (const partition of partitions) {
    if (seen.has(partition.partition_id)) throw invalid('partition_list', 'a partition is listed twice');
    seen.add(partition.partition_id);
  }
  return { heartbeat_interval: heartbeat, partition_list: partitions };
}

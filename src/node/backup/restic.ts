/**
 * The node's driver of restic (docs/resiliency.md): one method per restic command the backups use,
 * with restic's JSON output where it has one. restic is a proven engine (content-addressed,
 * deduplicated, compressed, encrypted, `check`able); this module only runs it safely:
 *
 * - the password goes through RESTIC_PASSWORD_FILE, a 0600 file in a private temporary directory
 *   removed after the command, never through argv, the environment's values, a log line or an error;
 * - the environment is clean (PATH, HOME, LANG, the password file, the cache directory);
 * - every value given on the command line is checked first and passed as `--option=value` or after
 *   `--`, so none can become another option;
 * - every command has a deadline; a failure is a SlapError carrying restic's last stderr lines.
 *
 * Paths are partition-relative and restic (0.10 and later) stores a relative path as it is under
 * the snapshot's root: a backup of `srv/kv` run in the partition restores to `<into>/srv/kv`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { execFile, type ExecResult } from '../../lib/exec.ts';
import type { Logger } from '../../lib/logger.ts';

/** Where a repository is. */
export interface ResticTarget {
  /** `rest:https://10.0.0.2:8700/tree-17/` or an absolute local directory path. */
  url: string;
  /** Passed through RESTIC_PASSWORD_FILE (a 0600 temporary file), never argv, environment, log. */
  password: string;
  /** The peer repository server's certificate (PEM file) → `--cacert`. */
  caFile?: string | undefined;
  /** Our node certificate and key in one PEM file (0600) → `--tls-client-cert`. */
  clientCertFile?: string | undefined;
}

export interface BackupSummary {
  snapshotId: string;
  backupId: string;
  /** When the backup started, float seconds since the epoch. */
  time: number;
  bytesAdded: number;
  filesNew: number;
  filesChanged: number;
  totalBytes: number;
}

export interface SnapshotInfo {
  snapshotId: string;
  /** Our backup id (the `slapos-backup:` tag), null for a snapshot made otherwise. */
  backupId: string | null;
  /** Float seconds since the epoch. */
  time: number;
  /** The paths as restic recorded them (absolute, under the directory the backup ran in). */
  paths: string[];
  tags: string[];
}

export interface BackupOptions {
  /** The partition root: the backup runs there and `paths` are relative to it. */
  cwd: string;
  paths: readonly string[];
  exclude?: readonly string[];
  backupId: string;
  /** More tags (e.g. `slapos-tree:tree-17`). */
  tags?: readonly string[];
  /** Stops restic (the backup is abandoned: the node is no longer the tree's main). */
  signal?: AbortSignal | undefined;
}

export interface RetentionPolicy {
  last: number;
  hourly: number;
  daily: number;
}

export interface ResticOptions {
  /** The restic executable (default `restic`, from PATH). */
  binary?: string;
  /** RESTIC_CACHE_DIR: restic's local cache of the repositories' metadata. */
  cacheDir: string;
  logger: Logger;
  /** Deadline of one restic command (default 2 hours). */
  timeoutMs?: number;
}

export const BACKUP_TAG_PREFIX = 'slapos-backup:';
export const TREE_TAG_PREFIX = 'slapos-tree:';
export const DEFAULT_RESTIC_TIMEOUT_MS = 2 * 3600_000;
/** The host name every snapshot records: restic finds a backup's parent by host and paths, and a tree's main may move between nodes. */
const SNAPSHOT_HOST = 'slapos';
const STDERR_LINES_KEPT = 12;
const STDERR_CHARS_KEPT = 2000;

const BACKUP_ID_PATTERN = /^\d{8}T\d{9}Z-[0-9a-f]{4}$/;
const SNAPSHOT_ID_PATTERN = /^[0-9a-f]{8,64}$/;
// Control characters and the Unicode line and paragraph separators: none belongs in an argument.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A new backup id for a backup starting at `now`: `YYYYMMDDTHHMMSSmmmZ-xxxx` (UTC), sorting by time. */
export function newBackupId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  return `${stamp.slice(0, 15)}${stamp.slice(15, 19)}-${randomBytes(2).toString('hex')}`;
}

export function isBackupId(value: unknown): value is string {
  return typeof value === 'string' && BACKUP_ID_PATTERN.test(value);
}

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

function checkTarget(target: ResticTarget): void {
  const { url, password } = target;
  if (typeof url !== 'string' || CONTROL.test(url) || url.length > 4096)
    throw invalid('A backup repository location must be a printable string.');
  if (url.startsWith('rest:')) {
    let parsed: URL;
    try {
      parsed = new URL(url.slice('rest:'.length));
    } catch {
      throw invalid('A backup repository URL must be rest:https://HOST:PORT/NAME/.');
    }
    if (parsed.protocol !== 'https:' || parsed.username !== '' || parsed.password !== '')
      throw invalid('A backup repository URL must be rest:https://HOST:PORT/NAME/ without credentials.');
  } else if (!isAbsolute(url) || normalize(url) !== url) {
    throw invalid('A local backup repository must be a normalised absolute directory path.');
  }
  // restic trims the password file's content: a password with spaces around would be another one.
  if (
    typeof password !== 'string' ||
    password === '' ||
    password.trim() !== password ||
    CONTROL.test(password)
  )
    throw invalid('A backup repository password must be non-empty printable text without spaces around it.');
  for (const file of [target.caFile, target.clientCertFile])
    if (file !== undefined && (typeof file !== 'string' || !isAbsolute(file) || CONTROL.test(file)))
      throw invalid('A certificate file of a backup target must be an absolute path.');
}

/** A partition-relative path as the declarations give it: normalised, not absolute, no `..`. */
function checkRelativePath(path: string, what: string): void {
  if (
    typeof path !== 'string' ||
    path === '' ||
    CONTROL.test(path) ||
    isAbsolute(path) ||
    normalize(path) !== path ||
    path.endsWith('/') ||
    path.split('/').includes('..') ||
    path === '.' ||
    path.startsWith('-')
  )
    throw invalid(`A backup ${what} must be a normalised partition-relative path without "..".`);
}

function checkTag(tag: string): void {
  if (typeof tag !== 'string' || tag === '' || tag.includes(',') || CONTROL.test(tag) || tag.length > 256)
    throw invalid('A backup tag must be printable text without commas.');
}

function checkSnapshotId(id: string): void {
  if (typeof id !== 'string' || !SNAPSHOT_ID_PATTERN.test(id))
    throw invalid('A snapshot id is 8 to 64 lowercase hexadecimal digits.');
}

/** restic's last stderr lines, without the password should restic ever print it. */
function stderrTail(stderr: string, password: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line !== '');
  const tail = lines.slice(-STDERR_LINES_KEPT).join('\n').split(password).join('***');
  return tail.length > STDERR_CHARS_KEPT ? tail.slice(-STDERR_CHARS_KEPT) : tail;
}

const WRONG_KEY = /wrong password or no key found/i;
/** What restic says when it cannot reach or open a repository (not damage). */
const UNREACHABLE =
  /unable to open (config|repository)|connection refused|no such host|dial tcp|i\/o timeout|tls:|x509:|certificate|Is there a repository|unable to create lock|repository is already locked/i;
/** What restic says when a repository's content is missing or altered. */
const DAMAGE =
  /ciphertext verification failed|does not match|corrupt|unexpected EOF|invalid data|no such file|not found|404|Load\(<data\/|error for tree|There were \d+ errors|decrypt/i;

function failure(command: string, result: ExecResult, password: string, timeoutMs: number): SlapError {
  const tail = stderrTail(result.stderr, password);
  if (result.timedOut)
    return new SlapError(
      'SLAP_ERR_BACKUP',
      `restic ${command} did not finish within ${timeoutMs / 1000} s.`,
      {
        details: { stderr: tail },
      },
    );
  if (WRONG_KEY.test(tail))
    return new SlapError(
      'SLAP_ERR_BACKUP_KEY',
      `restic ${command}: the repository cannot be opened with this password (wrong key).`,
    );
  const exit = result.exitCode === null ? `signal ${result.signal ?? '?'}` : `exit ${result.exitCode}`;
  const message = `restic ${command} failed (${exit}): ${tail || 'no error output'}`;
  const damaged =
    (command === 'check' && !UNREACHABLE.test(tail)) ||
    (command === 'restore' && DAMAGE.test(tail) && !UNREACHABLE.test(tail));
  return new SlapError(damaged ? 'SLAP_ERR_BACKUP_CORRUPT' : 'SLAP_ERR_BACKUP', message);
}

interface RawSnapshot {
  id?: unknown;
  time?: unknown;
  paths?: unknown;
  tags?: unknown;
}

function toSnapshotInfo(raw: RawSnapshot): SnapshotInfo | undefined {
  if (typeof raw.id !== 'string' || typeof raw.time !== 'string') return undefined;
  const time = Date.parse(raw.time);
  if (!Number.isFinite(time)) return undefined;
  const tags = Array.isArray(raw.tags) ? raw.tags.filter((t): t is string => typeof t === 'string') : [];
  const backupTag = tags.find((tag) => tag.startsWith(BACKUP_TAG_PREFIX));
  const backupId = backupTag?.slice(BACKUP_TAG_PREFIX.length);
  return {
    snapshotId: raw.id,
    backupId: isBackupId(backupId) ? backupId : null,
    time: time / 1000,
    paths: Array.isArray(raw.paths) ? raw.paths.filter((p): p is string => typeof p === 'string') : [],
    tags,
  };
}

function parseJson(text: string, command: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new SlapError('SLAP_ERR_BACKUP', `restic ${command} printed no JSON that parses.`, {
      cause: error,
    });
  }
}

function counter(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

export class Restic {
  private readonly binary: string;
  private readonly cacheDir: string;
  private readonly logger: Logger;
  private readonly timeoutMs: number;

  constructor(options: ResticOptions) {
    this.binary = options.binary ?? 'restic';
    this.cacheDir = options.cacheDir;
    this.logger = options.logger;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_RESTIC_TIMEOUT_MS;
  }

  /** Creates the repository; an existing one that opens with the password is fine (idempotent). */
  async init(target: ResticTarget): Promise<void> {
    const result = await this.exec(target, 'init', [], { allowFailure: true });
    if (result.exitCode === 0) return;
    if (!/config (file )?already exists|already initialized/i.test(result.stderr))
      throw failure('init', result, target.password, this.timeoutMs);
    // It exists: it must open with our password (a wrong key is SLAP_ERR_BACKUP_KEY).
    await this.exec(target, 'cat', ['config']);
  }

  async backup(target: ResticTarget, options: BackupOptions): Promise<BackupSummary> {
    if (!isBackupId(options.backupId)) throw invalid('A backup id is YYYYMMDDTHHMMSSmmmZ-xxxx.');
    const paths: readonly string[] = options.paths;
    if (paths.length === 0) throw invalid('A backup needs at least one path.');
    for (const path of paths) checkRelativePath(path, 'path');
    const exclude = options.exclude ?? [];
    for (const pattern of exclude)
      if (typeof pattern !== 'string' || pattern === '' || CONTROL.test(pattern))
        throw invalid('A backup exclude pattern must be non-empty printable text.');
    const tags = [`${BACKUP_TAG_PREFIX}${options.backupId}`, ...(options.tags ?? [])];
    for (const tag of tags) checkTag(tag);
    const time = Date.now() / 1000;
    const result = await this.exec(
      target,
      'backup',
      [
        '--json',
        '--quiet',
        `--host=${SNAPSHOT_HOST}`,
        ...tags.map((tag) => `--tag=${tag}`),
        ...exclude.map((pattern) => `--exclude=${pattern}`),
        '--',
        ...paths,
      ],
      { cwd: options.cwd, signal: options.signal },
    );
    const summary = result.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => parseJson(line, 'backup') as Record<string, unknown>)
      .find((message) => message['message_type'] === 'summary');
    if (!summary || typeof summary['snapshot_id'] !== 'string')
      throw new SlapError('SLAP_ERR_BACKUP', 'restic backup printed no summary.');
    // The summary gives the snapshot's short id; the listing, its full one.
    const snapshot = (await this.snapshots(target, `${BACKUP_TAG_PREFIX}${options.backupId}`)).at(-1);
    if (!snapshot)
      throw new SlapError(
        'SLAP_ERR_BACKUP',
        `restic backup made no snapshot tagged with backup ${options.backupId}.`,
      );
    return {
      snapshotId: snapshot.snapshotId,
      backupId: options.backupId,
      time,
      bytesAdded: counter(summary['data_added']),
      filesNew: counter(summary['files_new']),
      filesChanged: counter(summary['files_changed']),
      totalBytes: counter(summary['total_bytes_processed']),
    };
  }

  /** The repository's snapshots, oldest first (only those with `tag` when given). */
  async snapshots(target: ResticTarget, tag?: string): Promise<SnapshotInfo[]> {
    if (tag !== undefined) checkTag(tag);
    const result = await this.exec(target, 'snapshots', [
      '--json',
      ...(tag === undefined ? [] : [`--tag=${tag}`]),
    ]);
    const listed = parseJson(result.stdout.trim() || '[]', 'snapshots');
    if (!Array.isArray(listed)) throw new SlapError('SLAP_ERR_BACKUP', 'restic snapshots printed no list.');
    return listed
      .map((raw) => toSnapshotInfo(raw as RawSnapshot))
      .filter((info): info is SnapshotInfo => info !== undefined)
      .sort((a, b) => a.time - b.time || a.snapshotId.localeCompare(b.snapshotId));
  }

  /**
   * Restores a snapshot into `intoDir` (files at `intoDir/<partition-relative path>`), then has restic
   * read them back and compare them with the snapshot (`--verify`). Any damage throws
   * SLAP_ERR_BACKUP_CORRUPT; what was written to `intoDir` is then not to be used (restore into a
   * staging directory and move it into place only on success).
   */
  async restore(target: ResticTarget, snapshotId: string, intoDir: string): Promise<void> {
    checkSnapshotId(snapshotId);
    if (typeof intoDir !== 'string' || !isAbsolute(intoDir) || CONTROL.test(intoDir))
      throw invalid('A restore goes into an absolute directory path.');
    // A missing pack makes restic retry each read for about a minute before it gives up: a check of
    // the repository's structure (index against pack files, every tree; no data read, no lock so
    // pushes go on) finds it in seconds first. Altered data is found by the restore's decryption
    // (authenticated) and by --verify.
    await this.exec(target, 'check', []);
    await this.exec(target, 'restore', ['--verify', `--target=${intoDir}`, '--', snapshotId]);
  }

  /** Applies the retention policy and prunes what no kept snapshot uses (only where we may delete). */
  async forget(target: ResticTarget, keep: RetentionPolicy): Promise<void> {
    for (const value of [keep.last, keep.hourly, keep.daily])
      if (!Number.isSafeInteger(value) || value < 0 || value > 100_000)
        throw invalid('Retention counts are integers from 0 to 100000.');
    // Keeping nothing is never a retention policy: the newest backup always stays.
    if (keep.last < 1) throw invalid('Retention keeps at least the last backup (keep.last ≥ 1).');
    await this.exec(target, 'forget', [
      '--group-by=',
      `--keep-last=${keep.last}`,
      ...(keep.hourly > 0 ? [`--keep-hourly=${keep.hourly}`] : []),
      ...(keep.daily > 0 ? [`--keep-daily=${keep.daily}`] : []),
      '--prune',
    ]);
  }

  /** `restic check` (with `--read-data`: every pack read and verified); SLAP_ERR_BACKUP_CORRUPT on damage. */
  async check(target: ResticTarget, options: { readData: boolean }): Promise<void> {
    // The structure first: a missing pack is found in seconds, where reading it would retry for a minute.
    await this.exec(target, 'check', []);
    if (options.readData) await this.exec(target, 'check', ['--read-data']);
  }

  private async exec(
    target: ResticTarget,
    command: string,
    args: readonly string[],
    options: { cwd?: string; allowFailure?: boolean; signal?: AbortSignal | undefined } = {},
  ): Promise<ExecResult> {
    checkTarget(target);
    const secrets = await mkdtemp(join(tmpdir(), 'slapos-restic-'));
    try {
      const passwordFile = join(secrets, 'password');
      await writeFile(passwordFile, target.password, { mode: 0o600, flag: 'wx' });
      const argv = [
        `--repo=${target.url}`,
        // Appending backups may run while we read: restic's own locks are for its deleting commands.
        ...(command === 'check' || command === 'restore' || command === 'snapshots' ? ['--no-lock'] : []),
        ...(target.caFile === undefined ? [] : [`--cacert=${target.caFile}`]),
        ...(target.clientCertFile === undefined ? [] : [`--tls-client-cert=${target.clientCertFile}`]),
        command,
        ...args,
      ];
      this.logger.debug({ command, repository: target.url }, 'restic: running');
      let result: ExecResult;
      try {
        result = await execFile(this.binary, argv, {
          ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            LANG: 'C.UTF-8',
            RESTIC_PASSWORD_FILE: passwordFile,
            RESTIC_CACHE_DIR: this.cacheDir,
          },
          timeoutMs: this.timeoutMs,
          maxOutputBytes: 4 * 1024 * 1024,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
      } catch (error) {
        throw new SlapError(
          'SLAP_ERR_BACKUP',
          `restic could not be started (${this.binary}): ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      this.logger.debug(
        { command, repository: target.url, exitCode: result.exitCode, durationMs: result.durationMs },
        'restic: done',
      );
      if (options.signal?.aborted)
        throw new SlapError('SLAP_ERR_BACKUP', `restic ${command} was stopped: the work was abandoned.`);
      if (result.exitCode !== 0 && !options.allowFailure)
        throw failure(command, result, target.password, this.timeoutMs);
      return result;
    } finally {
      await rm(secrets, { recursive: true, force: true });
    }
  }
}

/**
 * The node's backup agent (contract §5): beside the node's passes, it syncs with the master every
 * heartbeat (`slapos.post.ext.backup_sync`, given as `sync`) and does what each partition's role in
 * its tree asks:
 * - `main`: backups on the declared period and on request (`backupCommands` first), pushed with
 *   restic to every target (the clones' nodes, at most 2 at once); restore requests (services
 *   stopped, files put in place, restore and check commands, services started again), of the
 *   tree's own backups or of another tree's (`restore --into`: read from that tree's nodes, which
 *   name this node among the readers of their repository);
 * - `single`: the same into a local repository, with retention applied there;
 * - `clone`: the newest backup received in the local repository (woken by the repository server's
 *   `onSnapshot`) is restored into the partition — never under running services — then its restore
 *   and check commands run; retention on that repository (pushers are append-only);
 * - `fenced`: nothing is pushed; its services stopping is reported (the master then makes it a clone).
 * `settle(partitionId)`, awaited by the instance pass before it starts a partition's services,
 * finishes a restore in progress and puts the newest received backup in place first, so that a
 * promoted clone serves the newest data.
 *
 * Work on one partition is serial (a queue per partition); the sync loop never waits for it. The
 * tree's password reaches restic only; it is never logged nor kept on disk by the agent.
 */
import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type Clock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { mapConcurrent } from '../../lib/map-concurrent.ts';
import { pathExists } from '../../lib/path-exists.ts';
import { backoffDelay, type BackoffOptions } from '../agent/backoff.ts';
import { readPartitionRecord } from '../instance/partition-files.ts';
import { localPartitionIds } from '../partitions.ts';
import { backupIdTime } from './backup-id.ts';
import { newBackupId } from './restic.ts';
import { runCommands, runPartitionCommand, type PartitionCommandRunner } from './partition-commands.ts';
import {
  readPartitionState,
  stateForNewTree,
  writePartitionState,
  type PartitionBackupState,
} from './partition-state.ts';
import type { PartitionBackupPlan } from '../../core/backup-declaration.ts';
import type { Restic, ResticTarget, SnapshotInfo } from './restic.ts';
import type { RepositoryPermission } from './repository-server.ts';
import { restoreIntoPlace } from './restore-into-place.ts';
import { backupDue } from './schedule.ts';
import {
  MAX_REPORTED_BACKUPS,
  parseSyncAnswer,
  type BackupSyncFunction,
  type BackupSyncRequest,
  type PartitionBackupAssignment,
  type PartitionBackupReport,
  type ReportedBackup,
  type RestoreRequest,
  type RestoreSource,
} from './sync-protocol.ts';

/** What the agent uses of restic (tests give an in-memory one). */
export type ResticDriver = Pick<Restic, 'init' | 'backup' | 'snapshots' | 'restore' | 'forget' | 'check'>;

/** How the agent stops, starts and looks at a partition's services (the node's supervisor). */
export interface PartitionServices {
  stop(partitionId: string): Promise<void>;
  start(partitionId: string): Promise<void>;
  /** The partitions any of whose programs runs (or is starting): one look for them all. */
  runningPartitions(): Promise<ReadonlySet<string>>;
}

export interface BackupAgentOptions {
  computerId: string;
  instanceRoot: string;
  /** The backup directory: `repositories/` (served), `staging/`, `state/`, `peers/`. */
  directory: string;
  /** This node's repository server as advertised to the master; null without one. */
  repository: { url: string; certificate: string } | null;
  sync: BackupSyncFunction;
  restic: ResticDriver;
  /** The partition's merged declarations; undefined when it declares nothing. */
  readPlan(partitionRoot: string): Promise<PartitionBackupPlan | undefined>;
  services: PartitionServices;
  /** Default: as the partition's user (partition-commands.ts). */
  runCommand?: PartitionCommandRunner;
  /** The node's certificate and key in one PEM file, presented to the peers' repository servers. */
  clientCertFile?: () => Promise<string | undefined>;
  /** Who owns a partition's files (restored files are given to them); undefined: left as restored. */
  partitionOwner?: (partitionRoot: string) => Promise<{ uid: number; gid: number } | undefined>;
  logger?: Logger;
  clock?: Clock;
  /** Between two syncs (default: what the master answers, 5 s before its first answer). */
  heartbeatMs?: number;
  /** Retries of a failed sync, backup or restore (default 1 s doubling up to 5 min). */
  retry?: BackoffOptions;
  /** Local repositories are listed again at least this often (default 60 s; at once on a new snapshot). */
  rescanMs?: number;
  /** `forget --prune` on a local repository at most this often (default 1 h). */
  retentionIntervalMs?: number;
  /** Each backup, restore or check command (default 1 h). */
  commandTimeoutMs?: number;
  /** How long `settle` waits for the first sync after a start (default 3 heartbeats). */
  settleWaitMs?: number;
}

const DEFAULT_HEARTBEAT_MS = 5000;
/** A master without the route (404): asked again this rarely. */
const UNSUPPORTED_RETRY_MS = 600_000;
const PUSH_CONCURRENCY = 2;
/** A restore's message to the master (the route takes 4096 characters). */
const MAX_MESSAGE_LENGTH = 4000;

export class BackupAgent {
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly retry: BackoffOptions;
  private readonly runCommand: PartitionCommandRunner;
  private readonly states = new Map<string, PartitionBackupState>();
  private assignments = new Map<string, PartitionBackupAssignment>();
  private readonly queues = new Map<string, Promise<void>>();
  /** Partitions with a step queued that has not started yet. */
  private readonly waiting = new Set<string>();
  /** Local repositories with snapshots not listed yet (a push arrived, a backup or forget ran). */
  private readonly dirty = new Set<string>();
  private readonly listings = new Map<string, { at: number; snapshots: SnapshotInfo[] }>();
  private readonly initialized = new Set<string>();
  /**
   * The backup each partition is pushing: abandoned when the partition stops being a pusher, and
   * its push to a target abandoned when the master stops listing that target (its node is gone).
   */
  private readonly pushes = new Map<
    string,
    { all: AbortController; targets: Map<string, AbortController> }
  >();
  private heartbeatMs: number;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private closed = false;
  private readonly stopping = new AbortController();
  private syncFailures = 0;
  private unsupported = false;
  private firstSync: { promise: Promise<void>; resolve: () => void };

  constructor(private readonly options: BackupAgentOptions) {
    this.logger = (options.logger ?? silentLogger()).child({ component: 'backup' });
    this.clock = options.clock ?? systemClock;
    this.retry = options.retry ?? { initialMs: 1000, maxMs: 300_000 };
    this.runCommand = options.runCommand ?? runPartitionCommand;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    let resolve = (): void => undefined;
    const promise = new Promise<void>((done) => (resolve = done));
    this.firstSync = { promise, resolve };
  }

  /** Where the local repositories are: what the repository server serves. */
  get repositoriesDirectory(): string {
    return join(this.options.directory, 'repositories');
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops syncing, lets the work in progress finish for `graceMs` (default 30 s). Idempotent. */
  async close(options: { graceMs?: number } = {}): Promise<void> {
    this.closed = true;
    this.stopping.abort();
    this.wakeUp?.();
    await this.loop;
    await Promise.race([this.idle(), sleep(options.graceMs ?? 30_000, undefined, { ref: false })]);
  }

  /** Resolves once no partition work is queued or running. */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  /** Syncs now (and the partitions' work follows). */
  wake(): void {
    this.wakeUp?.();
  }

  /** The repository server stored a snapshot in `repository`: its clone partitions restore it. */
  onSnapshot(repository: string): void {
    this.dirty.add(repository);
    for (const [partitionId, assignment] of this.assignments)
      if (assignment.repository === repository) this.kick(partitionId);
  }

  /**
   * The repository server's `authorize`: the writers the master named for that tree's clone here
   * append; the readers it named for that tree (nodes restoring one of its backups into another
   * tree) read. Append wins over read.
   */
  authorize(access: { computeNodeId: string }, repository: string): RepositoryPermission {
    let permission: RepositoryPermission = 'none';
    for (const assignment of this.assignments.values()) {
      if (assignment.repository !== repository) continue;
      if (
        (assignment.role === 'clone' || assignment.role === 'fenced') &&
        assignment.writers.includes(access.computeNodeId)
      )
        return 'append';
      if (assignment.readers.includes(access.computeNodeId)) permission = 'read';
    }
    return permission;
  }

  /**
   * Awaited before a partition's services start: a partition that received backups (a clone being
   * promoted) gets the newest one in place first, after any restore in progress. Never throws: a
   * failure is logged, and the services start on the data in place.
   */
  async settle(partitionId: string): Promise<void> {
    if (this.closed) return;
    const state = await this.state(partitionId);
    if (!state.receiving) return;
    if (!this.assignments.has(partitionId))
      await Promise.race([
        this.firstSync.promise,
        sleep(this.options.settleWaitMs ?? 3 * this.heartbeatMs, undefined, { ref: false }),
      ]);
    await this.enqueue(partitionId, async () => {
      const current = await this.state(partitionId);
      if (!current.receiving) return;
      const assignment = this.assignments.get(partitionId);
      if (assignment !== undefined && assignment.repository === current.repository)
        try {
          await this.restoreNewest(partitionId, assignment, current, { fresh: true });
        } catch (error) {
          this.logger.error(
            { partition: partitionId, err: describe(error) },
            'settle: the newest backup could not be restored; services start on the data in place',
          );
        }
      current.receiving = false;
      await this.save(partitionId, current);
      this.logger.info({ partition: partitionId, restored: current.restored?.backup_id ?? null }, 'settled');
    });
  }

  /** One sync: the report, the master's answer applied, the partitions' work started. */
  async syncOnce(): Promise<void> {
    const body = await this.report();
    const answer = parseSyncAnswer(await this.options.sync(body, { signal: this.stopping.signal }));
    if (this.options.heartbeatMs === undefined) this.heartbeatMs = answer.heartbeat_interval * 1000;
    const local = new Set(await localPartitionIds(this.options.instanceRoot));
    const next = new Map<string, PartitionBackupAssignment>();
    for (const assignment of answer.partition_list) {
      if (!local.has(assignment.partition_id)) continue;
      next.set(assignment.partition_id, assignment);
      await this.applyAssignment(assignment);
    }
    this.assignments = next;
    this.firstSync.resolve();
    for (const partitionId of next.keys()) this.kick(partitionId);
  }

  /** The sync body: every partition holding an instance, with what this node knows of its backups. */
  async report(): Promise<BackupSyncRequest> {
    const partitions: PartitionBackupReport[] = [];
    // Unknown (the supervisor does not answer): reported as running, never as stopped.
    const running = await this.options.services.runningPartitions().catch(() => undefined);
    for (const partitionId of await localPartitionIds(this.options.instanceRoot)) {
      const root = join(this.options.instanceRoot, partitionId);
      const record = await readPartitionRecord(root);
      if (record === undefined || record.requestedState === 'destroyed') continue;
      const state = await this.state(partitionId);
      const plan = await this.readPlan(root, partitionId);
      partitions.push({
        partition_id: partitionId,
        // The master's word on what is there now (a takeover moves instances before the partition's
        // record follows), else the instance last deployed.
        instance_guid: this.assignments.get(partitionId)?.instance_guid ?? record.instanceGuid,
        declared: plan !== undefined,
        services_stopped: running !== undefined && !running.has(partitionId),
        last_backup: state.lastBackup,
        restored: state.restored,
        backup_list: state.backupList.slice(-MAX_REPORTED_BACKUPS),
        restore_done: state.restoreDone,
      });
    }
    return {
      computer_guid: this.options.computerId,
      repository: this.options.repository,
      partition_list: partitions,
    };
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      let delay = this.heartbeatMs;
      try {
        await this.syncOnce();
        this.syncFailures = 0;
        this.unsupported = false;
      } catch (error) {
        if (this.closed) break;
        if (error instanceof SlapError && error.code === 'SLAP_ERR_NOT_FOUND') {
          if (!this.unsupported)
            this.logger.info('the master has no backup sync: backups are off until it has one');
          this.unsupported = true;
          delay = UNSUPPORTED_RETRY_MS;
        } else {
          this.syncFailures++;
          delay = backoffDelay(this.syncFailures, this.retry);
          this.logger.warn({ err: describe(error), retryInMs: delay }, 'backup sync failed');
        }
      }
      if (this.closed) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private async applyAssignment(assignment: PartitionBackupAssignment): Promise<void> {
    const partitionId = assignment.partition_id;
    const state = await this.state(partitionId);
    // In place: work in progress on the partition holds this object.
    if (state.repository !== assignment.repository)
      Object.assign(state, stateForNewTree(assignment.repository));
    const receivingRole = assignment.role === 'clone' || assignment.role === 'fenced';
    const wasReceiving = state.role === 'clone' || state.role === 'fenced';
    if (receivingRole && !wasReceiving) state.receiving = true;
    if (state.role !== assignment.role)
      this.logger.info(
        { partition: partitionId, repository: assignment.repository, from: state.role, to: assignment.role },
        'backup role',
      );
    // A main fenced (or made a clone) must not push any more: the push in progress is abandoned,
    // whatever it waits for (a peer gone with the network), and the partition's queue moves on.
    // A clone's node the master no longer lists is gone: the push to it is abandoned.
    const push = this.pushes.get(partitionId);
    if (push !== undefined && assignment.role !== 'main' && assignment.role !== 'single') push.all.abort();
    else if (push !== undefined && assignment.role === 'main')
      for (const [name, controller] of push.targets)
        if (!assignment.targets.some((peer) => peer.computer_guid === name)) controller.abort();
    state.role = assignment.role;
    state.instanceGuid = assignment.instance_guid;
    if (state.restoreDone !== null && assignment.restore_request?.request_id !== state.restoreDone.request_id)
      state.restoreDone = null; // the master has it
    await this.save(partitionId, state);
  }

  /** Queues a step for the partition, unless one is already waiting to start. */
  private kick(partitionId: string): void {
    if (this.closed || this.waiting.has(partitionId)) return;
    this.waiting.add(partitionId);
    void this.enqueue(partitionId, () => {
      this.waiting.delete(partitionId);
      return this.step(partitionId);
    });
  }

  /** Runs `work` after what is queued for the partition; a failure is logged, never thrown. */
  private enqueue(partitionId: string, work: () => Promise<void>): Promise<void> {
    const previous = this.queues.get(partitionId) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((error: unknown) =>
        this.logger.error({ partition: partitionId, err: describe(error) }, 'backup work failed'),
      )
      .finally(() => {
        if (this.queues.get(partitionId) === next) this.queues.delete(partitionId);
      });
    this.queues.set(partitionId, next);
    return next;
  }

  private async step(partitionId: string): Promise<void> {
    const assignment = this.assignments.get(partitionId);
    if (assignment === undefined) return;
    const state = await this.state(partitionId);
    const root = join(this.options.instanceRoot, partitionId);
    switch (assignment.role) {
      case 'main':
      case 'single': {
        const request = assignment.restore_request;
        if (request !== null && request.request_id !== state.lastRestoreRequestId)
          await this.executeRestoreRequest(partitionId, assignment, state, request);
        if (state.receiving) {
          // Settle puts the received data in place before the services start, and before any backup.
          // Services that run already were started without it (a one-shot node instance): their
          // data is the tree's now.
          if (!(await this.running(partitionId))) return;
          this.logger.warn({ partition: partitionId }, 'services started without settle: backing them up');
          state.receiving = false;
          await this.save(partitionId, state);
        }
        const plan = await this.readPlan(root, partitionId);
        if (plan === undefined) return;
        const now = this.clock.now();
        const due = backupDue(state, {
          periodSeconds: plan.periodSeconds,
          requestedAt: assignment.backup_requested_at,
          now,
        });
        if (due.due) await this.backup(partitionId, assignment, state, plan, due.reason);
        if (assignment.role === 'single') {
          await this.retain(partitionId, assignment, state, plan);
          await this.refreshListing(partitionId, assignment, state);
        }
        return;
      }
      case 'clone': {
        const retryAt = state.failedRestore?.retryAt;
        if (retryAt === undefined || this.clock.now() >= retryAt)
          await this.restoreNewest(partitionId, assignment, state, { fresh: false });
        else await this.refreshListing(partitionId, assignment, state);
        const plan = await this.readPlan(root, partitionId);
        if (plan !== undefined) await this.retain(partitionId, assignment, state, plan);
        return;
      }
      case 'fenced':
        await this.refreshListing(partitionId, assignment, state);
        return;
    }
  }

  private async backup(
    partitionId: string,
    assignment: PartitionBackupAssignment,
    state: PartitionBackupState,
    plan: PartitionBackupPlan,
    reason: string,
  ): Promise<void> {
    const now = this.clock.now();
    const root = join(this.options.instanceRoot, partitionId);
    const log = this.logger.child({ partition: partitionId, repository: assignment.repository });
    const targets =
      assignment.role === 'single'
        ? [{ name: 'local', target: this.localTarget(assignment) }]
        : await Promise.all(
            assignment.targets.map(async (peer) => ({
              name: peer.computer_guid,
              target: await this.remoteTarget(assignment, peer),
            })),
          );
    const paths = await existingPaths(root, plan.paths);
    if (targets.length === 0 || paths.length === 0) {
      // Tried again at each sync: the first clone's endpoint, the first data, are waited for.
      log.debug(
        { reason: targets.length === 0 ? 'no target yet' : 'none of the declared paths exists' },
        'backup skipped',
      );
      return;
    }
    state.lastAttemptAt = now;
    if (assignment.backup_requested_at !== null) state.handledRequestAt = assignment.backup_requested_at;
    const backupId = newBackupId(new Date(now * 1000));
    let failed: { target: string; error: string }[] = [];
    let pushed = 0;
    const push = {
      all: new AbortController(),
      targets: new Map(targets.map(({ name }) => [name, new AbortController()])),
    };
    this.pushes.set(partitionId, push);
    try {
      await runCommands(this.runCommand, plan.backupCommands, this.commandContext(root, 'backup'));
      const results = await mapConcurrent(targets, PUSH_CONCURRENCY, async ({ name, target }) => {
        const dropped = push.targets.get(name)?.signal ?? new AbortController().signal;
        const signal = AbortSignal.any([this.stopping.signal, push.all.signal, dropped]);
        try {
          await this.ensureInitialized(target);
          const summary = await this.options.restic.backup(target, {
            cwd: root,
            paths,
            exclude: plan.exclude,
            backupId,
            tags: [`slapos-tree:${assignment.repository}`],
            signal,
          });
          log.info(
            { backupId, target: name, bytesAdded: summary.bytesAdded, filesNew: summary.filesNew },
            'backup pushed',
          );
          return 'pushed';
        } catch (error) {
          if (!dropped.aborted) return { target: name, error: describe(error) };
          log.warn({ backupId, target: name }, 'push abandoned: the master no longer lists that clone');
          return 'dropped';
        }
      });
      failed = results.filter((result) => typeof result === 'object');
      pushed = results.filter((result) => result === 'pushed').length;
    } catch (error) {
      failed = [{ target: 'backup command', error: describe(error) }];
    } finally {
      this.pushes.delete(partitionId);
    }
    if (push.all.signal.aborted) {
      // Not a failure to retry: the partition is no longer the tree's main.
      log.warn({ backupId, pushed }, 'backup abandoned: the partition is no longer the main');
      return;
    }
    if (pushed > 0) state.lastBackup = { backup_id: backupId, time: backupIdTime(backupId) ?? now };
    if (assignment.role === 'single' && pushed > 0) this.dirty.add(assignment.repository);
    if (failed.length > 0) {
      state.failures++;
      state.retryAt = now + backoffDelay(state.failures, this.retry) / 1000;
      for (const failure of failed)
        log.warn({ backupId, reason, target: failure.target, err: failure.error }, 'backup failed');
    } else {
      state.failures = 0;
      state.retryAt = null;
      log.info({ backupId, reason, targets: pushed }, 'backup done');
    }
    await this.save(partitionId, state);
  }

  /**
   * Restores the newest backup of the local repository when it is not the one in place. Skipped
   * (logged) while the partition's services run. A failed restore or check is not reported as
   * restored and is tried again later.
   */
  private async restoreNewest(
    partitionId: string,
    assignment: PartitionBackupAssignment,
    state: PartitionBackupState,
    options: { fresh: boolean },
  ): Promise<void> {
    const log = this.logger.child({ partition: partitionId, repository: assignment.repository });
    const snapshots = await this.listLocal(partitionId, assignment, state, options.fresh);
    const newest = newestBackup(snapshots);
    if (newest === undefined || newest.backupId === state.restored?.backup_id) return;
    if (await this.running(partitionId)) {
      log.warn({ backupId: newest.backupId }, 'restore postponed: the partition services run');
      return;
    }
    const root = join(this.options.instanceRoot, partitionId);
    const plan = await this.readPlan(root, partitionId);
    if (plan === undefined) {
      log.warn({ backupId: newest.backupId }, 'restore postponed: the partition declares no data yet');
      return;
    }
    try {
      await this.restoreSnapshot(root, this.localTarget(assignment), newest.snapshotId, plan, {
        rollback: false,
      });
    } catch (error) {
      const failures =
        (state.failedRestore?.backupId === newest.backupId ? state.failedRestore.failures : 0) + 1;
      state.failedRestore = {
        backupId: newest.backupId,
        failures,
        retryAt: this.clock.now() + backoffDelay(failures, this.retry) / 1000,
      };
      await this.save(partitionId, state);
      log.error(
        { backupId: newest.backupId, err: describe(error) },
        'restore failed: not reported as restored',
      );
      return;
    }
    state.failedRestore = null;
    state.restored = { backup_id: newest.backupId, time: newest.time };
    await this.save(partitionId, state);
    log.info({ backupId: newest.backupId }, 'backup restored');
  }

  /**
   * Files in place, then the restore commands, then the checks (the partition's services stopped);
   * what the checks said. With `rollback` (a restore someone asked for, after the release's backup
   * commands saved the data in place), a failed restore command or check puts the previous files
   * back and runs the restore commands on them: the partition is left as it was before the restore.
   */
  private async restoreSnapshot(
    root: string,
    target: ResticTarget,
    snapshotId: string,
    plan: PartitionBackupPlan,
    options: { rollback: boolean },
  ): Promise<string[]> {
    const owner = await this.options.partitionOwner?.(root);
    const placement = await restoreIntoPlace({
      restic: this.options.restic,
      target,
      snapshotId,
      partitionRoot: root,
      stagingParent: join(this.options.directory, 'staging'),
      paths: plan.paths,
      owner,
    });
    if (!options.rollback) await placement.commit();
    try {
      await runCommands(this.runCommand, plan.restoreCommands, this.commandContext(root, 'restore'));
      const checked = await runCommands(
        this.runCommand,
        plan.checkCommands,
        this.commandContext(root, 'check'),
      );
      await placement.commit();
      return checked;
    } catch (error) {
      if (!options.rollback) throw error;
      await placement.rollback();
      try {
        await runCommands(this.runCommand, plan.restoreCommands, this.commandContext(root, 'restore'));
      } catch (again) {
        throw new SlapError(
          'SLAP_ERR_RESTORE_FAILED',
          `${describe(error)}; the previous files are back, but their restore commands failed: ${describe(again)}`,
        );
      }
      throw new SlapError(
        'SLAP_ERR_RESTORE_FAILED',
        `${describe(error)}; rolled back to the data in place before the restore`,
      );
    }
  }

  /**
   * A restore the master asked for: a backup of the partition's own tree (the main reads its
   * targets, a single its local repository), or of the request's source tree (`restore --into`:
   * its locations, this node's own local repository, the others' repository servers). The
   * partition's own plan and commands are used either way.
   */
  private async executeRestoreRequest(
    partitionId: string,
    assignment: PartitionBackupAssignment,
    state: PartitionBackupState,
    request: RestoreRequest,
  ): Promise<void> {
    const log = this.logger.child({ partition: partitionId, requestId: request.request_id });
    const root = join(this.options.instanceRoot, partitionId);
    const repository = request.source?.repository ?? assignment.repository;
    let done: PartitionBackupState['restoreDone'];
    try {
      const sources =
        request.source !== null
          ? await this.sourceTargets(request.source)
          : assignment.role === 'single'
            ? [this.localTarget(assignment)]
            : await Promise.all(assignment.targets.map((peer) => this.remoteTarget(assignment, peer)));
      if (sources.length === 0 && request.source !== null)
        throw new SlapError(
          'SLAP_ERR_NOT_FOUND',
          `no node holding backups of ${repository} can be read from this one (none is this node nor has a repository server)`,
        );
      let chosen: { target: ResticTarget; snapshot: BackupSnapshot } | undefined;
      const errors: string[] = [];
      for (const target of sources) {
        const snapshots = await this.options.restic.snapshots(target).catch((error: unknown) => {
          errors.push(describe(error));
          return [];
        });
        const found =
          request.backup_id === null
            ? newestBackup(snapshots)
            : backupSnapshots(snapshots).find((snapshot) => snapshot.backupId === request.backup_id);
        if (found && (chosen === undefined || found.backupId > chosen.snapshot.backupId))
          chosen = { target, snapshot: found };
        if (found && request.backup_id !== null) break;
      }
      if (chosen === undefined)
        throw new SlapError(
          'SLAP_ERR_NOT_FOUND',
          `${request.backup_id === null ? 'no backup' : `backup ${request.backup_id} is`} in none of the repositories of ${repository}${errors.length > 0 ? ` (${errors[0]})` : ''}`,
        );
      const plan = await this.readPlan(root, partitionId);
      if (plan === undefined)
        throw new SlapError('SLAP_ERR_NOT_FOUND', `partition ${partitionId} declares no data to restore`);
      // The data in place, saved by the release's own backup commands while its services still run:
      // a restore that fails its commands or its check is rolled back to it.
      const saved = await runCommands(
        this.runCommand,
        plan.backupCommands,
        this.commandContext(root, 'backup'),
      ).then(
        () => true,
        (error: unknown) => {
          log.warn(
            { err: describe(error) },
            'the data in place could not be saved first: a failed restore will not be rolled back',
          );
          return false;
        },
      );
      log.info(
        { backupId: chosen.snapshot.backupId, repository },
        'restore requested: stopping the services',
      );
      await this.options.services.stop(partitionId);
      let checked: string[];
      try {
        checked = await this.restoreSnapshot(root, chosen.target, chosen.snapshot.snapshotId, plan, {
          rollback: saved,
        });
      } finally {
        const record = await readPartitionRecord(root);
        if (record?.requestedState === 'started') await this.options.services.start(partitionId);
      }
      state.restored = { backup_id: chosen.snapshot.backupId, time: chosen.snapshot.time };
      const said = checked.length === 0 ? '' : `; checked: ${checked.join('; ')}`;
      done = {
        request_id: request.request_id,
        ok: true,
        message: `restored ${chosen.snapshot.backupId}${said}`.slice(0, MAX_MESSAGE_LENGTH),
        restored_backup_id: chosen.snapshot.backupId,
      };
      log.info({ backupId: chosen.snapshot.backupId }, 'restore done');
    } catch (error) {
      done = {
        request_id: request.request_id,
        ok: false,
        message: describe(error).slice(0, MAX_MESSAGE_LENGTH),
        restored_backup_id: null,
      };
      log.error({ err: done.message }, 'restore failed');
    }
    state.restoreDone = done;
    state.lastRestoreRequestId = request.request_id;
    await this.save(partitionId, state);
    this.wake(); // the master hears of it at once
  }

  /**
   * Where a restore's source tree is read: this node's own repository of it when it holds one, the
   * other locations' repository servers (a location without one is only readable by its own node).
   */
  private async sourceTargets(source: RestoreSource): Promise<ResticTarget[]> {
    const targets: ResticTarget[] = [];
    for (const location of source.locations) {
      if (location.computer_guid === this.options.computerId) {
        if (await this.hasLocalRepository(source)) targets.push(this.localTarget(source));
      } else if (location.url !== null && location.certificate !== null)
        targets.push(
          await this.remoteTarget(source, { url: location.url, certificate: location.certificate }),
        );
    }
    return targets;
  }

  private async retain(
    partitionId: string,
    assignment: PartitionBackupAssignment,
    state: PartitionBackupState,
    plan: PartitionBackupPlan,
  ): Promise<void> {
    const now = this.clock.now();
    const interval = (this.options.retentionIntervalMs ?? 3_600_000) / 1000;
    if (state.retainedAt !== null && now < state.retainedAt + interval) return;
    if (!(await this.hasLocalRepository(assignment))) return;
    try {
      await this.options.restic.forget(this.localTarget(assignment), plan.keep);
      this.dirty.add(assignment.repository);
    } catch (error) {
      this.logger.warn(
        { partition: partitionId, repository: assignment.repository, err: describe(error) },
        'retention failed',
      );
    }
    state.retainedAt = now;
    await this.save(partitionId, state);
  }

  private async refreshListing(
    partitionId: string,
    assignment: PartitionBackupAssignment,
    state: PartitionBackupState,
  ): Promise<void> {
    await this.listLocal(partitionId, assignment, state, false);
  }

  /** The local repository's snapshots (listed again when new ones came or the listing is old). */
  private async listLocal(
    partitionId: string,
    assignment: PartitionBackupAssignment,
    state: PartitionBackupState,
    fresh: boolean,
  ): Promise<SnapshotInfo[]> {
    const repository = assignment.repository;
    const cached = this.listings.get(repository);
    const now = this.clock.now();
    const rescan = (this.options.rescanMs ?? 60_000) / 1000;
    if (cached && !fresh && !this.dirty.has(repository) && now < cached.at + rescan) {
      this.updateBackupList(state, cached.snapshots);
      return cached.snapshots;
    }
    if (!(await this.hasLocalRepository(assignment))) return [];
    this.dirty.delete(repository);
    const snapshots = await this.options.restic.snapshots(this.localTarget(assignment));
    this.listings.set(repository, { at: now, snapshots });
    if (this.updateBackupList(state, snapshots)) await this.save(partitionId, state);
    return snapshots;
  }

  /** Whether the reported list changed. */
  private updateBackupList(state: PartitionBackupState, snapshots: SnapshotInfo[]): boolean {
    const list: ReportedBackup[] = backupSnapshots(snapshots)
      .slice(-MAX_REPORTED_BACKUPS)
      .map((snapshot) => ({ backup_id: snapshot.backupId, time: snapshot.time }));
    if (JSON.stringify(list) === JSON.stringify(state.backupList)) return false;
    state.backupList = list;
    return true;
  }

  /** Whether this node holds `repository` (restic's `config` in it). */
  private hasLocalRepository(repository: { repository: string }): Promise<boolean> {
    return pathExists(join(this.repositoriesDirectory, repository.repository, 'config'));
  }

  private localTarget(repository: { repository: string; password: string }): ResticTarget {
    return { url: join(this.repositoriesDirectory, repository.repository), password: repository.password };
  }

  /** A repository on a peer's repository server, its certificate pinned, our node certificate shown. */
  private async remoteTarget(
    repository: { repository: string; password: string },
    peer: { url: string; certificate: string },
  ): Promise<ResticTarget> {
    // Named after their content: what the master sent never becomes a path.
    const caFile = join(
      this.options.directory,
      'peers',
      `${createHash('sha256').update(peer.certificate).digest('hex')}.pem`,
    );
    if (!(await pathExists(caFile))) await writeFileAtomic(caFile, peer.certificate, { mode: 0o644 });
    const clientCertFile = await this.options.clientCertFile?.();
    return {
      url: `rest:${peer.url}/${repository.repository}/`,
      password: repository.password,
      caFile,
      ...(clientCertFile === undefined ? {} : { clientCertFile }),
    };
  }

  private async ensureInitialized(target: ResticTarget): Promise<void> {
    if (this.initialized.has(target.url)) return;
    await this.options.restic.init(target);
    this.initialized.add(target.url);
  }

  private commandContext(root: string, kind: 'backup' | 'restore' | 'check') {
    return {
      partitionRoot: root,
      kind,
      timeoutMs: this.options.commandTimeoutMs ?? 3_600_000,
      signal: this.stopping.signal,
    };
  }

  private async running(partitionId: string): Promise<boolean> {
    return (await this.options.services.runningPartitions()).has(partitionId);
  }

  private async readPlan(root: string, partitionId: string): Promise<PartitionBackupPlan | undefined> {
    try {
      return await this.options.readPlan(root);
    } catch (error) {
      this.logger.warn({ partition: partitionId, err: describe(error) }, 'unreadable backup declarations');
      return undefined;
    }
  }

  private async state(partitionId: string): Promise<PartitionBackupState> {
    let state = this.states.get(partitionId);
    if (state === undefined) {
      state = await readPartitionState(this.options.directory, partitionId);
      this.states.set(partitionId, state);
    }
    return state;
  }

  private async save(partitionId: string, state: PartitionBackupState): Promise<void> {
    this.states.set(partitionId, state);
    await writePartitionState(this.options.directory, partitionId, state);
  }
}

interface BackupSnapshot {
  snapshotId: string;
  backupId: string;
  /** The backup's start (from its id), float seconds. */
  time: number;
}

/** Snapshots carrying a valid backup id, oldest first. */
function backupSnapshots(snapshots: readonly SnapshotInfo[]): BackupSnapshot[] {
  const result: BackupSnapshot[] = [];
  for (const snapshot of snapshots) {
    if (snapshot.backupId === null) continue;
    const time = backupIdTime(snapshot.backupId);
    if (time !== undefined)
      result.push({ snapshotId: snapshot.snapshotId, backupId: snapshot.backupId, time });
  }
  return result.sort((a, b) => (a.backupId < b.backupId ? -1 : a.backupId > b.backupId ? 1 : 0));
}

function newestBackup(snapshots: readonly SnapshotInfo[]): BackupSnapshot | undefined {
  return backupSnapshots(snapshots).at(-1);
}

/** The declared paths present in the partition (restic refuses a missing one). */
async function existingPaths(root: string, paths: readonly string[]): Promise<string[]> {
  const present = await Promise.all(
    paths.map(async (path) => (await lstat(join(root, path)).catch(() => undefined)) !== undefined),
  );
  return paths.filter((_, index) => present[index]);
}

/** An error as one line for logs and reports (SlapErrors never carry secrets). */
function describe(error: unknown): string {
  if (error instanceof SlapError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

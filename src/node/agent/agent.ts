/**
 * `slapos node run`: the long-running node agent. Instead of the original's cron minute it follows
 * the master's change stream (docs/master.md): it reads the node snapshot, starts what must be done,
 * then long-polls the node's revision and starts again as soon as it moves.
 *
 * - Software releases are built one at a time (bounded), partitions are processed concurrently
 *   (bounded by `instance_concurrency` slots), each as its own task: a long build or a failing
 *   partition never holds the others. A partition gives its slot back once its services are
 *   started: its promises are waited for without holding one, and a freed slot wakes the loop for
 *   the partitions left waiting for one.
 *   A partition waits (without error) until its software release is installed.
 * - A partition is processed when its change marker differs from the last one seen, when its retry
 *   is due (exponential backoff with jitter after a failure; at once if its marker changes), and
 *   every `anomalyIntervalMs` for its promises (an up-to-date pass: no buildout, no restart).
 * - The report pass runs every `reportIntervalMs` and right after destructions.
 * - `request()` (the control channel, control.ts) runs what `slapos node software|instance|report`
 *   would, through the same tasks (never beside them), and resolves with the pass's result;
 *   `node promise` runs the promises of a partition when no task works on it (its processing waits).
 * - `watchLocalSoftware`: the sources of local software releases are watched (source-watcher.ts); an
 *   edit rebuilds the release (as `--force`), then every partition using it is processed again (as
 *   `--force`: its instance profile may have changed). `localChanges` of the status shows it.
 * - Master unreachable: the agent goes `offline`, logs it once, runs the instance pass's offline mode
 *   once (services recorded as started are started if they are not running), and reconnects with
 *   backoff. A master without the change stream (404): the JSON API v0 and polling.
 * - State kept across restarts is on disk (`.timestamp`, `.completed`, `partition.json`): a restarted
 *   agent finds its partitions up to date and restarts nothing; the supervisor keeps the services.
 *
 * Lifecycle (`state`): `starting` → `running` ⇄ `offline` → `stopping` → `stopped`. `close()` stops
 * scheduling, lets running tasks finish for `graceMs`, then aborts them; services are left running.
 * It is idempotent.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MasterClient } from '../../client/master-client.ts';
import type { Clock } from '../../core/clock.ts';
import { EXIT, SlapError } from '../../core/errors.ts';
import type { RequestedState } from '../../core/states.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { Slots, type Slot } from '../../lib/slots.ts';
import type { ExecFunction, RecipeMap } from '../../buildout/recipe.ts';
import type { NodeConfig } from '../config.ts';
import {
  instancePassExitCode,
  PassCache,
  processPartition,
  runInstancePass,
  type InstancePassResult,
  type PartitionItemResult,
  type PartitionOutcome,
} from '../instance/instance-pass.ts';
import { localPartitionIds } from '../partitions.ts';
import {
  isUnreachable,
  passError,
  type NodeMaster,
  type NodeProgressEvent,
  type NodeProgressListener,
  type PassError,
} from '../pass.ts';
import {
  checkPartitionPromises,
  selectLocalPartitions,
  type PromiseCheckResult,
} from '../promise/check-partitions.ts';
import { runReportPass } from '../report/report-pass.ts';
import {
  COMPLETED_FILE,
  runSoftwarePass,
  selectedSoftware,
  softwareDirectory,
  type SoftwareItemResult,
  type SoftwarePassResult,
} from '../software/software-pass.ts';
import { isLocalSoftwareUrl } from '../software/local-sources.ts';
import type { ReportPassResult } from '../report/report-pass.ts';
import type { AgentPassResult, AgentRequest } from './control.ts';
import { SourceWatcher } from './source-watcher.ts';
import {
  JsonApiStateSource,
  type NodeState,
  type WantedPartition,
  type WantedSoftware,
} from '../state-source.ts';
import type { SupervisorControl } from '../supervisor/types.ts';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { fixedStateSource, SnapshotStateSource } from './snapshot-source.ts';
import { pathExists } from '../../lib/path-exists.ts';

export type AgentMaster = NodeMaster & Pick<MasterClient, 'readNodeSnapshot' | 'watchComputeNode'>;

export type AgentLifecycle = 'starting' | 'running' | 'offline' | 'stopping' | 'stopped';

export interface NodeAgentOptions {
  master: AgentMaster;
  supervisor: SupervisorControl;
  /** Called at start and when the supervisor is found missing (starts it again if allowed). */
  ensureSupervisor?: () => Promise<void>;
  logger?: Logger;
  clock?: Clock;
  onProgress?: NodeProgressListener;
  /** Awaited before a partition's services start (the backup agent's settle: backup/agent.ts). */
  settle?: (partitionId: string) => Promise<void>;
  /** Called after each change of the status (state, items). */
  onStatus?: (status: AgentStatus) => void;
  /** Where the status is written as JSON (atomically, at most every 50 ms). */
  statusFile?: string;
  exec?: ExecFunction;
  recipes?: RecipeMap;
  /** Longest long poll (default 30 s). */
  watchTimeoutMs?: number;
  /** Interval of the polling fallback, when the master has no change stream (default 10 s). */
  pollIntervalMs?: number;
  /** Promises (anomaly check) of up-to-date started partitions (default 60 s). */
  anomalyIntervalMs?: number;
  /** The report pass (default 1 h). */
  reportIntervalMs?: number;
  /** Retries of a failed software release or partition (default 2 s doubling up to 10 min). */
  retry?: BackoffOptions;
  /** Reconnections to an unreachable master (default 0.5 s doubling up to 30 s). */
  reconnect?: BackoffOptions;
  /** Partitions deploying at once (default: the node's `instance_concurrency`). */
  partitionConcurrency?: number;
  /** Software releases built at once (default 1, as the original). */
  softwareConcurrency?: number;
  /** How long failing promises of just-started services are retried before reporting (default 10 s). */
  promiseGraceMs?: number;
  /** Rebuild local software releases when their sources change, and redeploy their instances. */
  watchLocalSoftware?: boolean;
  /** Period of the sources' fallback scan (default 5 s). */
  sourceScanIntervalMs?: number;
  /** Told of every pass over an item once it ends (metrics.ts). */
  onPass?: (pass: AgentPass) => void;
}

/** One pass over one item: a software release, a partition (a deployment or a check), the report. */
export interface AgentPass {
  kind: 'software' | 'partition' | 'report';
  /** The item's outcome (a software or partition outcome; `sent`, `nothing` or `failed` for the report). */
  outcome: string;
  seconds: number;
  /** Partition passes: which, and how many of its promises fail after the pass. */
  partitionId?: string;
  failingPromises?: number;
}

/** `kept`: to be removed, but instances still use it (tried again when the revision moves). */
export type SoftwarePhase = 'pending' | 'building' | 'available' | 'removing' | 'kept' | 'failed';
export type PartitionPhase = 'pending' | 'waiting-software' | 'processing' | 'checking' | PartitionOutcome;

export interface AgentItemStatus {
  attempts: number;
  /** Epoch ms of the next retry, after a failure. */
  retryAt?: number;
  error?: PassError;
}

/** What an edit of a local software release's sources set off (the last one per release). */
export interface LocalChangeStatus {
  url: string;
  /** The source file whose change was seen. */
  file: string;
  phase: 'rebuilding' | 'redeploying' | 'redeployed' | 'failed';
  /** Instances to redeploy, and redeployed so far. */
  instances: number;
  redeployed: number;
  /** Epoch ms of the last phase change. */
  updatedAt: number;
  /** One line for people ("rebuilding URL after FILE changed"). */
  message: string;
}

export interface AgentStatus {
  pid: number;
  state: AgentLifecycle;
  /** `stream`: the master's change stream; `poll`: the JSON API v0, polled. */
  mode: 'stream' | 'poll';
  computerGuid: string;
  masterUrl: string;
  revision: number | null;
  startedAt: number;
  updatedAt: number;
  /** Epoch ms of the last state read from the master. */
  lastSyncAt: number | null;
  offlineSince: number | null;
  lastError: string | null;
  software: (AgentItemStatus & { url: string; phase: SoftwarePhase })[];
  partitions: (AgentItemStatus & {
    partitionId: string;
    instanceGuid: string;
    /** The instance's title. */
    title: string;
    requestedState: RequestedState;
    phase: PartitionPhase;
  })[];
  /** Work done since the start (passes over one item each). */
  counters: { snapshots: number; software: number; partitions: number; reports: number };
  /** Rebuilds and redeployments after edits of local software releases (`watchLocalSoftware`). */
  localChanges: LocalChangeStatus[];
}

/** A request waiting for the next pass over an item (`request()`). */
interface Waiter<T> {
  force: boolean;
  resolve: (result: T) => void;
}

interface ItemBase {
  running: boolean;
  failures: number;
  retryAt: number;
  error: PassError | undefined;
}

interface SoftwareItem extends ItemBase {
  wanted: WantedSoftware;
  phase: SoftwarePhase;
  requests: Waiter<SoftwareItemResult>[];
  /** A source changed (the file): rebuild, then redeploy its instances. */
  rebuild: string | undefined;
  /** Kept (still used) at this revision: tried again once it moves, or at `retryAt`. */
  keptRevision: number | null | undefined;
  keptAttempts: number;
}

interface PartitionItem extends ItemBase {
  wanted: WantedPartition;
  phase: PartitionPhase;
  /** Marker and state of the last successful (or up-to-date) processing. */
  doneMarker: string | undefined;
  doneState: RequestedState | undefined;
  /** Marker when it last failed: a new marker is processed at once, whatever the backoff. */
  failedMarker: string | undefined;
  /** A change arrived while it was being processed. */
  dirty: boolean;
  /** performance.now() of the last check. */
  checkedAt: number;
  /** Revision when the master kept a destroyed partition (children left): retried once it moves. */
  pendingRevision: number | undefined;
  /** How many times in a row the master kept it (its retries back off like failures). */
  pendingAttempts: number;
  requests: Waiter<PartitionItemResult>[];
  /** Its software release was rebuilt after an edit: process it again, forced. */
  redeploy: boolean;
  /** Work waiting for its running task to end, to run alone on it (`node promise`), first come first. */
  waitingTurn: (() => void)[];
}

const DEFAULT_RETRY: BackoffOptions = { initialMs: 2000, maxMs: 600_000 };
const DEFAULT_RECONNECT: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

export class NodeAgent {
  private lifecycle: AgentLifecycle = 'starting';
  private mode: 'stream' | 'poll' = 'stream';
  /** False once the master answered the watch with 404: it has snapshots but no change stream. */
  private watchable = true;
  private readonly logger: Logger;
  private readonly source: SnapshotStateSource;
  private readonly software = new Map<string, SoftwareItem>();
  private readonly partitions = new Map<string, PartitionItem>();
  private readonly tasks = new Set<Promise<void>>();
  /** Aborts running passes once the grace period of close() is over. */
  private readonly abort = new AbortController();
  /** Ends waits at once (close()). */
  private readonly stopWaiting = new AbortController();
  private kicked = false;
  private wake: (() => void) | undefined;
  /** The partitions' deployment slots (instance_concurrency). */
  private readonly slots: Slots;
  /** A due partition was left waiting for a slot: a freed slot wakes the loop. */
  private slotWanted = false;
  private revision: number | null = null;
  private lastState: NodeState | undefined;
  private readonly startedAt = Date.now();
  private lastSyncAt: number | null = null;
  private offlineSince: number | null = null;
  private lastError: string | null = null;
  private reportRunning = false;
  private reportDueAt: number;
  private freeCleanupDone = false;
  private readonly counters = { snapshots: 0, software: 0, partitions: 0, reports: 0 };
  private loop: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusWrite: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<NodeProgressListener>();
  /** Called after the next state read (successful or not): requests wait for it. */
  private syncWaiters: (() => void)[] = [];
  private reportWaiters: { resolve: (result: ReportPassResult) => void; reject: (error: Error) => void }[] =
    [];
  private readonly watcher: SourceWatcher | undefined;
  /** Software releases whose sources are watched (or being looked up). */
  private readonly watchedSoftware = new Set<string>();
  /** Local releases built again to record their sources (once each). */
  private readonly recordingSources = new Set<string>();
  private readonly localChanges = new Map<string, LocalChangeStatus & { pending: Set<string> }>();

  constructor(
    private readonly config: NodeConfig,
    private readonly options: NodeAgentOptions,
  ) {
    this.logger = (options.logger ?? silentLogger()).child({ component: 'agent' });
    this.source = new SnapshotStateSource(options.master, config.computerId);
    this.slots = new Slots(options.partitionConcurrency ?? config.instanceConcurrency, () => {
      if (this.slotWanted) this.kick();
    });
    this.reportDueAt = performance.now() + this.reportIntervalMs;
    if (options.watchLocalSoftware)
      this.watcher = new SourceWatcher({
        logger: this.logger,
        onChange: (url, file) => this.sourceChanged(url, file),
        ...(options.sourceScanIntervalMs === undefined
          ? {}
          : { scanIntervalMs: options.sourceScanIntervalMs }),
      });
  }

  get state(): AgentLifecycle {
    return this.lifecycle;
  }

  private get reportIntervalMs(): number {
    return this.options.reportIntervalMs ?? 3600_000;
  }

  /** Starts the loop (once); resolves when the first state was read and its work started, or failed. */
  start(): Promise<void> {
    if (!this.loop) {
      let firstSync: () => void = () => undefined;
      const synced = new Promise<void>((resolve) => (firstSync = resolve));
      this.loop = this.run(firstSync).catch((error: unknown) => {
        this.logger.error({ err: error }, 'the agent loop failed');
        this.lastError = (error as Error).message;
        firstSync();
      });
      return synced;
    }
    return Promise.resolve();
  }

  /** Resolves when the agent has stopped (after close(), or if its loop failed). */
  async finished(): Promise<void> {
    await this.loop;
    await this.closing;
  }

  /**
   * Stops: no new work; running passes get `graceMs` (default 10 s) to finish, then are aborted.
   * Services stay under the supervisor. Idempotent.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      if (this.lifecycle !== 'stopped') this.setState('stopping');
      this.stopWaiting.abort();
      this.watcher?.close();
      this.kick();
      await this.loop;
      const graceMs = options.graceMs ?? 10_000;
      if (this.tasks.size > 0) {
        this.logger.info({ tasks: this.tasks.size, graceMs }, 'waiting for the running passes');
        await Promise.race([Promise.allSettled([...this.tasks]), sleep(graceMs, undefined, { ref: false })]);
      }
      if (this.tasks.size > 0) {
        this.logger.warn({ tasks: this.tasks.size }, 'aborting the passes still running');
        this.abort.abort(new SlapError('SLAP_ERR_UNAVAILABLE', 'the node agent is stopping'));
        await Promise.race([Promise.allSettled([...this.tasks]), sleep(5000, undefined, { ref: false })]);
      }
      this.setState('stopped');
      clearTimeout(this.statusTimer);
      await this.flushStatus();
    })();
    return this.closing;
  }

  /** The status now (also what `statusFile` holds). */
  status(): AgentStatus {
    const common = (item: ItemBase): AgentItemStatus => ({
      attempts: item.failures,
      ...(item.failures > 0 ? { retryAt: Date.now() + Math.max(0, item.retryAt - performance.now()) } : {}),
      ...(item.error === undefined ? {} : { error: item.error }),
    });
    return {
      pid: process.pid,
      state: this.lifecycle,
      mode: this.mode,
      computerGuid: this.config.computerId,
      masterUrl: this.config.masterUrl,
      revision: this.revision,
      startedAt: this.startedAt,
      updatedAt: Date.now(),
      lastSyncAt: this.lastSyncAt,
      offlineSince: this.offlineSince,
      lastError: this.lastError,
      software: [...this.software.values()].map((item) => ({
        url: item.wanted.url,
        phase: item.phase,
        ...common(item),
      })),
      partitions: [...this.partitions.values()].map((item) => ({
        partitionId: item.wanted.partitionId,
        instanceGuid: item.wanted.instanceGuid,
        title: item.wanted.title,
        requestedState: item.wanted.requestedState,
        phase: item.phase,
        ...common(item),
      })),
      counters: { ...this.counters },
      localChanges: [...this.localChanges.values()].map(({ pending: _pending, ...change }) => change),
    };
  }

  // --- the loop ---

  private async run(firstSync: () => void): Promise<void> {
    await this.options.ensureSupervisor?.();
    let reconnects = 0;
    while (!this.stopping) {
      let read: { revision: number | null; state: NodeState };
      try {
        read = await this.readState();
      } catch (error) {
        if (this.stopping) break;
        if (this.mode === 'stream' && error instanceof SlapError && error.code === 'SLAP_ERR_NOT_FOUND') {
          this.mode = 'poll';
          this.logger.warn(
            { masterUrl: this.config.masterUrl },
            'the master has no change stream: falling back to polling the JSON API',
          );
          continue;
        }
        reconnects++;
        await this.onReadFailure(error, reconnects === 1);
        this.synced();
        firstSync();
        await this.pause(backoffDelay(reconnects, this.options.reconnect ?? DEFAULT_RECONNECT));
        continue;
      }
      if (this.offlineSince !== null || reconnects > 0) {
        if (this.offlineSince !== null)
          this.logger.info(
            { offlineMs: Date.now() - this.offlineSince },
            'the master is reachable again: resuming',
          );
        this.offlineSince = null;
        this.lastError = null;
      }
      reconnects = 0;
      this.counters.snapshots++;
      this.lastSyncAt = Date.now();
      const moved = read.revision !== this.revision;
      this.revision = read.revision;
      this.lastState = read.state;
      if (this.lifecycle !== 'running') this.setState('running');
      try {
        await this.reconcile(read.state, moved);
      } catch (error) {
        // Reading local files went wrong (a corrupt format state…): said, then tried again later.
        this.lastError = passError(error).message;
        this.logger.error({ err: error }, 'cannot decide what to do');
        this.synced();
        firstSync();
        await this.pause(backoffDelay(++reconnects, this.options.reconnect ?? DEFAULT_RECONNECT));
        continue;
      }
      this.statusChanged();
      this.synced();
      firstSync();
      await this.waitForChange();
    }
  }

  private get stopping(): boolean {
    return this.stopWaiting.signal.aborted;
  }

  private async readState(): Promise<{ revision: number | null; state: NodeState }> {
    if (this.mode === 'stream') return this.source.readSnapshot(this.stopWaiting.signal);
    const state = await new JsonApiStateSource(this.options.master, this.config.computerId, {
      ...(this.options.clock ? { clock: this.options.clock } : {}),
    }).read({ software: true, partitions: true, signal: this.stopWaiting.signal });
    return { revision: null, state };
  }

  private async onReadFailure(error: unknown, first: boolean): Promise<void> {
    const failure = passError(error);
    this.lastError = failure.message;
    if (!isUnreachable(error)) {
      // A refusal (node not registered yet, …): said once, then retried quietly.
      if (first) this.logger.error({ code: failure.code, hint: failure.hint }, failure.message);
      this.statusChanged();
      return;
    }
    if (this.offlineSince !== null) return;
    this.offlineSince = Date.now();
    this.setState('offline');
    this.logger.warn(
      { err: failure.message },
      'the master cannot be reached: offline, services keep running',
    );
    // Once per outage: what was deployed as started is started if it is not running (after a reboot).
    try {
      const result = await runInstancePass(this.config, {
        master: this.options.master,
        supervisor: this.options.supervisor,
        source: { read: () => Promise.reject(error instanceof Error ? error : new Error(String(error))) },
        logger: this.logger,
        signal: this.abort.signal,
        ...(this.options.onProgress ? { onProgress: this.options.onProgress } : {}),
        ...(this.options.settle ? { settle: this.options.settle } : {}),
      });
      this.logger.debug({ partitions: result.items.length }, 'offline pass done');
    } catch (offlineError) {
      this.logger.warn({ err: offlineError }, 'offline pass failed');
    }
  }

  /** Waits for a revision change (long poll), the next due item, a finished task, or close(). */
  private async waitForChange(): Promise<void> {
    if (this.kicked || this.stopping) {
      this.kicked = false;
      return;
    }
    const dueMs = this.msUntilDue();
    const woken = new Promise<void>((resolve) => (this.wake = resolve));
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    this.stopWaiting.signal.addEventListener('abort', stop, { once: true });
    try {
      const poll = (): Promise<unknown> =>
        sleep(Math.min(this.options.pollIntervalMs ?? 10_000, dueMs), undefined, {
          signal: controller.signal,
        }).catch(() => undefined);
      let wait: Promise<unknown>;
      if (this.mode === 'stream' && this.revision !== null && this.watchable) {
        wait = this.options.master
          .watchComputeNode(
            {
              computerGuid: this.config.computerId,
              afterRevision: this.revision,
              timeoutMs: Math.min(this.options.watchTimeoutMs ?? 30_000, dueMs),
            },
            { signal: controller.signal },
          )
          .catch(async (error: unknown) => {
            if (controller.signal.aborted) return;
            if (error instanceof SlapError && error.code === 'SLAP_ERR_NOT_FOUND') {
              // Snapshots but no change stream (the legacy API): poll the snapshots.
              this.watchable = false;
              this.logger.info(
                { masterUrl: this.config.masterUrl },
                'the master has no change stream: polling the node snapshot',
              );
              await poll();
              return;
            }
            // The snapshot read that follows decides (offline, refused); do not spin meanwhile.
            this.logger.debug({ err: error }, 'watch failed');
            await sleep(500, undefined, { signal: controller.signal }).catch(() => undefined);
          });
      } else {
        wait = poll();
      }
      await Promise.race([wait, woken]);
    } finally {
      controller.abort();
      this.stopWaiting.signal.removeEventListener('abort', stop);
      this.wake = undefined;
      this.kicked = false;
    }
  }

  /** Sleeps `ms`, or less if close() is called. */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopWaiting.signal }).catch(() => undefined);
  }

  /** Makes the loop read the state again now (a task finished). */
  /** Queues a request on each item (the loop runs them) and resolves with their results, in order. */
  private requestAll<T>(items: readonly { requests: Waiter<T>[] }[], force: boolean): Promise<T[]> {
    return Promise.all(
      items.map(
        (item) =>
          new Promise<T>((resolve) => {
            item.requests.push({ force, resolve });
            this.kick();
          }),
      ),
    );
  }

  private kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /**
   * Milliseconds until the next retry, anomaly check or report is due (at least 50). Items already
   * due were left waiting by the concurrency bounds or for their software release: a finished task
   * wakes the loop for them, so they do not shorten the wait.
   */
  private msUntilDue(): number {
    const now = performance.now();
    const watchMs = this.options.watchTimeoutMs ?? 30_000;
    let next = Number.POSITIVE_INFINITY;
    const consider = (at: number): void => {
      if (at > now) next = Math.min(next, at);
    };
    consider(this.reportDueAt);
    const anomaly = this.options.anomalyIntervalMs ?? 60_000;
    for (const item of this.software.values())
      if (!item.running && (item.failures > 0 || item.keptRevision !== undefined)) consider(item.retryAt);
    for (const item of this.partitions.values()) {
      if (item.running) continue;
      if (item.failures > 0 || item.pendingRevision !== undefined) consider(item.retryAt);
      else if (item.wanted.requestedState === 'started' && item.doneMarker !== undefined)
        consider(item.checkedAt + anomaly);
    }
    return next === Number.POSITIVE_INFINITY ? watchMs : Math.max(50, Math.ceil(next - now));
  }

  // --- deciding what to do ---

  private async reconcile(state: NodeState, revisionMoved: boolean): Promise<void> {
    const now = performance.now();
    const wantedSoftware = state.software ?? [];
    const wantedPartitions = state.partitions ?? [];

    const completed = new Map<string, boolean>();
    const isCompleted = async (url: string): Promise<boolean> => {
      let value = completed.get(url);
      if (value === undefined) {
        value = await pathExists(join(softwareDirectory(this.config.softwareRoot, url), COMPLETED_FILE));
        completed.set(url, value);
      }
      return value;
    };

    // Software releases.
    const softwareUrls = new Set(wantedSoftware.map((item) => item.url));
    for (const [url, item] of this.software)
      if (!softwareUrls.has(url) && !item.running) {
        this.software.delete(url);
        this.unwatchSources(url);
        for (const waiter of item.requests.splice(0))
          waiter.resolve(softwareResult(this.config, item.wanted, 'failed', notListed('software release')));
      }
    let buildingNow = [...this.software.values()].filter((item) => item.running).length;
    for (const wanted of wantedSoftware) {
      let item = this.software.get(wanted.url);
      if (!item) {
        item = {
          wanted,
          phase: 'pending',
          running: false,
          failures: 0,
          retryAt: 0,
          error: undefined,
          requests: [],
          rebuild: undefined,
          keptRevision: undefined,
          keptAttempts: 0,
        };
        this.software.set(wanted.url, item);
      }
      item.wanted = wanted;
      if (item.running) continue;
      if (wanted.state === 'destroyed') this.unwatchSources(wanted.url);
      // Asked for by a node command or an edit of its sources: at once, whatever its state.
      const asked = item.requests.length > 0 || item.rebuild !== undefined;
      if (!asked && wanted.state === 'available' && (await isCompleted(wanted.url))) {
        item.phase = 'available';
        item.failures = 0;
        item.error = undefined;
        this.watchSources(wanted.url);
        continue;
      }
      if (!asked && item.failures > 0 && now < item.retryAt) continue;
      if (!asked && item.keptRevision !== undefined) {
        if (wanted.state !== 'destroyed') item.keptRevision = undefined;
        else if (item.keptRevision === this.revision && now < item.retryAt) continue;
      }
      if (buildingNow >= (this.options.softwareConcurrency ?? 1)) continue;
      buildingNow++;
      this.startSoftware(item);
    }

    // Partitions.
    const ids = new Set(wantedPartitions.map((partition) => partition.partitionId));
    for (const [id, item] of this.partitions)
      if (!ids.has(id) && !item.running) {
        this.partitions.delete(id);
        for (const waiter of item.requests.splice(0))
          waiter.resolve({ partitionId: id, outcome: 'free', durationMs: 0 });
      }
    this.slotWanted = false;
    const anomalyMs = this.options.anomalyIntervalMs ?? 60_000;
    let stoppedGroups: Set<string> | undefined;
    // Shared by the partitions started now (user lookups, software periodicities).
    const cache = new PassCache(this.config);
    for (const wanted of wantedPartitions) {
      let item = this.partitions.get(wanted.partitionId);
      if (!item) {
        item = {
          wanted,
          phase: 'pending',
          running: false,
          failures: 0,
          retryAt: 0,
          error: undefined,
          doneMarker: undefined,
          doneState: undefined,
          failedMarker: undefined,
          dirty: false,
          checkedAt: 0,
          pendingRevision: undefined,
          pendingAttempts: 0,
          requests: [],
          redeploy: false,
          waitingTurn: [],
        };
        this.partitions.set(wanted.partitionId, item);
      }
      if (item.running) {
        if (wanted.marker !== item.wanted.marker || wanted.requestedState !== item.wanted.requestedState)
          item.dirty = true;
        continue;
      }
      item.wanted = wanted;
      if (wanted.requestedState !== 'destroyed' && !(await isCompleted(wanted.softwareReleaseUrl))) {
        item.phase = 'waiting-software';
        for (const waiter of item.requests.splice(0))
          waiter.resolve({
            partitionId: wanted.partitionId,
            instanceGuid: wanted.instanceGuid,
            requestedState: wanted.requestedState,
            outcome: 'failed',
            error: {
              code: 'SLAP_ERR_SOFTWARE_NOT_INSTALLED',
              message: `software release ${wanted.softwareReleaseUrl} is not installed on this node yet`,
            },
            durationMs: 0,
          });
        continue;
      }
      const changed = wanted.marker !== item.doneMarker || wanted.requestedState !== item.doneState;
      let due: boolean;
      if (item.failures > 0) due = now >= item.retryAt || wanted.marker !== item.failedMarker;
      else if (item.pendingRevision !== undefined)
        due = changed || (revisionMoved && this.revision !== item.pendingRevision) || now >= item.retryAt;
      else
        due =
          changed || item.dirty || (wanted.requestedState === 'started' && now - item.checkedAt >= anomalyMs);
      if (item.requests.length > 0 || item.redeploy) due = true;
      if (!due) continue;
      const slot = this.slots.tryAcquire();
      if (slot === undefined) {
        this.slotWanted = true;
        continue;
      }
      // (Used only if the partition turns out up to date: a processing starts its services itself.)
      const check = wanted.requestedState === 'started';
      if (check) stoppedGroups ??= await this.stoppedGroups(cache);
      this.startPartition(item, slot, {
        cache,
        startStopped: check && (stoppedGroups?.has(wanted.partitionId) ?? false),
      });
    }

    // Free partitions: the node's leftovers in them are cleaned once, at start.
    if (!this.freeCleanupDone) {
      this.freeCleanupDone = true;
      const local = await localPartitionIds(this.config.instanceRoot);
      const free = local.filter((id) => !ids.has(id));
      if (free.length > 0) this.track(this.cleanFreePartitions(free));
    }

    if (now >= this.reportDueAt && !this.reportRunning) this.startReport(wantedPartitions);
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    const forget = (): void => void this.tasks.delete(task);
    task.then(forget, forget);
  }

  private passOptions() {
    return {
      master: this.options.master,
      logger: this.logger,
      signal: this.abort.signal,
      ...(this.options.clock ? { clock: this.options.clock } : {}),
      onProgress: this.emitProgress,
      ...(this.options.exec ? { exec: this.options.exec } : {}),
      ...(this.options.recipes ? { recipes: this.options.recipes } : {}),
      ...(this.options.settle ? { settle: this.options.settle } : {}),
    };
  }

  /** Tells `onPass` (its failure is logged: metrics never break a pass). */
  private passEnded(pass: Omit<AgentPass, 'seconds'>, started: number): void {
    try {
      this.options.onPass?.({ ...pass, seconds: (performance.now() - started) / 1000 });
    } catch (error) {
      this.logger.warn({ err: error }, 'onPass failed');
    }
  }

  private failed(item: SoftwareItem | PartitionItem, error: PassError): void {
    item.failures++;
    item.error = error;
    const delay = backoffDelay(item.failures, this.options.retry ?? DEFAULT_RETRY);
    item.retryAt = performance.now() + delay;
    const which =
      'partitionId' in item.wanted ? { partition: item.wanted.partitionId } : { software: item.wanted.url };
    this.logger.info({ ...which, attempts: item.failures, retryInMs: delay, code: error.code }, 'will retry');
  }

  private startSoftware(item: SoftwareItem): void {
    const { wanted } = item;
    const waiting = item.requests.splice(0);
    const rebuild = item.rebuild;
    item.rebuild = undefined;
    item.running = true;
    item.phase = wanted.state === 'destroyed' ? 'removing' : 'building';
    this.statusChanged();
    this.counters.software++;
    const started = performance.now();
    this.track(
      (async () => {
        let outcome: SoftwareItemResult | undefined;
        try {
          const result = await runSoftwarePass(this.config, {
            ...this.passOptions(),
            source: fixedStateSource({ software: [wanted] }),
            onlySoftware: [wanted.url],
            force: rebuild !== undefined || waiting.some((waiter) => waiter.force),
          });
          outcome = result.items[0];
          if (!outcome || outcome.outcome === 'failed') {
            item.phase = 'failed';
            this.failed(
              item,
              outcome?.error ?? { code: 'SLAP_ERR_INTERNAL', message: 'the software pass did nothing' },
            );
          } else {
            item.phase =
              outcome.outcome === 'destroyed'
                ? 'removing'
                : outcome.outcome === 'kept'
                  ? 'kept'
                  : 'available';
            item.failures = 0;
            item.error = undefined;
            if (outcome.outcome === 'kept') {
              item.keptRevision = this.revision;
              item.keptAttempts++;
              item.retryAt =
                performance.now() + backoffDelay(item.keptAttempts, this.options.retry ?? DEFAULT_RETRY);
            } else {
              item.keptRevision = undefined;
              item.keptAttempts = 0;
            }
            if (outcome.outcome === 'installed') this.watchSources(wanted.url, { again: true });
          }
        } catch (error) {
          if (!this.abort.signal.aborted) {
            item.phase = 'failed';
            this.failed(item, passError(error));
          }
        } finally {
          outcome ??= softwareResult(
            this.config,
            wanted,
            'failed',
            item.error ?? passError(new SlapError('SLAP_ERR_UNAVAILABLE', 'the node agent is stopping')),
          );
          this.passEnded({ kind: 'software', outcome: outcome.outcome }, started);
          for (const waiter of waiting) waiter.resolve(outcome);
          if (rebuild !== undefined) this.rebuilt(wanted.url, outcome);
          item.running = false;
          this.statusChanged();
          this.kick();
        }
      })(),
    );
  }

  /**
   * Partitions with a STOPPED process: after the supervisor was shut down with its programs (a
   * standalone stop, a reboot) or someone stopped a service by hand, an up-to-date started partition
   * gets its services started again by its next check (the supervisor itself restarts crashed ones).
   */
  private async stoppedGroups(cache: PassCache): Promise<Set<string>> {
    try {
      // The listing the anomaly checks of this round read too: one call to the supervisor.
      const status = await cache.supervisorStatus(this.options.supervisor);
      return new Set(status.processes.filter((p) => p.state === 'STOPPED').map((p) => p.group));
    } catch (error) {
      this.logger.debug({ err: error }, 'supervisor status failed');
      return new Set();
    }
  }

  private startPartition(
    item: PartitionItem,
    slot: Slot,
    { cache, startStopped }: { cache: PassCache; startStopped: boolean },
  ): void {
    const { wanted } = item;
    const waiting = item.requests.splice(0);
    const redeploy = item.redeploy;
    item.redeploy = false;
    const force = redeploy || waiting.some((waiter) => waiter.force);
    item.running = true;
    item.dirty = false;
    const upToDateCheck =
      !force && wanted.marker === item.doneMarker && wanted.requestedState === item.doneState;
    item.phase = upToDateCheck ? 'checking' : 'processing';
    if (!upToDateCheck) this.statusChanged();
    this.counters.partitions++;
    const started = performance.now();
    this.track(
      (async () => {
        let outcome: PartitionItemResult | undefined;
        try {
          const result = await processPartition(this.config, wanted, {
            ...this.passOptions(),
            supervisor: this.options.supervisor,
            cache,
            slot,
            force,
            ...(this.options.promiseGraceMs === undefined
              ? {}
              : { promiseGraceMs: this.options.promiseGraceMs }),
          });
          outcome = result;
          if (result.outcome === 'up-to-date' && startStopped) {
            this.logger.info(
              { partition: wanted.partitionId },
              'starting the stopped services of a started partition',
            );
            const started = await this.options.supervisor.startGroup(wanted.partitionId, { wait: false });
            const failed = started.filter((r) => !r.ok);
            if (failed.length > 0)
              this.logger.warn({ partition: wanted.partitionId, failed }, 'could not start');
          }
          item.checkedAt = performance.now();
          item.phase = result.outcome;
          switch (result.outcome) {
            case 'started':
            case 'stopped':
            case 'up-to-date':
            case 'destroyed':
              item.doneMarker = wanted.marker;
              item.doneState = wanted.requestedState;
              item.failures = 0;
              item.error = undefined;
              item.failedMarker = undefined;
              item.pendingRevision = undefined;
              item.pendingAttempts = 0;
              if (result.outcome === 'destroyed') this.reportDueAt = performance.now();
              break;
            case 'destroy-pending':
              // The master frees it once its children are gone: retried when the revision moves.
              item.doneMarker = wanted.marker;
              item.doneState = wanted.requestedState;
              item.failures = 0;
              item.error = undefined;
              item.pendingRevision = this.revision ?? -1;
              item.pendingAttempts++;
              item.retryAt =
                performance.now() + backoffDelay(item.pendingAttempts, this.options.retry ?? DEFAULT_RETRY);
              break;
            default:
              item.failedMarker = wanted.marker;
              this.failed(
                item,
                result.error ?? { code: 'SLAP_ERR_INTERNAL', message: `partition ${result.outcome}` },
              );
              if (result.error?.code === 'SLAP_ERR_SUPERVISOR_NOT_RUNNING')
                await this.options
                  .ensureSupervisor?.()
                  .catch((error: unknown) =>
                    this.logger.error({ err: error }, 'cannot start the supervisor'),
                  );
          }
        } catch (error) {
          if (!this.abort.signal.aborted) {
            item.phase = 'failed';
            item.failedMarker = wanted.marker;
            this.failed(item, passError(error));
          }
        } finally {
          outcome ??= {
            partitionId: wanted.partitionId,
            instanceGuid: wanted.instanceGuid,
            requestedState: wanted.requestedState,
            outcome: 'failed',
            error:
              item.error ?? passError(new SlapError('SLAP_ERR_UNAVAILABLE', 'the node agent is stopping')),
            durationMs: 0,
          };
          slot.release();
          this.passEnded(
            {
              kind: 'partition',
              outcome: outcome.outcome,
              partitionId: wanted.partitionId,
              failingPromises: outcome.promises?.length ?? 0,
            },
            started,
          );
          for (const waiter of waiting) waiter.resolve(outcome);
          if (redeploy) this.redeployed(wanted, outcome);
          item.running = false;
          if (!upToDateCheck || item.phase !== 'up-to-date') this.statusChanged();
          item.waitingTurn.shift()?.();
          this.kick();
        }
      })(),
    );
  }

  private startReport(partitions: readonly WantedPartition[]): void {
    const waiting = this.reportWaiters.splice(0);
    this.reportRunning = true;
    this.reportDueAt = performance.now() + this.reportIntervalMs;
    this.counters.reports++;
    const started = performance.now();
    // Destroyed partitions are the partition tasks' business; the report pass sends usage.
    const alive = partitions.filter((partition) => partition.requestedState !== 'destroyed');
    this.track(
      (async () => {
        try {
          const result = await runReportPass(this.config, {
            ...this.passOptions(),
            supervisor: this.options.supervisor,
            source: fixedStateSource({ partitions: alive }),
          });
          if (result.sendError) this.logger.warn({ err: result.sendError.message }, 'usage not sent');
          const outcome = result.sendError ? 'failed' : result.sent ? 'sent' : 'nothing';
          this.passEnded({ kind: 'report', outcome }, started);
          for (const waiter of waiting) waiter.resolve(result);
        } catch (error) {
          this.passEnded({ kind: 'report', outcome: 'failed' }, started);
          if (!this.abort.signal.aborted) this.logger.warn({ err: error }, 'report pass failed');
          for (const waiter of waiting)
            waiter.reject(error instanceof Error ? error : new Error(String(error)));
        } finally {
          this.reportRunning = false;
        }
      })(),
    );
  }

  private async cleanFreePartitions(ids: string[]): Promise<void> {
    try {
      await runInstancePass(this.config, {
        ...this.passOptions(),
        supervisor: this.options.supervisor,
        source: fixedStateSource({ partitions: [] }),
        onlyPartitions: ids,
      });
    } catch (error) {
      if (!this.abort.signal.aborted) this.logger.warn({ err: error }, 'cleaning free partitions failed');
    }
  }

  // --- requests (the control channel) ---

  /**
   * Does what `slapos node software|instance|report` would (control.ts), through the agent's own
   * tasks, after reading the master's state afresh; `onEvent` gets the progress of that work only.
   * Resolves with the result the one-shot pass returns.
   */
  async request(
    request: AgentRequest,
    onEvent: NodeProgressListener,
    signal?: AbortSignal,
  ): Promise<AgentPassResult> {
    // Local work only (as the one-shot command, it needs no master): no state read first.
    if (request.command === 'promise') return this.checkPromises(request, signal);
    const started = performance.now();
    const abortable = <T>(promise: Promise<T>): Promise<T> => {
      const signals = [this.stopWaiting.signal, ...(signal ? [signal] : [])];
      const any = AbortSignal.any(signals);
      if (any.aborted)
        return Promise.reject(new SlapError('SLAP_ERR_UNAVAILABLE', 'the node agent is stopping'));
      return new Promise<T>((resolve, reject) => {
        const stop = (): void =>
          reject(
            new SlapError('SLAP_ERR_UNAVAILABLE', 'the request was cancelled or the node agent is stopping'),
          );
        any.addEventListener('abort', stop, { once: true });
        promise.then(resolve, reject).finally(() => any.removeEventListener('abort', stop));
      });
    };
    await abortable(
      new Promise<void>((resolve) => {
        this.syncWaiters.push(resolve);
        this.kick();
      }),
    );
    if (this.offlineSince !== null || this.lastSyncAt === null)
      throw new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        `the node agent cannot reach the master: ${this.lastError ?? ''}`,
      );
    switch (request.command) {
      case 'software': {
        const items = [...this.software.values()].filter((item) =>
          selectedSoftware(item.wanted.url, request.only),
        );
        const urls = new Set(items.map((item) => item.wanted.url));
        const results = await this.whileListening(
          (event) =>
            (event.type === 'software' && urls.has(event.url)) ||
            (event.type === 'buildout' && event.scope === 'software' && urls.has(event.target)),
          onEvent,
          () => abortable(this.requestAll(items, request.force)),
        );
        const result: SoftwarePassResult = {
          items: results,
          exitCode: results.some((item) => item.outcome === 'failed') ? EXIT.failure : EXIT.ok,
          durationMs: performance.now() - started,
        };
        return result;
      }
      case 'instance': {
        const only = request.only;
        // As the one-shot pass: an unknown id is refused; the local partitions without instance are `free`.
        const local = await selectLocalPartitions(this.config, only);
        const items = [...this.partitions.values()].filter(
          (item) => only === undefined || only.includes(item.wanted.partitionId),
        );
        const ids = new Set(items.map((item) => item.wanted.partitionId));
        const results = await this.whileListening(
          (event) =>
            ((event.type === 'partition' || event.type === 'promise') && ids.has(event.partitionId)) ||
            (event.type === 'buildout' && event.scope === 'partition' && ids.has(event.target)),
          onEvent,
          () => abortable(this.requestAll(items, request.force)),
        );
        const free = local
          .filter((id) => !ids.has(id))
          .map((id): PartitionItemResult => ({ partitionId: id, outcome: 'free', durationMs: 0 }));
        const order = (id: string): number => (local.includes(id) ? local.indexOf(id) : local.length);
        const all = [...results, ...free].sort((a, b) => order(a.partitionId) - order(b.partitionId));
        const result: InstancePassResult = {
          items: all,
          exitCode: instancePassExitCode(all),
          offline: false,
          durationMs: performance.now() - started,
        };
        return result;
      }
      case 'report':
        return this.whileListening(
          (event) => event.type === 'usage',
          onEvent,
          () =>
            abortable(
              new Promise<ReportPassResult>((resolve, reject) => {
                this.reportWaiters.push({ resolve, reject });
                this.reportDueAt = 0;
                this.kick();
              }),
            ),
        );
    }
  }

  private checkPromises(
    request: Extract<AgentRequest, { command: 'promise' }>,
    signal: AbortSignal | undefined,
  ): Promise<PromiseCheckResult> {
    if (this.stopping)
      return Promise.reject(new SlapError('SLAP_ERR_UNAVAILABLE', 'the node agent is stopping'));
    const check = checkPartitionPromises(this.config, {
      only: request.only,
      timeout: request.timeout,
      logger: this.logger,
      signal: AbortSignal.any([this.abort.signal, ...(signal ? [signal] : [])]),
      exclusive: (partitionId, work) => this.alone(partitionId, work),
    });
    this.track(
      check.then(
        () => undefined,
        () => undefined,
      ),
    );
    return check;
  }

  /**
   * Runs `work` on a partition while no task works on it: at once if it is idle, else when its
   * running task ends. Meanwhile the partition counts as running, so nothing else starts on it.
   */
  private alone<T>(partitionId: string, work: () => Promise<T>): Promise<T> {
    const item = this.partitions.get(partitionId);
    // Not one of the master's partitions (free): no task of the agent works on it.
    if (item === undefined) return work();
    return new Promise<T>((resolve, reject) => {
      const run = (): void => {
        item.running = true;
        work()
          .then(resolve, reject)
          .finally(() => {
            item.running = false;
            item.waitingTurn.shift()?.();
            this.kick();
          });
      };
      if (item.running) item.waitingTurn.push(run);
      else run();
    });
  }

  private async whileListening<T>(
    relevant: (event: NodeProgressEvent) => boolean,
    onEvent: NodeProgressListener,
    work: () => Promise<T>,
  ): Promise<T> {
    const listener: NodeProgressListener = (event) => {
      if (relevant(event)) onEvent(event);
    };
    this.listeners.add(listener);
    try {
      return await work();
    } finally {
      this.listeners.delete(listener);
    }
  }

  private readonly emitProgress: NodeProgressListener = (event) => {
    this.options.onProgress?.(event);
    for (const listener of this.listeners) listener(event);
  };

  private synced(): void {
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  // --- local software releases under development (watchLocalSoftware) ---

  private watchSources(url: string, options: { again?: boolean } = {}): void {
    const watcher = this.watcher;
    if (watcher === undefined || !isLocalSoftwareUrl(url)) return;
    if (this.watchedSoftware.has(url) && !options.again) return;
    this.watchedSoftware.add(url);
    watcher.watch(url, softwareDirectory(this.config.softwareRoot, url)).then(
      (recorded) => {
        const item = this.software.get(url);
        if (recorded || this.recordingSources.has(url) || item?.wanted.state !== 'available') return;
        // Built by a version that did not record its sources: built again once, to record them.
        this.recordingSources.add(url);
        this.logger.info({ software: url }, 'building again once to record its local sources');
        item.requests.push({ force: true, resolve: () => undefined });
        this.kick();
      },
      (error: unknown) => this.logger.warn({ err: error, software: url }, 'cannot watch the local sources'),
    );
  }

  private unwatchSources(url: string): void {
    if (!this.watchedSoftware.delete(url)) return;
    this.watcher?.unwatch(url);
    this.localChanges.delete(url);
  }

  private sourceChanged(url: string, file: string): void {
    const item = this.software.get(url);
    if (!item || item.wanted.state !== 'available' || this.stopping) return;
    item.rebuild = file;
    this.setLocalChange(url, {
      file,
      phase: 'rebuilding',
      instances: 0,
      redeployed: 0,
      message: `rebuilding ${url} after ${file} changed`,
    });
    this.kick();
  }

  private rebuilt(url: string, outcome: SoftwareItemResult): void {
    const change = this.localChanges.get(url);
    const file = change?.file ?? '';
    if (outcome.outcome !== 'installed') {
      this.setLocalChange(url, {
        file,
        phase: 'failed',
        instances: 0,
        redeployed: 0,
        message: `rebuilding ${url} after ${file} changed failed: ${outcome.error?.message.split('\n')[0] ?? ''}`,
      });
      return;
    }
    const using = [...this.partitions.values()].filter(
      (item) => item.wanted.softwareReleaseUrl === url && item.wanted.requestedState !== 'destroyed',
    );
    for (const item of using) item.redeploy = true;
    this.setLocalChange(
      url,
      {
        file,
        phase: using.length === 0 ? 'redeployed' : 'redeploying',
        instances: using.length,
        redeployed: 0,
        message:
          using.length === 0
            ? `rebuilt ${url} after ${file} changed (no instance uses it)`
            : `redeploying ${using.length} instance${using.length === 1 ? '' : 's'} of ${url} after ${file} changed`,
      },
      new Set(using.map((item) => item.wanted.partitionId)),
    );
  }

  private redeployed(wanted: WantedPartition, outcome: PartitionItemResult): void {
    const change = this.localChanges.get(wanted.softwareReleaseUrl);
    if (!change?.pending.delete(wanted.partitionId)) return;
    const ok = outcome.outcome !== 'failed' && outcome.outcome !== 'promise-failed';
    change.redeployed++;
    change.updatedAt = Date.now();
    if (!ok) {
      change.phase = 'failed';
      change.message = `redeploying ${wanted.partitionId} after ${change.file} changed failed: ${outcome.error?.message.split('\n')[0] ?? ''}`;
    } else if (change.pending.size === 0 && change.phase !== 'failed') {
      change.phase = 'redeployed';
      change.message = `redeployed ${change.instances} instance${change.instances === 1 ? '' : 's'} of ${change.url} after ${change.file} changed`;
    }
    this.logger.info(
      { software: change.url, partition: wanted.partitionId, outcome: outcome.outcome },
      change.message,
    );
    this.statusChanged();
  }

  private setLocalChange(
    url: string,
    change: Omit<LocalChangeStatus, 'url' | 'updatedAt'>,
    pending = new Set<string>(),
  ): void {
    this.localChanges.set(url, { url, ...change, updatedAt: Date.now(), pending });
    this.logger.info({ software: url, file: change.file, phase: change.phase }, change.message);
    this.statusChanged();
  }

  // --- status ---

  private setState(state: AgentLifecycle): void {
    if (this.lifecycle === state) return;
    this.lifecycle = state;
    this.logger.info({ state }, `agent ${state}`);
    this.statusChanged();
  }

  private statusChanged(): void {
    this.options.onStatus?.(this.status());
    if (this.options.statusFile === undefined || this.statusTimer !== undefined) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      void this.flushStatus();
    }, 50);
    this.statusTimer.unref();
  }

  private flushStatus(): Promise<void> {
    const file = this.options.statusFile;
    if (file === undefined) return Promise.resolve();
    this.statusWrite = this.statusWrite
      .then(() => writeFileAtomic(file, `${JSON.stringify(this.status(), null, 2)}\n`, { durable: false }))
      .catch((error: unknown) => this.logger.warn({ err: error, file }, 'cannot write the status file'));
    return this.statusWrite;
  }

  /** The last state read from the master (for tests and the CLI). */
  get lastNodeState(): NodeState | undefined {
    return this.lastState;
  }
}

function softwareResult(
  config: NodeConfig,
  wanted: WantedSoftware,
  outcome: SoftwareItemResult['outcome'],
  error: PassError,
): SoftwareItemResult {
  return {
    url: wanted.url,
    directory: softwareDirectory(config.softwareRoot, wanted.url),
    requestedState: wanted.state,
    outcome,
    error,
    durationMs: 0,
  };
}

function notListed(what: string): PassError {
  return { code: 'SLAP_ERR_NOT_FOUND', message: `the master no longer lists this ${what} for this node` };
}

/**
 * `slapos node instance` as a function (node.md §4): for each partition, decide whether to process
 * it (its change marker against `.timestamp`, periodicity, `force`), then deploy it (`started`,
 * `stopped`) or destroy it (`destroyed`), and report to the master. Partitions are independent: one
 * failure never stops the others; each gets its own result so that the agent can retry it alone.
 *
 * Partitions are processed in parallel, at most `instance_concurrency` deploying at once (a slot
 * each, in the order of their ids); a partition gives its slot back once its services are started
 * (or stopped): waiting for its promises and reporting to the master hold none, so a service slow
 * to come up never delays the deployment of the others.
 *
 * A pass over partitions where nothing changed reads a few files per partition, asks the master for
 * its state, and spawns no process.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../../core/clock.ts';
import { EXIT, SlapError } from '../../core/errors.ts';
import type { RequestedState } from '../../core/states.ts';
import { Slots, type Slot } from '../../lib/slots.ts';
import { silentLogger, type Logger } from '../../lib/logger.ts';
import { RunLog } from '../build-log.ts';
import type { NodeConfig } from '../config.ts';
import { localPartitionIds, partitionOwner, PasswdCache, selectPartitionIds } from '../partitions.ts';
import { isUnreachable, passError, type NodePassOptions, type PassError } from '../pass.ts';
import { promiseFailureMessage, runPromises, type PromiseReport } from '../promise/run-promises.ts';
import { softwareDirectory } from '../software/software-pass.ts';
import { JsonApiStateSource, type NodeStateSource, type WantedPartition } from '../state-source.ts';
import type { SupervisorControl, SupervisorStatus } from '../supervisor/types.ts';
import {
  checkPromises,
  DEFAULT_PROMISE_GRACE_MS,
  declarePrograms,
  graceEndsAt,
  installInstance,
  prepareSlapgridDirectory,
  PromiseFailure,
  startPrograms,
  stopPrograms,
  type PartitionJob,
} from './deploy.ts';
import { destroyPartition } from './destroy.ts';
import { sendPromiseResults } from './promise-results.ts';
import {
  errorLogPath,
  INSTANCE_LOG_FILE,
  isUpToDate,
  readPartitionRecord,
  readTimestamp,
  removeTimestamp,
  TIMESTAMP_FILE,
  writePartitionRecord,
  writeTimestamp,
  type PartitionRecord,
} from './partition-files.ts';

/** Appended to an unsettled marker in `.timestamp`. */
export const UNSETTLED_SUFFIX = ' (unsettled)';

export interface InstancePassOptions extends NodePassOptions {
  supervisor: SupervisorControl;
  /** Default: the JSON API through `master`. */
  source?: NodeStateSource;
  /** `--only-cp`: only these partitions. */
  onlyPartitions?: readonly string[];
  /** `--force`: process every partition, changed or not. */
  force?: boolean;
  /** Partitions deploying at the same time (default: the node's `instance_concurrency`). */
  concurrency?: number;
  /** After services were started, failing promises are retried for up to this long (default 10 s). */
  promiseGraceMs?: number;
  /** Lines of the partition log in an error report (default 30). */
  errorLines?: number;
  /**
   * Awaited before a partition's services are started (the backup agent's: a promoted clone gets
   * the newest backup it received in place first, and no restore writes under running services).
   */
  settle?: (partitionId: string) => Promise<void>;
}

export type PartitionOutcome =
  /** Deployed now and reported started (promises pass). */
  | 'started'
  /** Deployed now, services stopped, reported stopped. */
  | 'stopped'
  | 'destroyed'
  /** Wiped, but the master keeps the partition for now (its instance tree still has children). */
  | 'destroy-pending'
  /** Nothing changed since the last success: not processed. */
  | 'up-to-date'
  /** No instance on it. */
  | 'free'
  | 'failed'
  /** Deployed, but a promise fails: reported in error with the promise's message. */
  | 'promise-failed'
  /** The master could not be reached: services of started partitions were (re)started. */
  | 'offline';

export interface PartitionItemResult {
  partitionId: string;
  instanceGuid?: string;
  requestedState?: RequestedState;
  outcome: PartitionOutcome;
  error?: PassError;
  /** Failing promises (`promise-failed`). */
  promises?: { title: string; message: string }[];
  durationMs: number;
}

export interface InstancePassResult {
  items: PartitionItemResult[];
  /** 0 ok, 1 a partition failed, 2 a promise failed, 3 the master was unreachable (node.md §4.1). */
  exitCode: number;
  offline: boolean;
  durationMs: number;
}

export async function runInstancePass(
  config: NodeConfig,
  options: InstancePassOptions,
): Promise<InstancePassResult> {
  const started = performance.now();
  const local = await localPartitionIds(config.instanceRoot);
  const selected = selectPartitionIds(local, options.onlyPartitions);
  const source =
    options.source ??
    new JsonApiStateSource(options.master, config.computerId, options.clock ? { clock: options.clock } : {});
  let wanted: WantedPartition[];
  try {
    const state = await source.read({
      software: false,
      partitions: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    wanted = state.partitions ?? [];
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const items = await offlinePass(config, selected, options, passError(error));
    return { items, exitCode: EXIT.offline, offline: true, durationMs: performance.now() - started };
  }
  const byId = new Map(wanted.map((partition) => [partition.partitionId, partition]));
  const ids = [
    ...selected,
    // Allocated by the master on partitions this node does not have (yet).
    ...wanted
      .map((partition) => partition.partitionId)
      .filter((id) => !local.includes(id) && (options.onlyPartitions?.includes(id) ?? true)),
  ];
  const cache = new PassCache(config);
  const slots = new Slots(options.concurrency ?? config.instanceConcurrency);
  const items = await Promise.all(
    ids.map(async (id) => {
      const slot = await slots.acquire(options.signal);
      try {
        const partition = byId.get(id);
        if (partition === undefined) return await freePartition(join(config.instanceRoot, id), id, options);
        return await processPartition(config, partition, { ...options, cache, slot });
      } finally {
        slot.release();
      }
    }),
  );
  return {
    items,
    exitCode: instancePassExitCode(items),
    offline: false,
    durationMs: performance.now() - started,
  };
}

/** 1 if a partition failed, else 2 if a promise failed, else 0 (node.md §4.1). */
export function instancePassExitCode(items: readonly PartitionItemResult[]): number {
  if (items.some((item) => item.outcome === 'failed')) return EXIT.failure;
  if (items.some((item) => item.outcome === 'promise-failed')) return EXIT.promiseFailure;
  return EXIT.ok;
}

/**
 * What one pass reads once: /etc/passwd, the periodicity of each software release, the supervisor's
 * process listing (for the grace periods of the anomaly checks).
 */
export class PassCache {
  readonly passwd = new PasswdCache();
  private readonly periodicities = new Map<string, Promise<number>>();
  private status: Promise<SupervisorStatus> | undefined;

  constructor(private readonly config: NodeConfig) {}

  /** A software release's `periodicity` file, else maximum_periodicity (node.md §4.2). */
  periodicity(url: string): Promise<number> {
    let value = this.periodicities.get(url);
    if (value === undefined) {
      value = readFile(join(softwareDirectory(this.config.softwareRoot, url), 'periodicity'), 'utf8').then(
        (text) => {
          const number = Number(text.trim());
          return text.trim() !== '' && Number.isInteger(number) ? number : this.config.maximumPeriodicity;
        },
        () => this.config.maximumPeriodicity,
      );
      this.periodicities.set(url, value);
    }
    return value;
  }

  /**
   * The supervisor's listing, asked for by the first partition that needs it (a pass where no
   * promise is due asks nothing). A failure is shared too: each caller handles it as its own.
   */
  supervisorStatus(supervisor: SupervisorControl): Promise<SupervisorStatus> {
    this.status ??= supervisor.status();
    return this.status;
  }
}

/** What processPartition takes besides the pass's options. */
export interface ProcessPartitionOptions extends InstancePassOptions {
  cache?: PassCache;
  /** The concurrency slot the caller took for it: given back once its services are started or stopped. */
  slot?: Slot;
}

/**
 * Processes one partition holding an instance: skipped when up to date, else deployed or destroyed
 * and reported. Never throws for a failure of the partition (only when `signal` aborts): the result
 * says what happened. `node report` destroys partitions with it too.
 */
export async function processPartition(
  config: NodeConfig,
  wanted: WantedPartition,
  options: ProcessPartitionOptions,
): Promise<PartitionItemResult> {
  const started = performance.now();
  const path = join(config.instanceRoot, wanted.partitionId);
  const cache = options.cache ?? new PassCache(config);
  const passwd = cache.passwd;
  const clock = options.clock ?? systemClock;
  const emit = options.onProgress ?? (() => undefined);
  const base = {
    partitionId: wanted.partitionId,
    instanceGuid: wanted.instanceGuid,
    requestedState: wanted.requestedState,
  };
  const done = (
    outcome: PartitionOutcome,
    extra: Partial<PartitionItemResult> = {},
  ): PartitionItemResult => ({
    ...base,
    outcome,
    ...extra,
    durationMs: performance.now() - started,
  });

  if (!options.force && wanted.requestedState !== 'destroyed') {
    const [timestamp, periodicity] = await Promise.all([
      readTimestamp(path),
      cache.periodicity(wanted.softwareReleaseUrl),
    ]);
    if (isUpToDate({ marker: wanted.marker, timestamp, periodicity, now: clock.now() })) {
      if (wanted.requestedState === 'started')
        await anomalyCheck(config, wanted, path, { ...options, cache });
      emit({ type: 'partition', partitionId: wanted.partitionId, action: 'up-to-date' });
      return done('up-to-date');
    }
  }

  emit({
    type: 'partition',
    partitionId: wanted.partitionId,
    action: 'processing',
    state: wanted.requestedState,
  });
  const logger = (options.logger ?? silentLogger()).child({ partition: wanted.partitionId });
  let job: PartitionJob | undefined;
  try {
    const owner = await partitionOwner(path, { passwd }).catch(() => undefined);
    if (owner === undefined) {
      if (wanted.requestedState === 'destroyed') {
        // Nothing here to wipe: only the master has to be told.
        await options.master.reportInstanceState(
          { instanceGuid: wanted.instanceGuid, state: 'destroyed' },
          options.signal ? { signal: options.signal } : {},
        );
        return done('destroyed');
      }
      throw new SlapError('SLAP_ERR_PARTITION_INVALID', `partition directory ${path} does not exist`, {
        hint: 'run slapos node format',
      });
    }
    await prepareSlapgridDirectory(path);
    const log = await RunLog.open(join(path, INSTANCE_LOG_FILE), {
      tailLines: options.errorLines ?? 30,
      now: () => clock.now() * 1000,
    });
    job = { config, wanted, path, owner, log, supervisor: options.supervisor, options };
    log.line(`Processing partition ${wanted.partitionId} (${wanted.title}): ${wanted.requestedState}`);
    await removeTimestamp(path);
    await rm(errorLogPath(path, wanted.partitionId), { force: true });

    if (wanted.requestedState === 'destroyed') {
      emit({ type: 'partition', partitionId: wanted.partitionId, action: 'destroying' });
      const outcome = await destroyPartition(job);
      emit({ type: 'partition', partitionId: wanted.partitionId, action: outcome });
      return done(outcome);
    }

    const call = options.signal ? { signal: options.signal } : {};
    if (wanted.requestedState === 'stopped') {
      try {
        await installInstance(job);
        await declarePrograms(job);
      } catch (error) {
        // As the original: a stopped partition's services stop even when its buildout fails.
        const stopping = job;
        await stopPrograms(stopping).catch((stopError: unknown) =>
          stopping.log.line(`Could not stop the services: ${String(stopError)}`),
        );
        throw error;
      }
      await stopPrograms(job);
      options.slot?.release();
      await options.master.reportInstanceState({ instanceGuid: wanted.instanceGuid, state: 'stopped' }, call);
      await succeed(job, clock.now(), 'stopped');
      emit({ type: 'partition', partitionId: wanted.partitionId, action: 'stopped' });
      return done('stopped');
    }
    await installInstance(job);
    const redeclared = await declarePrograms(job);
    await options.settle?.(wanted.partitionId);
    const launched = await startPrograms(job);
    options.slot?.release();
    const report = await checkPromises(job, launched || redeclared);
    await reportPromiseResults(path, wanted, report.latest, options, logger);
    if (!report.ok) throw new PromiseFailure(report);
    await options.master.reportInstanceState({ instanceGuid: wanted.instanceGuid, state: 'started' }, call);
    await succeed(job, clock.now(), 'started');
    emit({ type: 'partition', partitionId: wanted.partitionId, action: 'started' });
    return done('started');
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const failure = passError(error);
    const promiseFailure = error instanceof PromiseFailure ? error : undefined;
    job?.log.line(`Error: ${failure.message}`);
    logger.error({ err: error }, 'partition processing failed');
    const message = promiseFailure
      ? failure.message
      : `${failure.message}${job ? `\n\nLast lines of ${join(path, INSTANCE_LOG_FILE)}:\n${job.log.tail.text()}` : ''}`;
    await writeFile(errorLogPath(path, wanted.partitionId), `${failure.message}\n`).catch(() => undefined);
    try {
      await options.master.reportInstanceError(
        { instanceGuid: wanted.instanceGuid, message },
        options.signal ? { signal: options.signal } : {},
      );
      if (wanted.requestedState !== 'destroyed')
        await writePartitionRecord(path, record(wanted, 'error', failure.message)).catch(() => undefined);
    } catch (reportError) {
      logger.warn({ err: reportError }, 'could not report the error to the master');
    }
    emit({
      type: 'partition',
      partitionId: wanted.partitionId,
      action: promiseFailure ? 'promise-failed' : 'failed',
      message: failure.message,
    });
    return done(promiseFailure ? 'promise-failed' : 'failed', {
      error: failure,
      ...(promiseFailure
        ? { promises: promiseFailure.report.failures.map((f) => ({ title: f.title, message: f.message })) }
        : {}),
    });
  } finally {
    await job?.log.close();
  }
}

/** Tells the master the partition's latest promise results, when they changed (never throws). */
function reportPromiseResults(
  path: string,
  wanted: WantedPartition,
  latest: PromiseReport['latest'],
  options: InstancePassOptions,
  logger: Logger,
): Promise<unknown> {
  return sendPromiseResults(
    { partitionPath: path, instanceGuid: wanted.instanceGuid, latest },
    {
      master: options.master,
      logger,
      signal: options.signal,
      now: () => (options.clock ?? systemClock).now() * 1000,
    },
  );
}

function record(
  wanted: WantedPartition,
  reported: PartitionRecord['reported'],
  message?: string,
): PartitionRecord {
  return {
    instanceGuid: wanted.instanceGuid,
    title: wanted.title,
    requestedState: wanted.requestedState,
    softwareReleaseUrl: wanted.softwareReleaseUrl,
    reported,
    ...(message === undefined ? {} : { message }),
  };
}

/** `.timestamp` (only on success: a failed partition is processed again next pass) and the record. */
async function succeed(job: PartitionJob, now: number, reported: 'started' | 'stopped'): Promise<void> {
  await writePartitionRecord(job.path, record(job.wanted, reported));
  // An unsettled marker is written so that it does not match: the next pass processes it again.
  await writeTimestamp(
    job.path,
    `${job.wanted.marker}${job.wanted.settled === false ? UNSETTLED_SUFFIX : ''}`,
    now,
  );
  job.log.line(`Partition ${job.wanted.partitionId} ${reported}`);
}

/** Seconds before the anomaly check looks again at a partition that had no promise. */
const NO_PROMISE_RECHECK_SECONDS = 120;

/**
 * An up-to-date started partition: its promises in anomaly mode (those due only), and a report to the
 * master only when the status changes (node.md §5.5); an anomaly allowed to bang bangs. The record
 * says when the first promise is due: before that, nothing else is read.
 */
async function anomalyCheck(
  config: NodeConfig,
  wanted: WantedPartition,
  path: string,
  options: InstancePassOptions & { cache: PassCache },
): Promise<void> {
  const logger = (options.logger ?? silentLogger()).child({ partition: wanted.partitionId });
  const now = (options.clock ?? systemClock).now();
  try {
    const previous = await readPartitionRecord(path);
    if (previous?.promisesDueAt !== undefined && now < previous.promisesDueAt) return;
    const graceMs = options.promiseGraceMs ?? DEFAULT_PROMISE_GRACE_MS;
    const graceEnd =
      graceMs > 0
        ? await graceEndsAt(options.cache.supervisorStatus(options.supervisor), wanted.partitionId, graceMs)
        : 0;
    if (now * 1000 < graceEnd) {
      // A service restarted moments ago (by the supervisor after a crash, by `slapos node restart`)
      // may still refuse connections: its promises are checked once its grace period is over.
      logger.debug({ graceEndsAt: graceEnd }, 'services just restarted: promises checked after their grace');
      await writePartitionRecord(path, {
        ...(previous ?? record(wanted, 'started')),
        promisesDueAt: graceEnd / 1000,
      });
      return;
    }
    const report = await runPromises(path, {
      mode: 'anomaly',
      timeout: config.promiseTimeout,
      logger,
      now: () => now * 1000,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.exec ? { exec: options.exec } : {}),
    });
    await reportPromiseResults(path, wanted, report.latest, options, logger);
    const call = options.signal ? { signal: options.signal } : {};
    let next = previous ?? record(wanted, 'started');
    if (!report.ok && next.reported !== 'error') {
      const message = promiseFailureMessage(report);
      await options.master.reportInstanceError({ instanceGuid: wanted.instanceGuid, message }, call);
      next = record(wanted, 'error', message);
    } else if (report.ok && next.reported === 'error') {
      await options.master.reportInstanceState({ instanceGuid: wanted.instanceGuid, state: 'started' }, call);
      next = record(wanted, 'started');
    }
    if (report.bang) {
      logger.warn({ promise: report.bang.title }, 'promise anomaly: banging the instance');
      await options.master.bang({ instanceGuid: wanted.instanceGuid, message: report.bang.message }, call);
    }
    await writePartitionRecord(path, {
      ...next,
      promisesDueAt: report.nextRunAfter ?? now + NO_PROMISE_RECHECK_SECONDS,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    logger.warn({ err: error }, 'anomaly check failed');
  }
}

/**
 * A partition without instance (node.md §4.1): leftovers of the node's own bookkeeping are removed;
 * anything else left in it is only warned about.
 */
async function freePartition(
  path: string,
  id: string,
  options: InstancePassOptions,
): Promise<PartitionItemResult> {
  const started = performance.now();
  let names: string[] = [];
  try {
    names = await readdir(path);
  } catch {
    // a formatted partition whose directory went away: format recreates it
  }
  for (const name of ['.slapgrid', TIMESTAMP_FILE])
    if (names.includes(name)) await rm(join(path, name), { recursive: true, force: true });
  const others = names.filter((name) => !['.slapgrid', TIMESTAMP_FILE, '.slapos-resource'].includes(name));
  if (others.length > 0)
    (options.logger ?? silentLogger()).warn(
      { partition: id, entries: others.slice(0, 10) },
      'free partition is not empty',
    );
  return { partitionId: id, outcome: 'free', durationMs: performance.now() - started };
}

/**
 * The master cannot be reached (node.md §4.9): what was last deployed as started is (re)started —
 * what brings services back after a reboot while the master is away.
 */
async function offlinePass(
  config: NodeConfig,
  ids: readonly string[],
  options: InstancePassOptions,
  error: PassError,
): Promise<PartitionItemResult[]> {
  const logger = options.logger ?? silentLogger();
  logger.warn({ err: error.message }, 'the master cannot be reached: offline mode');
  options.onProgress?.({ type: 'offline', message: error.message });
  const items: PartitionItemResult[] = [];
  for (const id of ids) {
    const started = performance.now();
    const path = join(config.instanceRoot, id);
    const previous = await readPartitionRecord(path);
    if (previous?.requestedState === 'started') {
      try {
        await options.settle?.(id);
        await options.supervisor.startGroup(id, { wait: false });
      } catch (startError) {
        logger.warn({ partition: id, err: startError }, 'offline mode: could not start the partition');
      }
    }
    items.push({
      partitionId: id,
      ...(previous ? { instanceGuid: previous.instanceGuid, requestedState: previous.requestedState } : {}),
      outcome: 'offline',
      error,
      durationMs: performance.now() - started,
    });
  }
  return items;
}

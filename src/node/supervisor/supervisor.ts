/**
 * The process supervisor: programs grouped per partition (group = partition id), declared by the
 * node agent with `updateGroup`, run and watched as supervisord does (see program.ts), persisted
 * so that a restarted supervisor re-attaches to the processes it left running (Nomad's
 * RecoverTask) instead of restarting them.
 *
 * Lifecycle (`state`): `starting` while `createSupervisor` loads and re-attaches, `running`, then
 * `closing` and `closed` after `close()` (idempotent). Closing leaves the programs running by
 * default: they outlive the supervisor (its restart, its upgrade); `close({ stopPrograms: true })`
 * stops them first.
 */
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { CoalescedWrite } from '../../lib/coalesced-write.ts';
import { EventLog } from './event-log.ts';
import { readLogTail, rotateLogIfNeeded } from './log-file.ts';
import { nullLogger, type SupervisorLogger } from './logger.ts';
import { assertName, hashProgram, normalizeGroup, splitFullName } from './program-config.ts';
import { Program, type ProgramHooks, type ProgramTiming, type RestoreOutcome } from './program.ts';
import { isLive, processGroupMembers, readBootId, readProcStat } from './proc.ts';
import { StateStore, type StoredRuntime } from './state-store.ts';
import type {
  ActionResult,
  EventBatch,
  GroupUpdateResult,
  LogTail,
  ProcessInfo,
  ProgramConfig,
  ProgramSpec,
  ShutdownOptions,
  StartOptions,
  SupervisorControl,
  SupervisorEvent,
  SupervisorLifecycle,
  SupervisorStatus,
  TailOptions,
  UnexpectedExitNotifier,
  WaitEventsOptions,
} from './types.ts';

export interface SupervisorOptions {
  /** Directory of programs.json, processes.json and of the logs of programs that name none. */
  stateDir: string;
  logger?: SupervisorLogger;
  /** Epoch milliseconds (timestamps only; delays use the monotonic clock). */
  clock?: () => number;
  /** Called on an unexpected exit or FATAL: the node agent bangs the master from here. */
  onUnexpectedExit?: UnexpectedExitNotifier;
  /** How often re-attached processes are checked for their exit (default 1000 ms). */
  pollIntervalMs?: number;
  /** How often log sizes are checked for rotation (default 5000 ms). */
  logCheckIntervalMs?: number;
  /** Other logs to keep under a size cap (e.g. the daemon's own). */
  extraLogs?: readonly { path: string; maxBytes: number; backups: number }[];
  /** Events kept for long-polling clients (default 1000). */
  eventBufferSize?: number;
  timing?: Partial<ProgramTiming>;
  /** For tests: another /proc. */
  procRoot?: string;
}

const DEFAULT_TIMING: ProgramTiming = {
  backoffUnitMs: 1000,
  restartResetMs: 60_000,
  maxRestartDelayMs: 60_000,
  killGraceMs: 10_000,
  stopPollMs: 100,
};

const LOG_TAIL_BYTES = 2048;
const MAX_TAIL_BYTES = 1024 * 1024;

function notFound(what: string): SlapError {
  return new SlapError('SLAP_ERR_NO_SUCH_PROCESS', `no such process: ${what}`, {
    details: { reason: 'no such process' },
    hint: 'see `slapos node status` for the known processes',
  });
}

function resultOf(name: string, error: unknown): ActionResult {
  const slapError =
    error instanceof SlapError ? error : new SlapError('SLAP_ERR_INTERNAL', String(error), { cause: error });
  const reason = typeof slapError.details?.reason === 'string' ? slapError.details.reason : slapError.message;
  return { name, ok: false, error: { code: slapError.code, message: slapError.message, reason } };
}

export class Supervisor implements SupervisorControl {
  state: SupervisorLifecycle = 'starting';
  readonly startedAt: number;
  readonly events: EventLog;
  private readonly groups = new Map<string, Map<string, Program>>();
  private readonly store: StateStore;
  private readonly logger: SupervisorLogger;
  private readonly clock: () => number;
  private readonly timing: ProgramTiming;
  private readonly procRoot: string;
  private readonly bootId: string;
  private readonly logDir: string;
  private readonly notifications = new Set<Promise<void>>();
  /** Per group: its last update (updates of one group run in order, those of others beside them). */
  private readonly groupLocks = new Map<string, Promise<unknown>>();
  /** The declared programs, as programs.json holds them (written before they are acted on). */
  private readonly declared = new Map<string, ProgramConfig[]>();
  /** programs.json: the updates of several groups at once share a write. */
  private readonly programsFile: CoalescedWrite;
  private pollTimer: NodeJS.Timeout | undefined;
  private logTimer: NodeJS.Timeout | undefined;
  private rotating = false;
  private persistQueued = false;
  private closing: Promise<void> | undefined;
  private readonly hooks: ProgramHooks;

  /** Use `createSupervisor`. */
  constructor(private readonly options: SupervisorOptions) {
    this.logger = options.logger ?? nullLogger;
    this.clock = options.clock ?? Date.now;
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.procRoot = options.procRoot ?? '/proc';
    this.bootId = readBootId(this.procRoot);
    this.logDir = join(options.stateDir, 'log');
    this.startedAt = this.clock();
    this.events = new EventLog(options.eventBufferSize ?? 1000, this.clock);
    this.store = new StateStore(options.stateDir, this.logger);
    this.programsFile = new CoalescedWrite(() => this.store.savePrograms(this.declared));
    this.hooks = {
      stateChanged: (program, from, extra) => this.stateChanged(program, from, extra),
      exitedUnexpectedly: (program, detail) => this.exitedUnexpectedly(program, detail),
    };
  }

  /** Loads the declared programs, re-attaches to live processes, starts what should run. */
  async open(): Promise<void> {
    await this.store.init();
    const declared = await this.store.loadPrograms(this.logDir);
    const runtime = await this.store.loadRuntime();
    const sameBoot = runtime?.bootId === this.bootId;
    const outcomes: [Program, RestoreOutcome, boolean][] = [];
    for (const [group, configs] of declared) {
      this.declared.set(group, configs);
      const programs = new Map<string, Program>();
      this.groups.set(group, programs);
      for (const config of configs) {
        const program = this.newProgram(group, config);
        programs.set(config.name, program);
        const record = runtime?.processes[program.fullName];
        if (!record) outcomes.push([program, config.autostart ? 'resume' : 'idle', false]);
        else
          outcomes.push([program, program.restore(record, { sameBoot }), record.configHash !== program.hash]);
      }
    }
    if (runtime && sameBoot) this.stopOrphans(runtime);
    this.state = 'running';
    for (const [program, outcome, configChanged] of outcomes) {
      if (outcome === 'adopted') {
        this.logger.info({ program: program.fullName, pid: program.pid }, 're-attached');
        if (configChanged) void this.restartQuietly(program);
      } else if (outcome === 'stop') void program.stop().catch(() => undefined);
      else if (outcome === 'vanished') program.markVanished();
      else if (outcome === 'resume') this.startQuietly(program);
    }
    this.schedulePersist();
    this.pollTimer = setInterval(() => this.poll(), this.options.pollIntervalMs ?? 1000);
    this.pollTimer.unref();
    this.logTimer = setInterval(() => void this.rotateLogs(), this.options.logCheckIntervalMs ?? 5000);
    this.logTimer.unref();
  }

  async status(): Promise<SupervisorStatus> {
    return Promise.resolve({
      pid: process.pid,
      state: this.state,
      startedAt: this.startedAt,
      memory: (({ rss, heapTotal, heapUsed, external }) => ({ rss, heapTotal, heapUsed, external }))(
        process.memoryUsage(),
      ),
      processes: this.list().map((program) => program.info()),
    });
  }

  /** Group names in order. */
  groupNames(): string[] {
    return [...this.groups.keys()].sort();
  }

  async updateGroup(group: string, programs: readonly ProgramSpec[]): Promise<GroupUpdateResult> {
    assertName(group, 'group');
    const configs = normalizeGroup(programs, { group, logDir: this.logDir });
    return this.withGroupLock(group, () => this.applyGroup(group, configs));
  }

  async removeGroup(group: string): Promise<GroupUpdateResult> {
    assertName(group, 'group');
    return this.withGroupLock(group, async () => {
      if (!this.groups.has(group)) throw notFound(group);
      return this.applyGroup(group, null);
    });
  }

  async startGroup(group: string, options: StartOptions = {}): Promise<ActionResult[]> {
    this.assertOpen();
    const programs = this.groupPrograms(group).filter((program) => !program.isActive);
    return Promise.all(
      programs.map((program) => this.act(program, () => this.startProgram(program, options))),
    );
  }

  async stopGroup(group: string): Promise<ActionResult[]> {
    this.assertOpen();
    const programs = this.groupPrograms(group).filter((program) => program.isActive);
    return Promise.all(programs.map((program) => this.act(program, () => program.stop())));
  }

  async startProcess(fullName: string, options: StartOptions = {}): Promise<ProcessInfo> {
    this.assertOpen();
    const program = this.find(fullName);
    await this.startProgram(program, options);
    return program.info();
  }

  async stopProcess(fullName: string): Promise<ProcessInfo> {
    this.assertOpen();
    const program = this.find(fullName);
    await program.stop();
    return program.info();
  }

  async restartProcess(fullName: string, options: StartOptions = {}): Promise<ProcessInfo> {
    this.assertOpen();
    const program = this.find(fullName);
    if (program.isActive || program.state === 'UNKNOWN') await program.stop();
    await this.startProgram(program, options);
    return program.info();
  }

  async tail(fullName: string, options: TailOptions = {}): Promise<LogTail> {
    const program = this.find(fullName);
    const bytes = options.bytes ?? 1600;
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_TAIL_BYTES)
      throw new SlapError(
        'SLAP_ERR_INVALID_INPUT',
        `bytes: must be an integer between 1 and ${MAX_TAIL_BYTES}`,
      );
    if (options.offset !== undefined && (!Number.isInteger(options.offset) || options.offset < 0))
      throw new SlapError('SLAP_ERR_INVALID_INPUT', 'offset: must be a non-negative integer');
    return readLogTail(program.config.logFile, {
      bytes,
      ...(options.offset === undefined ? {} : { offset: options.offset }),
    });
  }

  async waitEvents(after: number, options: WaitEventsOptions = {}): Promise<EventBatch> {
    if (!Number.isInteger(after) || after < 0)
      throw new SlapError('SLAP_ERR_INVALID_INPUT', 'after: must be a non-negative integer');
    return this.events.wait(after, options);
  }

  /** In-process subscription to every event; returns the unsubscribe function. */
  subscribe(listener: (event: SupervisorEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    return this.close(options);
  }

  /** Idempotent. Leaves programs running unless `stopPrograms`; waits for stops already under way. */
  close(options: ShutdownOptions = {}): Promise<void> {
    this.closing ??= this.doClose(options);
    return this.closing;
  }

  private async doClose(options: ShutdownOptions): Promise<void> {
    this.state = 'closing';
    clearInterval(this.pollTimer);
    clearInterval(this.logTimer);
    await Promise.all(this.groupLocks.values());
    const programs = this.list();
    if (options.stopPrograms) {
      await Promise.all(
        programs.filter((program) => program.isActive).map((p) => p.stop().catch(() => undefined)),
      );
    }
    await Promise.all(programs.map((program) => program.settled().catch(() => undefined)));
    for (const program of programs) program.detach();
    await Promise.race([
      Promise.all([...this.notifications]),
      new Promise((resolve) => setTimeout(resolve, 5000).unref()),
    ]);
    this.store.saveRuntimeSync(this.runtimeSnapshot());
    this.events.close();
    this.state = 'closed';
    this.logger.info({ stopPrograms: options.stopPrograms === true }, 'supervisor closed');
  }

  private assertOpen(): void {
    if (this.state !== 'running')
      throw new SlapError('SLAP_ERR_CONFLICT', `the supervisor is ${this.state}`, {
        details: { reason: this.state },
      });
  }

  private withGroupLock<T>(group: string, action: () => Promise<T>): Promise<T> {
    this.assertOpen();
    const previous = this.groupLocks.get(group) ?? Promise.resolve();
    const run = previous.then(action);
    const settled = run.catch(() => undefined);
    this.groupLocks.set(group, settled);
    void settled.then(() => {
      if (this.groupLocks.get(group) === settled) this.groupLocks.delete(group);
    });
    return run;
  }

  /** Declares a group's programs (null: none) in programs.json; on failure, the declaration is as before. */
  private async declare(group: string, configs: ProgramConfig[] | null): Promise<void> {
    const before = this.declared.get(group);
    if (configs === null) this.declared.delete(group);
    else this.declared.set(group, configs);
    try {
      await this.programsFile.save();
    } catch (error) {
      if ((this.declared.get(group) ?? null) === configs) {
        if (before === undefined) this.declared.delete(group);
        else this.declared.set(group, before);
      }
      throw error;
    }
  }

  /** Makes a group match `configs` (null: remove it). Persists the declaration first, then acts. */
  private async applyGroup(group: string, configs: ProgramConfig[] | null): Promise<GroupUpdateResult> {
    const existed = this.groups.has(group);
    const current = this.groups.get(group) ?? new Map<string, Program>();
    const wanted = new Map((configs ?? []).map((config) => [config.name, config]));
    const result: GroupUpdateResult = { added: [], changed: [], removed: [] };
    for (const [name, config] of wanted) {
      const existing = current.get(name);
      if (!existing) result.added.push(name);
      else if (existing.hash !== hashProgram(config)) result.changed.push(name);
    }
    for (const name of current.keys()) if (!wanted.has(name)) result.removed.push(name);
    const unchanged = result.added.length + result.changed.length + result.removed.length === 0;
    if (unchanged && (configs === null ? !existed : existed)) return result;

    await this.declare(group, configs);

    const removed = result.removed
      .map((name) => current.get(name))
      .filter((p): p is Program => p !== undefined);
    await Promise.all(removed.filter((p) => p.isActive).map((p) => p.stop().catch(() => undefined)));
    for (const program of removed) {
      program.detach();
      current.delete(program.name);
    }
    await Promise.all(
      result.changed.map(async (name) => {
        const program = current.get(name);
        const config = wanted.get(name);
        if (!program || !config) return;
        const wasActive = program.isActive;
        if (wasActive) await program.stop().catch(() => undefined);
        program.replaceConfig(config);
        if (wasActive || config.autostart) this.startQuietly(program);
      }),
    );
    for (const name of result.added) {
      const config = wanted.get(name);
      if (!config) continue;
      const program = this.newProgram(group, config);
      current.set(name, program);
      if (config.autostart) this.startQuietly(program);
    }
    if (configs === null) this.groups.delete(group);
    else this.groups.set(group, current);
    this.events.push({
      type: 'group',
      group,
      change: configs === null ? 'removed' : existed ? 'changed' : 'added',
    });
    this.logger.info({ group, ...result }, configs === null ? 'group removed' : 'group updated');
    this.schedulePersist();
    return result;
  }

  private newProgram(group: string, config: ProgramConfig): Program {
    return new Program(config, {
      group,
      clock: this.clock,
      logger: this.logger,
      timing: this.timing,
      hooks: this.hooks,
      procRoot: this.procRoot,
    });
  }

  private async startProgram(program: Program, options: StartOptions): Promise<void> {
    program.start();
    if (options.wait !== false) await program.waitStarted();
  }

  private startQuietly(program: Program): void {
    try {
      program.start();
    } catch (error) {
      this.logger.warn({ err: error, program: program.fullName }, 'cannot start');
    }
  }

  private async restartQuietly(program: Program): Promise<void> {
    this.logger.info({ program: program.fullName }, 'configuration changed while away: restarting');
    await program.stop().catch(() => undefined);
    this.startQuietly(program);
  }

  private async act(program: Program, action: () => Promise<void>): Promise<ActionResult> {
    try {
      await action();
      return { name: program.fullName, ok: true, info: program.info() };
    } catch (error) {
      return resultOf(program.fullName, error);
    }
  }

  private find(fullName: string): Program {
    const { group, name } = splitFullName(fullName);
    const program = this.groups.get(group)?.get(name);
    if (!program) throw notFound(fullName);
    return program;
  }

  private groupPrograms(group: string): Program[] {
    assertName(group, 'group');
    const programs = this.groups.get(group);
    if (!programs) throw notFound(`${group}:*`);
    return [...programs.values()];
  }

  private list(): Program[] {
    return this.groupNames().flatMap((group) =>
      [...(this.groups.get(group)?.values() ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1)),
    );
  }

  private stateChanged(program: Program, from: string, extra: { expected?: boolean }): void {
    this.events.push({
      type: 'state',
      group: program.group,
      name: program.name,
      from: from as Program['state'],
      to: program.state,
      pid: program.pid ?? program.lastPid,
      ...(extra.expected === undefined ? {} : { expected: extra.expected }),
    });
    this.logger.debug({ program: program.fullName, from, to: program.state }, 'state');
    this.schedulePersist();
  }

  private exitedUnexpectedly(program: Program, detail: { state: 'EXITED' | 'FATAL'; message: string }): void {
    const pid = program.lastPid;
    const uptimeMs =
      detail.state === 'EXITED' && program.startedAt !== null && program.stoppedAt !== null
        ? program.stoppedAt - program.startedAt
        : null;
    const { group, name, exitCode, exitSignal } = program;
    const time = this.clock();
    this.logger.warn({ program: program.fullName, state: detail.state }, detail.message);
    const notification = readLogTail(program.config.logFile, { bytes: LOG_TAIL_BYTES })
      .then(
        (tail) => tail.data,
        () => '',
      )
      .then(async (logTail) => {
        const info = {
          state: detail.state,
          pid,
          exitCode,
          exitSignal,
          uptimeMs,
          message: detail.message,
          logTail,
          time,
        };
        this.events.push({ type: 'unexpected-exit', group, name, info });
        await this.options.onUnexpectedExit?.(group, name, info);
      })
      .catch((error: unknown) =>
        this.logger.error({ err: error, program: program.fullName }, 'notifier failed'),
      )
      .finally(() => this.notifications.delete(notification));
    this.notifications.add(notification);
  }

  /** Saves the process records once the current burst of changes is over (same tick). */
  private schedulePersist(force = false): void {
    if (this.state === 'closed' || (this.state === 'closing' && !force) || this.persistQueued) return;
    this.persistQueued = true;
    queueMicrotask(() => {
      this.persistQueued = false;
      this.store.saveRuntimeSync(this.runtimeSnapshot());
    });
  }

  private runtimeSnapshot(): StoredRuntime {
    const processes: StoredRuntime['processes'] = {};
    for (const program of this.list()) processes[program.fullName] = program.snapshot();
    return { bootId: this.bootId, daemonPid: process.pid, processes };
  }

  /** Processes an earlier run left for programs no longer declared (a crash mid-update): kill them. */
  private stopOrphans(runtime: StoredRuntime): void {
    for (const [fullName, record] of Object.entries(runtime.processes)) {
      const { group, name } = splitFullName(fullName);
      if (this.groups.get(group)?.has(name) || record.pid === null) continue;
      const stat = readProcStat(record.pid, this.procRoot);
      if (!isLive(stat) || stat.startTime !== record.procStartTime) continue;
      this.logger.warn(
        { program: fullName, pid: record.pid },
        'stopping a process of a program no longer declared',
      );
      try {
        process.kill(-record.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      if (processGroupMembers(record.pid, this.procRoot).length > 0)
        this.logger.error({ program: fullName, pid: record.pid }, 'orphan process group survived SIGKILL');
    }
  }

  private poll(): void {
    for (const program of this.list()) program.poll();
  }

  private async rotateLogs(): Promise<void> {
    if (this.rotating) return;
    this.rotating = true;
    try {
      const logs = [
        ...this.list().map((program) => ({
          path: program.config.logFile,
          maxBytes: program.config.logMaxBytes,
          backups: program.config.logBackups,
        })),
        ...(this.options.extraLogs ?? []),
      ];
      for (const log of logs) {
        try {
          if (await rotateLogIfNeeded(log.path, log)) this.logger.info({ path: log.path }, 'log rotated');
        } catch (error) {
          this.logger.warn({ err: error, path: log.path }, 'cannot rotate log');
        }
      }
    } finally {
      this.rotating = false;
    }
  }
}

/** Creates a supervisor and opens it (load, re-attach, autostart). */
export async function createSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const supervisor = new Supervisor(options);
  await supervisor.open();
  return supervisor;
}

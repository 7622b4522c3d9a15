/**
 * One supervised program and its process, following supervisord's state machine:
 *
 *   STOPPED/EXITED/FATAL --start--> STARTING --up startsecs--> RUNNING --exit--> EXITED
 *   STARTING --exit too quickly or spawn error--> BACKOFF --after backoff s--> STARTING
 *   BACKOFF --more than startretries failures--> FATAL
 *   STARTING/RUNNING --stop--> STOPPING --group gone--> STOPPED; BACKOFF --stop--> STOPPED
 *
 * The backoff delay grows by one unit (1 s) per failed start, as supervisord's. Beyond supervisord:
 * `autorestart` restarts of a program that keeps exiting are spaced out too (0, 1, 2, 4, … s up to a
 * cap; back to immediate once a run lasted `restartResetMs`), so a crashing service with
 * `startsecs=0` (the SlapOS setting) cannot spin. Each process runs in its own process group
 * (`detached`), and a stop is finished only when the whole group is gone, SIGKILL after
 * `stopwaitsecs`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlapError } from '../../core/errors.ts';
import { openLogForChild } from './log-file.ts';
import type { SupervisorLogger } from './logger.ts';
import { hashProgram } from './program-config.ts';
import { isLive, isSameProcess, processGroupMembers, readProcStat } from './proc.ts';
import { RUNNING_STATES, type ProcessInfo, type ProcessState, type ProgramConfig } from './types.ts';

export interface ProgramTiming {
  /** supervisord's backoff unit: the n-th failed start waits n units. */
  backoffUnitMs: number;
  /** A run at least this long resets the spacing of autorestarts. */
  restartResetMs: number;
  maxRestartDelayMs: number;
  /** How long to wait for a process group to vanish after SIGKILL before calling it UNKNOWN. */
  killGraceMs: number;
  /** How often a stopping process group is checked. */
  stopPollMs: number;
}

export interface ProgramHooks {
  stateChanged(program: Program, from: ProcessState, extra: { expected?: boolean }): void;
  /** An exit the supervisor did not ask for, with a status outside `exitcodes`, or FATAL. */
  exitedUnexpectedly(program: Program, detail: { state: 'EXITED' | 'FATAL'; message: string }): void;
}

export interface ProgramDeps {
  group: string;
  clock: () => number;
  logger: SupervisorLogger;
  timing: ProgramTiming;
  hooks: ProgramHooks;
  procRoot: string;
}

/** What is persisted of a process so a restarted daemon can find it again. */
export interface ProcessRecord {
  state: ProcessState;
  pid: number | null;
  /** /proc start time of `pid`: tells our process from a later one that got the same pid. */
  procStartTime: number | null;
  startedAt: number | null;
  stoppedAt: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  spawnError: string | null;
  configHash: string;
}

/**
 * What `restore` found: re-attached (`stop`: re-attached in the middle of a stop, to finish), gone
 * while the daemon was away, to be started, or nothing to do.
 */
export type RestoreOutcome = 'adopted' | 'stop' | 'vanished' | 'resume' | 'idle';

const TOO_QUICKLY = 'Exited too quickly (process log may have details)';

export function formatUptime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = String(Math.floor((total % 3600) / 60)).padStart(2, '0');
  const seconds = String(total % 60).padStart(2, '0');
  const prefix = days > 0 ? `${days} day${days > 1 ? 's' : ''}, ` : '';
  return `${prefix}${hours}:${minutes}:${seconds}`;
}

/** UTC, without Intl: date formatting through ICU costs the long-lived daemon ~8 MB of memory. */
function formatTime(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function conflict(reason: string, fullName: string): SlapError {
  return new SlapError('SLAP_ERR_CONFLICT', `${fullName}: ${reason}`, { details: { reason } });
}

export class Program {
  config: ProgramConfig;
  hash: string;
  state: ProcessState = 'STOPPED';
  pid: number | null = null;
  /** The pid of the last process, kept after it ended (for events and messages). */
  lastPid: number | null = null;
  procStartTime: number | null = null;
  startedAt: number | null = null;
  stoppedAt: number | null = null;
  exitCode: number | null = null;
  exitSignal: string | null = null;
  spawnError: string | null = null;
  adopted = false;

  private child: ChildProcess | undefined;
  /** Resolves when `child` exits (so a stop does not wait a whole poll interval). */
  private childExit: Promise<void> | undefined;
  private startedMono = 0;
  private backoff = 0;
  private quickRestarts = 0;
  private restartAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private detached = false;
  private readonly watchers = new Set<(state: ProcessState) => void>();

  readonly group: string;

  constructor(
    config: ProgramConfig,
    private readonly deps: ProgramDeps,
  ) {
    this.group = deps.group;
    this.config = config;
    this.hash = hashProgram(config);
  }

  get name(): string {
    return this.config.name;
  }

  get fullName(): string {
    return `${this.group}:${this.config.name}`;
  }

  /** True between the start and the end of a stop (including a stop in progress). */
  get isActive(): boolean {
    return RUNNING_STATES.includes(this.state) || this.state === 'STOPPING' || this.restartAt !== null;
  }

  /** Only while nothing runs: the supervisor stops a program before changing its configuration. */
  replaceConfig(config: ProgramConfig): void {
    this.config = config;
    this.hash = hashProgram(config);
  }

  start(): void {
    if (RUNNING_STATES.includes(this.state)) throw conflict('already started', this.fullName);
    if (this.state === 'STOPPING') throw conflict('is stopping', this.fullName);
    if (this.state === 'UNKNOWN') throw conflict('process group could not be killed', this.fullName);
    this.backoff = 0;
    this.quickRestarts = 0;
    this.spawn();
  }

  /** Resolves once RUNNING; rejects if the process fails first (supervisorctl's `start` wait). */
  waitStarted(): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (state: ProcessState): boolean => {
        if (state === 'RUNNING') resolve();
        else if (state !== 'STARTING') {
          const spawnFailed = this.pid === null && this.exitCode === null && this.exitSignal === null;
          const reason = spawnFailed ? 'spawn error' : 'abnormal termination';
          const why = this.spawnError ?? this.describeExit();
          reject(
            new SlapError('SLAP_ERR_PROCESS_START_FAILED', `${this.fullName}: ${reason} (${why})`, {
              details: { reason },
              hint: `see its log: ${this.config.logFile}`,
            }),
          );
        } else return false;
        return true;
      };
      if (check(this.state)) return;
      const watcher = (state: ProcessState): void => {
        if (check(state)) this.watchers.delete(watcher);
      };
      this.watchers.add(watcher);
    });
  }

  /** Stops the process group (stop signal, then SIGKILL after stopwaitsecs); resolves once STOPPED. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this.state === 'BACKOFF' || this.restartAt !== null) {
      this.clearTimer();
      this.setState('STOPPED');
      return Promise.resolve();
    }
    if (this.pid === null || !(['STARTING', 'RUNNING', 'UNKNOWN'] as ProcessState[]).includes(this.state))
      return Promise.reject(conflict('not running', this.fullName));
    this.stopping = this.terminate(this.pid).finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  /** Waits for a stop in progress, if any. */
  async settled(): Promise<void> {
    await this.stopping;
  }

  /** The daemon goes away leaving the process running: no more timers, restarts or transitions. */
  detach(): void {
    this.detached = true;
    this.clearTimer();
    this.watchers.clear();
  }

  /** Called periodically: notices the exit of a re-attached process (not our child: no exit event). */
  poll(): void {
    if (!this.adopted || this.pid === null || this.detached) return;
    if (this.state !== 'RUNNING' && this.state !== 'STARTING') return;
    if (!this.stillOurs(this.pid)) this.exited(null, null);
  }

  snapshot(): ProcessRecord {
    return {
      state: this.state,
      pid: this.pid,
      procStartTime: this.procStartTime,
      startedAt: this.startedAt,
      stoppedAt: this.stoppedAt,
      exitCode: this.exitCode,
      exitSignal: this.exitSignal,
      spawnError: this.spawnError,
      configHash: this.hash,
    };
  }

  /** Takes over what an earlier daemon left: re-attaches to a live process, or records its end. */
  restore(record: ProcessRecord, options: { sameBoot: boolean }): RestoreOutcome {
    this.startedAt = record.startedAt;
    this.stoppedAt = record.stoppedAt;
    this.exitCode = record.exitCode;
    this.exitSignal = record.exitSignal;
    this.spawnError = record.spawnError;
    this.lastPid = record.pid;
    const wasUp = (['STARTING', 'RUNNING', 'STOPPING'] as ProcessState[]).includes(record.state);
    if (record.pid !== null && wasUp) {
      const live =
        options.sameBoot && record.procStartTime !== null && this.stillOurs(record.pid, record.procStartTime);
      this.state = 'RUNNING';
      this.pid = record.pid;
      this.procStartTime = record.procStartTime;
      this.adopted = true;
      this.startedMono = performance.now() - (this.deps.clock() - (record.startedAt ?? this.deps.clock()));
      if (live) return record.state === 'STOPPING' ? 'stop' : 'adopted';
      if (record.state === 'STOPPING') {
        this.pid = null;
        this.state = 'STOPPED';
        return 'idle';
      }
      return 'vanished';
    }
    if (record.state === 'BACKOFF' || record.state === 'STARTING') return 'resume';
    this.state = record.state === 'EXITED' || record.state === 'FATAL' ? record.state : 'STOPPED';
    return 'idle';
  }

  /** Ends a process found gone while the daemon was away (after `restore` said `vanished`). */
  markVanished(): void {
    this.exited(null, null);
  }

  info(): ProcessInfo {
    return {
      group: this.group,
      name: this.name,
      fullName: this.fullName,
      state: this.state,
      description: this.describe(),
      pid: this.pid,
      startedAt: this.startedAt,
      stoppedAt: this.stoppedAt,
      exitCode: this.exitCode,
      exitSignal: this.exitSignal,
      spawnError: this.spawnError,
      adopted: this.adopted,
      logFile: this.config.logFile,
      configHash: this.hash,
    };
  }

  describeExit(): string {
    if (this.exitSignal !== null) return `killed by SIG${this.exitSignal.replace(/^SIG/, '')}`;
    if (this.exitCode !== null) return `exit status ${this.exitCode}`;
    return 'exit status unknown';
  }

  private describe(): string {
    const now = this.deps.clock();
    switch (this.state) {
      case 'RUNNING':
        return `pid ${this.pid}, uptime ${formatUptime(now - (this.startedAt ?? now))}`;
      case 'BACKOFF':
      case 'FATAL':
      case 'UNKNOWN':
        return this.spawnError ?? '';
      case 'STOPPED':
        return this.stoppedAt === null ? 'Not started' : formatTime(this.stoppedAt);
      case 'EXITED': {
        const base = `${formatTime(this.stoppedAt ?? now)} (${this.describeExit()})`;
        if (this.restartAt === null) return base;
        return `${base}, restarting in ${Math.max(0, Math.ceil((this.restartAt - now) / 1000))} s`;
      }
      default:
        return '';
    }
  }

  private setState(to: ProcessState, extra: { expected?: boolean } = {}): void {
    const from = this.state;
    this.state = to;
    if (to !== 'EXITED') this.restartAt = null;
    this.deps.hooks.stateChanged(this, from, extra);
    for (const watcher of [...this.watchers]) watcher(to);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.restartAt = null;
  }

  private later(delayMs: number, action: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.detached) action();
    }, delayMs);
  }

  private stillOurs(pid: number, startTime = this.procStartTime): boolean {
    if (startTime === null) return isLive(readProcStat(pid, this.deps.procRoot));
    return isSameProcess(pid, startTime, this.deps.procRoot);
  }

  private spawn(): void {
    this.clearTimer();
    const { config } = this;
    this.startedAt = this.deps.clock();
    this.startedMono = performance.now();
    this.spawnError = null;
    this.exitCode = null;
    this.exitSignal = null;
    this.adopted = false;
    this.setState('STARTING');
    if (config.cwd !== null && !existsSync(config.cwd)) {
      this.spawnFailed(`spawn error: working directory ${config.cwd} does not exist`);
      return;
    }
    let fd: number | undefined;
    let child: ChildProcess;
    try {
      fd = openLogForChild(config.logFile, config);
      child = spawn(config.command, config.args, {
        ...(config.cwd === null ? {} : { cwd: config.cwd }),
        env: {
          ...config.env,
          SUPERVISOR_ENABLED: '1',
          SUPERVISOR_GROUP_NAME: this.group,
          SUPERVISOR_PROCESS_NAME: config.name,
        },
        ...(config.uid === null ? {} : { uid: config.uid }),
        ...(config.gid === null ? {} : { gid: config.gid }),
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } catch (error) {
      this.spawnFailed(`spawn error: ${(error as Error).message}`);
      return;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (child.pid === undefined) {
      // Node reports exec failures (ENOENT, EACCES, EPERM) asynchronously.
      child.once('error', (error) => this.spawnFailed(`spawn error: ${error.message}`));
      return;
    }
    const pid = child.pid;
    this.child = child;
    this.childExit = new Promise((resolve) => child.once('exit', () => resolve()));
    this.pid = pid;
    this.lastPid = pid;
    this.procStartTime = readProcStat(pid, this.deps.procRoot)?.startTime ?? null;
    child.on('error', (error) =>
      this.deps.logger.warn({ err: error, program: this.fullName }, 'child error'),
    );
    child.once('exit', (code, signal) => {
      this.child = undefined;
      if (!this.detached && this.pid === pid && this.state !== 'STOPPING') this.exited(code, signal);
      else if (this.state === 'STOPPING') {
        this.exitCode = code;
        this.exitSignal = signal;
      }
    });
    child.unref();
    this.deps.logger.info({ program: this.fullName, processId: pid }, 'spawned');
    if (config.startsecs === 0) this.becomeRunning();
    else this.later(config.startsecs * 1000, () => this.state === 'STARTING' && this.becomeRunning());
  }

  private becomeRunning(): void {
    this.backoff = 0;
    this.setState('RUNNING');
  }

  private spawnFailed(message: string): void {
    if (this.detached) return;
    this.pid = null;
    this.spawnError = message;
    this.deps.logger.warn({ program: this.fullName, error: message }, 'spawn failed');
    this.enterBackoff();
  }

  private enterBackoff(): void {
    this.backoff += 1;
    this.setState('BACKOFF');
    if (this.backoff > this.config.startretries) {
      this.spawnError ??= TOO_QUICKLY;
      this.setState('FATAL');
      this.deps.hooks.exitedUnexpectedly(this, {
        state: 'FATAL',
        message: `${this.fullName} gave up after ${this.backoff} failed start${this.backoff > 1 ? 's' : ''}: ${this.spawnError}`,
      });
      return;
    }
    this.later(this.backoff * this.deps.timing.backoffUnitMs, () => this.state === 'BACKOFF' && this.spawn());
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    const ranMs = performance.now() - this.startedMono;
    this.pid = null;
    this.exitCode = code;
    this.exitSignal = signal;
    this.stoppedAt = this.deps.clock();
    this.clearTimer();
    if (this.state === 'STARTING' && ranMs < this.config.startsecs * 1000) {
      this.spawnError = TOO_QUICKLY;
      this.deps.logger.warn({ program: this.fullName, status: this.describeExit() }, 'exited too quickly');
      this.enterBackoff();
      return;
    }
    if (this.state === 'STARTING') this.becomeRunning();
    const expected = signal === null && code !== null && this.config.exitcodes.includes(code);
    this.deps.logger.info({ program: this.fullName, status: this.describeExit(), expected }, 'exited');
    this.setState('EXITED', { expected });
    if (!expected) {
      const how =
        this.adopted && code === null
          ? 'is gone (it was re-attached: exit status unknown)'
          : `exited (${this.describeExit()})`;
      this.deps.hooks.exitedUnexpectedly(this, { state: 'EXITED', message: `${this.fullName} ${how}` });
    }
    const { autorestart } = this.config;
    if (autorestart === true || (autorestart === 'unexpected' && !expected)) this.scheduleRestart(ranMs);
  }

  private scheduleRestart(ranMs: number): void {
    const { timing } = this.deps;
    if (ranMs >= timing.restartResetMs) this.quickRestarts = 0;
    const delay =
      this.quickRestarts === 0
        ? 0
        : Math.min(timing.backoffUnitMs * 2 ** (this.quickRestarts - 1), timing.maxRestartDelayMs);
    this.quickRestarts += 1;
    this.later(delay, () => {
      if (this.state !== 'EXITED') return;
      this.backoff = 0;
      this.spawn();
    });
    this.restartAt = this.deps.clock() + delay;
  }

  private signalGroup(pgid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pgid, signal);
    } catch {
      // the group is already gone
    }
  }

  private async terminate(pid: number): Promise<void> {
    this.clearTimer();
    this.setState('STOPPING');
    const { timing } = this.deps;
    this.signalGroup(pid, `SIG${this.config.stopsignal}`);
    const killAt = performance.now() + this.config.stopwaitsecs * 1000;
    let giveUpAt: number | undefined;
    let delay = 5;
    for (;;) {
      const leaderUp = this.child !== undefined || (this.adopted && this.stillOurs(pid));
      if (!leaderUp && processGroupMembers(pid, this.deps.procRoot).length === 0) break;
      const now = performance.now();
      if (giveUpAt === undefined && now >= killAt) {
        this.deps.logger.warn({ program: this.fullName, pid }, 'stop deadline passed: SIGKILL to the group');
        this.signalGroup(pid, 'SIGKILL');
        giveUpAt = now + timing.killGraceMs;
      } else if (giveUpAt !== undefined && now >= giveUpAt) {
        this.spawnError = `process group ${pid} survived SIGKILL`;
        this.deps.logger.error({ program: this.fullName, pid }, this.spawnError);
        this.setState('UNKNOWN');
        return;
      }
      // Wake on the child's exit, else poll, more slowly as time passes.
      await Promise.race([sleep(delay), ...(this.child && this.childExit ? [this.childExit] : [])]);
      delay = Math.min(delay * 2, timing.stopPollMs);
    }
    if (this.adopted) {
      this.exitCode = null;
      this.exitSignal = null;
    }
    this.pid = null;
    this.stoppedAt = this.deps.clock();
    this.setState('STOPPED');
  }
}

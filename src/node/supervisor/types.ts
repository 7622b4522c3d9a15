/**
 * The vocabulary of the node's process supervisor: program configuration, process states (exactly
 * supervisord's), process information, events, and the control interface implemented both by the
 * in-process `Supervisor` and by the `SupervisorClient` that talks to the daemon over its socket.
 */

/** supervisord's process states. UNKNOWN: a process group that could not be killed. */
export const PROCESS_STATES = [
  'STOPPED',
  'STARTING',
  'RUNNING',
  'BACKOFF',
  'STOPPING',
  'EXITED',
  'FATAL',
  'UNKNOWN',
] as const;
export type ProcessState = (typeof PROCESS_STATES)[number];

/** States in which a program counts as started (supervisord's RUNNING_STATES). */
export const RUNNING_STATES: readonly ProcessState[] = ['STARTING', 'RUNNING', 'BACKOFF'];

export const STOP_SIGNALS = ['TERM', 'HUP', 'INT', 'QUIT', 'KILL', 'USR1', 'USR2'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** supervisord's `autorestart`: always, never, or only after an exit whose status is not in `exitcodes`. */
export type AutoRestart = boolean | 'unexpected';

/** A program as the daemon runs it (every default filled in; see `normalizeProgram`). */
export interface ProgramConfig {
  /** Program name inside its group (for SlapOS: the file name, `-on-watch` appended for services). */
  name: string;
  /** Executable to run (SlapOS services are wrappers run without arguments). */
  command: string;
  args: string[];
  /** Working directory (default: the daemon's). */
  cwd: string | null;
  /**
   * The whole environment of the program: nothing is inherited from the daemon (as SlapOS starts
   * supervisord with an empty environment). SUPERVISOR_ENABLED, SUPERVISOR_GROUP_NAME and
   * SUPERVISOR_PROCESS_NAME are added, as supervisord does.
   */
  env: Record<string, string>;
  /** Numeric user and group to run as (system mode); null = the daemon's own (sandbox mode). */
  uid: number | null;
  gid: number | null;
  /** Start when the group is added or the daemon starts (supervisord default true; SlapOS uses false). */
  autostart: boolean;
  autorestart: AutoRestart;
  /** Seconds the process must stay up to count as started (supervisord default 1; SlapOS 0). */
  startsecs: number;
  /** Failed starts retried before FATAL (supervisord default 3). */
  startretries: number;
  /** Exit statuses that count as expected (default [0]; [] makes every exit unexpected). */
  exitcodes: number[];
  stopsignal: StopSignal;
  /** Seconds between the stop signal and SIGKILL of the whole process group (default 10; SlapOS 60). */
  stopwaitsecs: number;
  /** stdout and stderr of the program, both (supervisord's redirect_stderr). */
  logFile: string;
  /** The log is rotated (copy then truncate) once it is over this size. */
  logMaxBytes: number;
  /** Rotated copies kept (`<log>.1` … `<log>.N`). */
  logBackups: number;
}

/** What callers give: `name` and `command`, everything else optional. */
export type ProgramSpec = Pick<ProgramConfig, 'name' | 'command'> &
  Partial<Omit<ProgramConfig, 'name' | 'command'>>;

export interface ProcessInfo {
  group: string;
  name: string;
  /** `group:name`, supervisorctl's way to address a process. */
  fullName: string;
  state: ProcessState;
  /** supervisorctl's description column: "pid 123, uptime 0:01:02", "Exited too quickly …". */
  description: string;
  pid: number | null;
  /** Epoch milliseconds of the last spawn, of the last stop/exit. */
  startedAt: number | null;
  stoppedAt: number | null;
  /** Exit status and signal of the last exit (null when unknown: a re-attached process). */
  exitCode: number | null;
  exitSignal: string | null;
  /** Why the last spawn failed or the program gave up. */
  spawnError: string | null;
  /** True when the process was started by an earlier run of the daemon and re-attached. */
  adopted: boolean;
  logFile: string;
  configHash: string;
}

/** Given to `onUnexpectedExit` (and in `unexpected-exit` events): enough to bang the master. */
export interface UnexpectedExitInfo {
  /** EXITED (exit while running) or FATAL (gave up starting). */
  state: 'EXITED' | 'FATAL';
  pid: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  /** Milliseconds the process ran, when known. */
  uptimeMs: number | null;
  /** One line for people: "apache-on-watch exited with status 1". */
  message: string;
  /** Last bytes of the program's log, to help whoever reads the bang. */
  logTail: string;
  time: number;
}

/** Called when a program exits unexpectedly or goes FATAL; the node agent wires the bang here. */
export type UnexpectedExitNotifier = (
  group: string,
  program: string,
  info: UnexpectedExitInfo,
) => void | Promise<void>;

export type SupervisorEvent =
  | {
      seq: number;
      time: number;
      type: 'state';
      group: string;
      name: string;
      from: ProcessState;
      to: ProcessState;
      pid: number | null;
      /** For EXITED: whether the exit status is in `exitcodes`. */
      expected?: boolean;
    }
  | {
      seq: number;
      time: number;
      type: 'unexpected-exit';
      group: string;
      name: string;
      info: UnexpectedExitInfo;
    }
  | { seq: number; time: number; type: 'group'; group: string; change: 'added' | 'changed' | 'removed' };

/** Distributes the `Omit` over the event union (plain `Omit` would collapse it). */
export type SupervisorEventInput = SupervisorEvent extends infer E
  ? E extends SupervisorEvent
    ? Omit<E, 'seq' | 'time'>
    : never
  : never;

export interface EventBatch {
  /** Changes each time the daemon starts: a client seeing a new one starts again from `after = 0`. */
  stream: string;
  events: SupervisorEvent[];
  /** Sequence number to pass as `after` next time. */
  last: number;
  /** True when events between `after` and the first returned one were dropped (buffer overrun, new stream). */
  gap: boolean;
}

export interface LogTail {
  data: string;
  /** Byte offset of the end of what was returned: pass it back as `offset` to follow the log. */
  offset: number;
  size: number;
  /** True when the log was rotated or more than `bytes` were written since `offset`. */
  overflow: boolean;
}

export interface GroupUpdateResult {
  added: string[];
  changed: string[];
  removed: string[];
}

export type ActionResult =
  | { name: string; ok: true; info: ProcessInfo }
  | { name: string; ok: false; error: { code: string; message: string; reason: string } };

/** Documented lifecycle of the supervisor: `running` between a successful create and `close()`. */
export type SupervisorLifecycle = 'starting' | 'running' | 'closing' | 'closed';

export interface SupervisorStatus {
  pid: number;
  state: SupervisorLifecycle;
  startedAt: number;
  /** The daemon's own memory (process.memoryUsage(), bytes). */
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number };
  processes: ProcessInfo[];
}

export interface StartOptions {
  /** Wait until the process is RUNNING (default true); fail if it exits first. */
  wait?: boolean;
}

export interface TailOptions {
  /** How many bytes at most (default 1600, as supervisorctl). */
  bytes?: number;
  /** Read from this offset instead of the end (to follow a log). */
  offset?: number;
}

export interface WaitEventsOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ShutdownOptions {
  /** Stop every program before exiting (default false: programs keep running). */
  stopPrograms?: boolean;
}

/** Everything one can ask the supervisor; the same contract in-process and over the socket. */
export interface SupervisorControl {
  status(): Promise<SupervisorStatus>;
  /** Declares the programs of one group (partition): adds new, restarts changed, removes missing. */
  updateGroup(group: string, programs: readonly ProgramSpec[]): Promise<GroupUpdateResult>;
  removeGroup(group: string): Promise<GroupUpdateResult>;
  startGroup(group: string, options?: StartOptions): Promise<ActionResult[]>;
  stopGroup(group: string): Promise<ActionResult[]>;
  startProcess(fullName: string, options?: StartOptions): Promise<ProcessInfo>;
  stopProcess(fullName: string): Promise<ProcessInfo>;
  restartProcess(fullName: string, options?: StartOptions): Promise<ProcessInfo>;
  tail(fullName: string, options?: TailOptions): Promise<LogTail>;
  /** Events with `seq > after`, waiting up to `timeoutMs` for the first one (long poll). */
  waitEvents(after: number, options?: WaitEventsOptions): Promise<EventBatch>;
  shutdown(options?: ShutdownOptions): Promise<void>;
}

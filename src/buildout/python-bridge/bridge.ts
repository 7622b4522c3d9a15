/**
 * One `python3` subprocess per buildout run that executes the profile's Python snippets
 * (runner-source.ts). Started on the first snippet, closed by the engine at the end of the run.
 *
 * - Started with an argument array (`python3 -I -u -c RUNNER`), the run's environment (no
 *   `PYTHON*` influence: `-I`), in its own process group (killed as a group on deadline, abort or
 *   close), cwd `buildout:directory`.
 * - The protocol is on fds 3 (to Python) and 4 (from Python), JSON lines; stdout and stderr are the
 *   snippets' prints and subprocesses, reported line by line to the running part, capped.
 * - A snippet that does not finish before the deadline kills the process (a later snippet starts a
 *   new one); so does a protocol line over the size limit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SlapError } from '../../core/errors.ts';
import type { PyValue } from '../py-value.ts';
import { lineSplitter, type Stream } from '../lines.ts';
import { decode, encode } from './codec.ts';
import { RUNNER_SOURCE } from './runner-source.ts';

/** What a running snippet may ask the engine (its object model's operations). */
export interface SnippetHost {
  call(method: string, args: PyValue[]): Promise<PyValue>;
  output(stream: Stream, line: string): void;
}

export interface PythonBridgeOptions {
  /** Absolute path of the interpreter (see `locatePython`). */
  python: string;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Deadline of one snippet (nested snippets run within their caller's). */
  timeoutMs: number;
  /** Bytes of stdout+stderr reported per process; the rest is dropped (one notice). */
  outputLimitBytes?: number;
  /** Longest protocol line accepted from Python. */
  maxMessageBytes?: number;
  signal?: AbortSignal;
}

/** A Python exception raised by a snippet. */
export class SnippetError extends Error {
  constructor(
    readonly type: string,
    readonly pythonMessage: string,
    readonly line: number | undefined,
  ) {
    super(`${type}: ${pythonMessage}`);
  }
}

/** The first executable `python3` on `PATH` (undefined when there is none). */
export function locatePython(env: Readonly<Record<string, string | undefined>>): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'python3');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

interface PendingRun {
  host: SnippetHost;
  resolve(): void;
  reject(error: Error): void;
  /** Its outcome, once Python sent it, kept until its output is read to the end (the sync marks). */
  outcome?: { error: SnippetError | undefined; waiting: Set<Stream> };
}

/** The mark Python writes on stdout and stderr after a run's output (pipes are not ordered with fd 4). */
const SYNC_MARK = /\0bridge-sync-(\d+)\0/;

interface Message {
  op?: unknown;
  id?: unknown;
  run?: unknown;
  method?: unknown;
  args?: unknown;
  type?: unknown;
  message?: unknown;
  line?: unknown;
  synced?: unknown;
}

const DEFAULT_OUTPUT_LIMIT = 4 * 1024 * 1024;
const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;

export class PythonBridge {
  private child: ChildProcess | undefined;
  private toPython: Writable | undefined;
  private nextId = 0;
  private readonly runs = new Map<number, PendingRun>();
  /** Ids of the runs in progress, innermost last (their output goes to the innermost). */
  private readonly active: number[] = [];
  private deadline: NodeJS.Timeout | undefined;
  private outputBytes = 0;
  private stderrTail: string[] = [];

  constructor(private readonly options: PythonBridgeOptions) {}

  /** Runs `code` as `part`'s `phase` snippet; rejects with SnippetError for a Python exception. */
  run(
    part: string,
    phase: string,
    code: string,
    location: string | undefined,
    host: SnippetHost,
  ): Promise<void> {
    this.options.signal?.throwIfAborted();
    this.start();
    const id = ++this.nextId;
    const done = new Promise<void>((resolve, reject) => {
      this.runs.set(id, { host, resolve, reject });
    });
    if (this.active.length === 0) this.armDeadline();
    this.active.push(id);
    this.send({ op: 'run', id, part, phase, code, location: location ?? null });
    return done.finally(() => {
      const at = this.active.lastIndexOf(id);
      if (at >= 0) this.active.splice(at, 1);
      if (this.active.length === 0) this.disarmDeadline();
    });
  }

  /** Ends the process (and whatever it left in its process group). */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.toPython?.end();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const grace = setTimeout(() => this.killGroup(child), 5000);
      await exited;
      clearTimeout(grace);
    }
    this.killGroup(child);
  }

  private start(): void {
    if (this.child) return;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.options.env)) if (value !== undefined) env[key] = value;
    const child = spawn(this.options.python, ['-I', '-u', '-c', RUNNER_SOURCE], {
      cwd: this.options.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.outputBytes = 0;
    this.stderrTail = [];
    child.unref();
    const [, stdout, stderr, toPython, fromPython] = child.stdio as [
      null,
      Readable,
      Readable,
      Writable,
      Readable,
    ];
    for (const stream of [stdout, stderr, toPython, fromPython]) (stream as { unref?: () => void }).unref?.();
    this.toPython = toPython;
    toPython.on('error', () => undefined);
    const splitter = lineSplitter((stream, line) => this.output(stream, line));
    stdout.setEncoding('utf8').on('data', (chunk: string) => splitter.onOutput('stdout', chunk));
    stderr.setEncoding('utf8').on('data', (chunk: string) => splitter.onOutput('stderr', chunk));
    this.readMessages(fromPython);
    const onAbort = (): void => this.fail(child, new SlapError('SLAP_ERR_RECIPE_FAILED', 'interrupted'));
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) =>
      this.fail(
        child,
        new SlapError('SLAP_ERR_RECIPE_FAILED', `cannot start ${this.options.python}: ${error.message}`),
      ),
    );
    child.on('exit', (code, signal) => {
      splitter.flush();
      this.options.signal?.removeEventListener('abort', onAbort);
      const tail = this.stderrTail.length > 0 ? `: ${this.stderrTail.join(' | ')}` : '';
      this.fail(
        child,
        new SlapError(
          'SLAP_ERR_RECIPE_FAILED',
          `the Python process ended (${signal ?? `exit code ${String(code)}`}) while running profile code${tail}`,
        ),
      );
    });
  }

  private readMessages(stream: Readable): void {
    const max = this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    let pending: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, start)) {
        pending.push(chunk.subarray(start, at));
        const line = Buffer.concat(pending).toString('utf8');
        pending = [];
        size = 0;
        start = at + 1;
        this.receive(line);
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        size += chunk.length - start;
        if (size > max && this.child) {
          pending = [];
          size = 0;
          this.fail(
            this.child,
            new SlapError('SLAP_ERR_RECIPE_FAILED', `a message from the Python process is over ${max} bytes`),
          );
        }
      }
    });
  }

  private receive(line: string): void {
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
    } catch {
      return;
    }
    const id = typeof message.id === 'number' ? message.id : -1;
    if (message.op === 'done' || message.op === 'failed') {
      const run = this.runs.get(id);
      if (!run || run.outcome) return;
      const error =
        message.op === 'done'
          ? undefined
          : new SnippetError(
              typeof message.type === 'string' ? message.type : 'Exception',
              typeof message.message === 'string' ? message.message : '',
              typeof message.line === 'number' ? message.line : undefined,
            );
      const synced = Array.isArray(message.synced) ? message.synced : [];
      const waiting = new Set<Stream>(
        (['stdout', 'stderr'] as const).filter(
          (stream) => synced.includes(stream) && !this.synced(id, stream),
        ),
      );
      run.outcome = { error, waiting };
      this.settle(id);
      return;
    }
    if (message.op !== 'call') return;
    const run = typeof message.run === 'number' ? this.runs.get(message.run) : undefined;
    const reply = (body: Record<string, unknown>): void => this.send({ op: 'reply', id, ...body });
    if (!run || typeof message.method !== 'string' || !Array.isArray(message.args)) {
      reply({ ok: false, error: 'invalid request' });
      return;
    }
    let args: PyValue[];
    try {
      args = message.args.map(decode);
    } catch (error) {
      reply({ ok: false, error: (error as Error).message });
      return;
    }
    run.host.call(message.method, args).then(
      (value) => reply({ ok: true, value: encode(value) }),
      (error: unknown) =>
        reply({
          ok: false,
          kind: error instanceof MissingKeyError ? 'KeyError' : 'UserError',
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  }

  private send(message: Record<string, unknown>): void {
    this.toPython?.write(`${JSON.stringify(message)}\n`);
  }

  /** Marks seen before the run's outcome arrived (the pipes race each other). */
  private readonly earlyMarks = new Set<string>();

  private synced(id: number, stream: Stream): boolean {
    return this.earlyMarks.delete(`${id}:${stream}`);
  }

  private settle(id: number): void {
    const run = this.runs.get(id);
    if (!run?.outcome || run.outcome.waiting.size > 0) return;
    this.runs.delete(id);
    if (run.outcome.error) run.reject(run.outcome.error);
    else run.resolve();
  }

  private output(stream: Stream, line: string): void {
    const mark = SYNC_MARK.exec(line);
    if (mark) {
      if (mark.index > 0) this.output(stream, line.slice(0, mark.index));
      const id = Number(mark[1]);
      const run = this.runs.get(id);
      if (run?.outcome) {
        run.outcome.waiting.delete(stream);
        this.settle(id);
      } else if (run) this.earlyMarks.add(`${id}:${stream}`);
      const rest = line.slice(mark.index + mark[0].length);
      if (rest !== '') this.output(stream, rest);
      return;
    }
    if (stream === 'stderr') {
      this.stderrTail.push(line.slice(0, 500));
      if (this.stderrTail.length > 5) this.stderrTail.shift();
    }
    const limit = this.options.outputLimitBytes ?? DEFAULT_OUTPUT_LIMIT;
    const before = this.outputBytes;
    this.outputBytes += Buffer.byteLength(line) + 1;
    const innermost = this.runs.get(this.active[this.active.length - 1] ?? -1);
    if (!innermost) return;
    if (this.outputBytes <= limit) innermost.host.output(stream, line);
    else if (before <= limit)
      innermost.host.output(
        'stderr',
        `[output of the Python process over ${limit} bytes: the rest is not shown]`,
      );
  }

  private armDeadline(): void {
    const ms = this.options.timeoutMs;
    this.deadline = setTimeout(() => {
      if (this.child)
        this.fail(
          this.child,
          new SlapError(
            'SLAP_ERR_TIMEOUT',
            `the Python code did not finish within ${Math.round(ms / 1000)} s: it was stopped`,
          ),
        );
    }, ms);
  }

  private disarmDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  /** Kills `child`'s group and rejects its runs with `error`; the next run starts a new process. */
  private fail(child: ChildProcess, error: Error): void {
    if (this.child !== child) return;
    this.killGroup(child);
    this.child = undefined;
    this.toPython = undefined;
    this.disarmDeadline();
    const runs = [...this.runs.values()];
    this.runs.clear();
    this.active.length = 0;
    this.earlyMarks.clear();
    for (const run of runs) run.reject(error);
  }

  private killGroup(child: ChildProcess): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** An engine answer meaning "no such section or option" (raised as KeyError in Python). */
export class MissingKeyError extends Error {}

/**
 * `SupervisorClient`: the supervisor's control API (control-server.ts) seen from another process —
 * the CLI, the node agent. Same contract as the in-process `Supervisor` (`SupervisorControl`).
 * Every call has a deadline; a daemon that is not there is a clear SLAP_ERR_SUPERVISOR_NOT_RUNNING.
 */
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERROR_CATALOG, SlapError, type ErrorCode } from '../../core/errors.ts';
import type {
  ActionResult,
  EventBatch,
  GroupUpdateResult,
  LogTail,
  ProcessInfo,
  ProgramSpec,
  ShutdownOptions,
  StartOptions,
  SupervisorControl,
  SupervisorEvent,
  SupervisorStatus,
  TailOptions,
  WaitEventsOptions,
} from './types.ts';

export interface SupervisorClientOptions {
  socketPath: string;
  /** Deadline of quick calls (status, tail): default 10 s. */
  timeoutMs?: number;
  /** Deadline of calls that start or stop processes (a stop may last stopwaitsecs): default 10 min. */
  actionTimeoutMs?: number;
}

interface CallOptions {
  body?: unknown;
  timeoutMs: number;
  signal?: AbortSignal;
}

const CONNECT_ERRORS_NOT_RUNNING = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK']);

export class SupervisorClient implements SupervisorControl {
  readonly socketPath: string;
  private readonly timeoutMs: number;
  private readonly actionTimeoutMs: number;

  constructor(options: SupervisorClientOptions) {
    this.socketPath = options.socketPath;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.actionTimeoutMs = options.actionTimeoutMs ?? 600_000;
  }

  status(): Promise<SupervisorStatus> {
    return this.call('GET', '/v1/status', { timeoutMs: this.timeoutMs });
  }

  updateGroup(group: string, programs: readonly ProgramSpec[]): Promise<GroupUpdateResult> {
    return this.call('PUT', `/v1/groups/${encodeURIComponent(group)}`, {
      body: { programs },
      timeoutMs: this.actionTimeoutMs,
    });
  }

  removeGroup(group: string): Promise<GroupUpdateResult> {
    return this.call('DELETE', `/v1/groups/${encodeURIComponent(group)}`, {
      timeoutMs: this.actionTimeoutMs,
    });
  }

  async startGroup(group: string, options: StartOptions = {}): Promise<ActionResult[]> {
    const answer = await this.call<{ results: ActionResult[] }>(
      'POST',
      `/v1/groups/${encodeURIComponent(group)}/start`,
      { body: options, timeoutMs: this.actionTimeoutMs },
    );
    return answer.results;
  }

  async stopGroup(group: string): Promise<ActionResult[]> {
    const answer = await this.call<{ results: ActionResult[] }>(
      'POST',
      `/v1/groups/${encodeURIComponent(group)}/stop`,
      { timeoutMs: this.actionTimeoutMs },
    );
    return answer.results;
  }

  startProcess(fullName: string, options: StartOptions = {}): Promise<ProcessInfo> {
    return this.processAction(fullName, 'start', options);
  }

  stopProcess(fullName: string): Promise<ProcessInfo> {
    return this.processAction(fullName, 'stop', {});
  }

  restartProcess(fullName: string, options: StartOptions = {}): Promise<ProcessInfo> {
    return this.processAction(fullName, 'restart', options);
  }

  tail(fullName: string, options: TailOptions = {}): Promise<LogTail> {
    const query = new URLSearchParams();
    if (options.bytes !== undefined) query.set('bytes', String(options.bytes));
    if (options.offset !== undefined) query.set('offset', String(options.offset));
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return this.call('GET', `/v1/processes/${encodeURIComponent(fullName)}/log${suffix}`, {
      timeoutMs: this.timeoutMs,
    });
  }

  waitEvents(after: number, options: WaitEventsOptions = {}): Promise<EventBatch> {
    const timeoutMs = options.timeoutMs ?? 0;
    const query = new URLSearchParams({ after: String(after), timeoutMs: String(timeoutMs) });
    return this.call('GET', `/v1/events?${query.toString()}`, {
      timeoutMs: timeoutMs + this.timeoutMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    await this.call('POST', '/v1/shutdown', { body: options, timeoutMs: this.actionTimeoutMs });
  }

  /**
   * Calls `onEvent` for every event until `signal` aborts, long-polling the daemon. Survives daemon
   * restarts: while it is away, retries every `retryMs`; a new daemon (new stream) is read from its
   * first event, `onGap` telling that events may have been missed.
   */
  async watchEvents(
    onEvent: (event: SupervisorEvent) => void | Promise<void>,
    options: { signal: AbortSignal; pollMs?: number; retryMs?: number; onGap?: () => void },
  ): Promise<void> {
    let after = 0;
    let stream: string | undefined;
    while (!options.signal.aborted) {
      let batch: EventBatch;
      try {
        batch = await this.waitEvents(after, { timeoutMs: options.pollMs ?? 30_000, signal: options.signal });
      } catch (error) {
        if (options.signal.aborted) return;
        if (error instanceof SlapError && error.code === 'SLAP_ERR_INVALID_INPUT') throw error;
        await sleep(options.retryMs ?? 1000, undefined, { signal: options.signal }).catch(() => undefined);
        continue;
      }
      if (stream !== undefined && batch.stream !== stream && after > 0) {
        // Another run of the daemon: its numbering starts again.
        stream = batch.stream;
        after = 0;
        options.onGap?.();
        continue;
      }
      stream = batch.stream;
      if (batch.gap) options.onGap?.();
      for (const event of batch.events) await onEvent(event);
      after = batch.last;
    }
  }

  private processAction(fullName: string, action: string, body: object): Promise<ProcessInfo> {
    return this.call('POST', `/v1/processes/${encodeURIComponent(fullName)}/${action}`, {
      body,
      timeoutMs: this.actionTimeoutMs,
    });
  }

  private call<T>(method: string, path: string, options: CallOptions): Promise<T> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(value as T);
      };
      const req = request({
        // A connection per call: cheap on a unix socket, and never a stale kept-alive one.
        agent: false,
        socketPath: this.socketPath,
        path,
        method,
        headers: {
          host: 'supervisor',
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      });
      const timer = setTimeout(() => {
        finish(
          new SlapError(
            'SLAP_ERR_TIMEOUT',
            `the supervisor did not answer ${method} ${path} within ${options.timeoutMs} ms`,
            {
              details: { socket: this.socketPath },
            },
          ),
        );
        req.destroy();
      }, options.timeoutMs);
      const onAbort = (): void => {
        finish(new SlapError('SLAP_ERR_TIMEOUT', `${method} ${path} aborted`));
        req.destroy();
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error: NodeJS.ErrnoException) => finish(this.connectionError(error)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => finish(this.connectionError(error)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            finish(
              new SlapError(
                'SLAP_ERR_UNAVAILABLE',
                `the supervisor answered ${res.statusCode} with a non-JSON body`,
                {
                  details: { socket: this.socketPath },
                },
              ),
            );
            return;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) finish(undefined, body as T);
          else finish(remoteError(status, body));
        });
      });
      req.end(payload);
    });
  }

  private connectionError(error: NodeJS.ErrnoException): SlapError {
    const code = error.code ?? '';
    if (CONNECT_ERRORS_NOT_RUNNING.has(code))
      return new SlapError(
        'SLAP_ERR_SUPERVISOR_NOT_RUNNING',
        `supervisor is not running (socket ${this.socketPath})`,
        {
          hint: 'start it with `slapos node supervisord`',
          cause: error,
          details: { socket: this.socketPath },
        },
      );
    if (code === 'EACCES' || code === 'EPERM')
      return new SlapError(
        'SLAP_ERR_FORBIDDEN',
        `permission denied on the supervisor socket ${this.socketPath}`,
        {
          hint: 'run this as the user who runs the supervisor (root on a production node)',
          cause: error,
        },
      );
    return new SlapError(
      'SLAP_ERR_UNAVAILABLE',
      `cannot talk to the supervisor (socket ${this.socketPath}): ${error.message}`,
      {
        cause: error,
      },
    );
  }
}

function remoteError(status: number, body: unknown): SlapError {
  const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const type =
    typeof fields.type === 'string' && fields.type in ERROR_CATALOG ? (fields.type as ErrorCode) : undefined;
  const title = typeof fields.title === 'string' ? fields.title : `the supervisor answered ${status}`;
  return new SlapError(type ?? 'SLAP_ERR_UNAVAILABLE', title, {
    status,
    ...(typeof fields.hint === 'string' ? { hint: fields.hint } : {}),
    ...(typeof fields.details === 'object' && fields.details !== null
      ? { details: fields.details as Record<string, unknown> }
      : {}),
  });
}

/**
 * The agent's control channel: a unix socket (mode 0600: its owner and root only) in
 * `<instance_root>/var/run/`, through which `slapos node software|instance|report|promise`, finding
 * the agent's lock held, ask the agent to do the work and wait for it. One request per connection, JSON
 * lines: the client sends `{"request": AgentRequest}`, the agent answers with any number of
 * `{"event": NodeProgressEvent}` (that work's progress), then `{"result": …}` (the pass's result, as
 * the one-shot pass returns it) or `{"error": {code, message, hint?}}`, and closes.
 */
import { rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { ERROR_CATALOG, SlapError, type ErrorCode } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { passError, type NodeProgressEvent, type PassError } from '../pass.ts';
import { SOCKET_PATH_MAX_BYTES } from '../supervisor/paths.ts';

export type AgentRequest =
  | { command: 'software'; force: boolean; only?: string[] }
  | { command: 'instance'; force: boolean; only?: string[] }
  | { command: 'report' }
  /** `node promise`: the promises of these partitions (default all), `timeout` seconds each. */
  | { command: 'promise'; only?: string[]; timeout?: number };

/** What a pass returns, as far as the channel cares (the CLI renders the rest). */
export interface AgentPassResult {
  exitCode: number;
}

export type AgentRequestHandler = (
  request: AgentRequest,
  onEvent: (event: NodeProgressEvent) => void,
  signal: AbortSignal,
) => Promise<AgentPassResult>;

/** Longest request line accepted (a request is small; anything bigger is not ours). */
const MAX_REQUEST_BYTES = 64 * 1024;

/** Validates a request read from the socket; throws a usage error naming what is wrong. */
export function parseAgentRequest(line: string): AgentRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new SlapError('SLAP_ERR_USAGE', 'the control request is not JSON');
  }
  const request = (value as { request?: unknown } | null)?.request;
  if (typeof request !== 'object' || request === null)
    throw new SlapError('SLAP_ERR_USAGE', 'the control request has no "request" object');
  const { command, force, only, timeout } = request as Record<string, unknown>;
  if (command === 'report') return { command };
  if (command === 'promise') {
    if (timeout !== undefined && !(Number.isSafeInteger(timeout) && (timeout as number) >= 1))
      throw new SlapError('SLAP_ERR_USAGE', '"timeout" must be a positive whole number of seconds');
    return {
      command,
      ...(only === undefined ? {} : { only: parseOnly(only) }),
      ...(timeout === undefined ? {} : { timeout: timeout as number }),
    };
  }
  if (command !== 'software' && command !== 'instance')
    throw new SlapError('SLAP_ERR_USAGE', 'unknown control command (software, instance, report or promise)');
  if (typeof force !== 'boolean') throw new SlapError('SLAP_ERR_USAGE', '"force" must be a boolean');
  if (only === undefined) return { command, force };
  return { command, force, only: parseOnly(only) };
}

function parseOnly(only: unknown): string[] {
  if (!Array.isArray(only) || !only.every((item) => typeof item === 'string' && item !== ''))
    throw new SlapError('SLAP_ERR_USAGE', '"only" must be a list of non-empty strings');
  return only as string[];
}

export interface ControlServer {
  readonly path: string;
  /** Stops listening, ends the running requests' connections, removes the socket. Idempotent. */
  close(): Promise<void>;
}

/**
 * Listens on `path` (removed first: the caller holds the agent's lock, so a socket there is stale)
 * with mode 0600 from the start, and serves requests with `handler`.
 */
export async function startControlServer(
  path: string,
  handler: AgentRequestHandler,
  options: { logger: Logger },
): Promise<ControlServer> {
  if (Buffer.byteLength(path) > SOCKET_PATH_MAX_BYTES)
    throw new SlapError('SLAP_ERR_CONFIG', `control socket path too long for a unix socket: ${path}`);
  await rm(path, { force: true });
  const closing = new AbortController();
  const sockets = new Set<Socket>();
  // Half-open allowed: a client that ends its side after the request (`nc -U`) still gets the answer.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    serve(socket, handler, closing.signal, options.logger);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => {
      reject(
        new SlapError('SLAP_ERR_CONFIG', `cannot listen on ${path}: ${error.message}`, { cause: error }),
      );
    });
    // A unix socket is bound within listen(): the process-wide umask is 0177 only for that call, not
    // until the callback (the agent's loop already runs and spawns builds that inherit the umask).
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(previous);
    }
  });
  let closed: Promise<void> | undefined;
  return {
    path,
    close() {
      closed ??= (async () => {
        closing.abort(new SlapError('SLAP_ERR_UNAVAILABLE', 'the node agent is stopping'));
        // The waiting requests answer their error first (their handlers see the abort).
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const socket of sockets) socket.end();
        });
        await rm(path, { force: true });
      })();
      return closed;
    },
  };
}

function serve(socket: Socket, handler: AgentRequestHandler, closing: AbortSignal, logger: Logger): void {
  let buffer = '';
  let started = false;
  const send = (message: object): void => {
    if (!socket.writable) return;
    socket.write(`${JSON.stringify(message)}\n`);
  };
  const fail = (error: unknown): void => {
    send({ error: passError(error) });
    socket.end();
  };
  const gone = new AbortController();
  socket.on('close', () => gone.abort());
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    if (started) return;
    buffer += chunk;
    const end = buffer.indexOf('\n');
    if (end < 0) {
      if (Buffer.byteLength(buffer) > MAX_REQUEST_BYTES) {
        started = true;
        fail(new SlapError('SLAP_ERR_USAGE', 'the control request is too long'));
      }
      return;
    }
    started = true;
    let request: AgentRequest;
    try {
      request = parseAgentRequest(buffer.slice(0, end));
    } catch (error) {
      fail(error);
      return;
    }
    logger.info({ request }, 'control request');
    handler(request, (event) => send({ event }), AbortSignal.any([closing, gone.signal])).then(
      (result) => {
        send({ result });
        socket.end();
      },
      (error: unknown) => {
        logger.warn({ err: error, request }, 'control request failed');
        fail(error);
      },
    );
  });
}

/**
 * Sends `request` to the agent listening on `path`, calls `onEvent` with its progress and resolves
 * with its result. Rejects with SLAP_ERR_UNAVAILABLE when nothing answers on `path` (no agent, or an
 * agent without the channel), or with the agent's error.
 */
export function sendAgentRequest<T extends AgentPassResult>(
  path: string,
  request: AgentRequest,
  options: { onEvent?: (event: NodeProgressEvent) => void; onConnected?: () => void } = {},
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let connected = false;
    let settled = false;
    let buffer = '';
    const settle = (outcome: { result: T } | { error: Error }): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if ('result' in outcome) resolve(outcome.result);
      else reject(outcome.error);
    };
    const socket = createConnection(path, () => {
      connected = true;
      options.onConnected?.();
      socket.write(`${JSON.stringify({ request })}\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        let message: { event?: NodeProgressEvent; result?: T; error?: PassError };
        try {
          message = JSON.parse(line) as typeof message;
        } catch {
          continue;
        }
        if (message.event !== undefined) options.onEvent?.(message.event);
        else if (isPassResult(message.result)) settle({ result: message.result });
        else if (message.error !== undefined) settle({ error: agentError(message.error) });
      }
    });
    socket.on('error', (error) =>
      settle({
        error: new SlapError(
          'SLAP_ERR_UNAVAILABLE',
          connected
            ? `the node agent's control channel failed: ${error.message}`
            : `no node agent answers on ${path}`,
          { cause: error },
        ),
      }),
    );
    socket.on('close', () =>
      settle({
        error: new SlapError(
          'SLAP_ERR_UNAVAILABLE',
          'the node agent closed the control channel before answering',
          {
            hint: 'it may be stopping: see slapos node status',
          },
        ),
      }),
    );
  });
}

function isPassResult<T extends AgentPassResult>(value: unknown): value is T {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { exitCode?: unknown }).exitCode === 'number'
  );
}

function agentError(error: PassError): SlapError {
  const code: ErrorCode = Object.hasOwn(ERROR_CATALOG, error.code) ? error.code : 'SLAP_ERR_INTERNAL';
  return new SlapError(code, String(error.message), {
    ...(typeof error.hint === 'string' ? { hint: error.hint } : {}),
  });
}

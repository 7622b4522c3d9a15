/**
 * The master's connection limits (docs/master.md, "Limits"): at most `maxConnections` connections
 * are served at once, and the ones over the cap get a clear refusal (503 with the API error body,
 * `Retry-After`, `Connection: close`) instead of node's silent drop; errors the HTTP parser meets
 * before a request reaches the routes (headers timeout, headers too large, malformed request) are
 * answered with the API error body too.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { toHttpError } from './errors.ts';

/** How long a refused connection may take to send its request and read the 503. */
const REFUSAL_GRACE_MS = 1_000;

/** A complete HTTP/1.1 answer carrying `error` as the API error body; the connection closes after it. */
export function rawErrorAnswer(error: SlapError, headers: Record<string, string> = {}): string {
  const { status, body } = toHttpError(error);
  const text = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${body.type}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${text}`;
}

/**
 * Answers a connection over the cap once it has sent something (a client reads an answer to the
 * request it sent, not one that comes first), reads and drops the rest for a moment so that the
 * answer is not lost to a reset, then closes it. Silent connections are closed after the grace.
 */
function refuse(socket: Socket, answer: string): void {
  const timer = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS);
  timer.unref();
  socket.on('error', () => socket.destroy());
  socket.once('close', () => clearTimeout(timer));
  socket.once('data', () => {
    socket.end(answer);
    socket.on('end', () => socket.destroy());
  });
  socket.resume();
}

/**
 * Puts a cap on the connections `server` serves at once. Must be called before the server accepts
 * connections: it takes the place of the server's own connection handling, and hands the
 * connections under the cap to it.
 */
export function capConnections(server: Server, options: { maxConnections: number; logger: Logger }): void {
  const serve = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  let open = 0;
  let refusals = 0;
  const answer = rawErrorAnswer(
    new SlapError(
      'SLAP_ERR_UNAVAILABLE',
      `The master serves at most ${options.maxConnections} connections at once; retry later.`,
    ),
    { 'Retry-After': '1' },
  );
  server.on('connection', (socket: Socket) => {
    if (open >= options.maxConnections) {
      // Refusals are bounded too: past as many again, connections are dropped.
      if (refusals >= options.maxConnections) {
        socket.destroy();
        return;
      }
      refusals++;
      socket.once('close', () => refusals--);
      if (refusals === 1)
        options.logger.warn({ maxConnections: options.maxConnections }, 'connection cap reached');
      refuse(socket, answer);
      return;
    }
    open++;
    socket.once('close', () => open--);
    for (const listener of serve) listener.call(server, socket);
  });
}

/**
 * Fastify's `clientErrorHandler`: what the HTTP parser refuses before routing (headers timeout,
 * headers too large, a malformed request) is answered with the API error body, then the
 * connection is closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // An answer already under way (node keeps it on the socket) cannot be followed by another one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  let answer: SlapError;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    answer = new SlapError(
      'SLAP_ERR_REQUEST_TIMEOUT',
      'The request was not received in time (headers or body too slow).',
    );
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    answer = new SlapError('SLAP_ERR_INVALID_INPUT', 'The request headers are too large.', { status: 431 });
  } else {
    answer = new SlapError('SLAP_ERR_INVALID_INPUT', 'The request is not well-formed HTTP/1.1.');
  }
  socket.end(rawErrorAnswer(answer), () => socket.destroy());
  setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS).unref();
}

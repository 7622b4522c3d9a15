/**
 * A TLS listener answers plain HTTP clearly instead of with a failed handshake: the first byte of
 * each connection is looked at (a TLS handshake record starts with 0x16); anything else gets a plain
 * `HTTP/1.1 400` with the API error body saying to use https://, and the connection is closed. The
 * byte looked at is put back, so the TLS layer reads the connection from its start.
 */
import type { Server, Socket } from 'node:net';
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { rawErrorAnswer } from './connection-limits.ts';

const TLS_HANDSHAKE_RECORD = 0x16;
/** How long a refused connection may take to read the answer. */
const REFUSAL_GRACE_MS = 1_000;

/**
 * Puts the first-byte check in front of `server`'s own connection handling. Must be called before
 * the server accepts connections (and before capConnections, which then counts these connections).
 */
export function refusePlainHttp(
  server: Server,
  options: { url: () => string; firstByteTimeoutMs: number; logger: Logger },
): void {
  const serve = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const silent = setTimeout(() => socket.destroy(), options.firstByteTimeoutMs);
    silent.unref();
    const onError = (): void => void socket.destroy();
    socket.on('error', onError);
    socket.once('close', () => clearTimeout(silent));
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(silent);
      socket.pause();
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        socket.off('error', onError);
        socket.unshift(chunk);
        for (const listener of serve) listener.call(server, socket);
        return;
      }
      options.logger.debug({ address: socket.remoteAddress }, 'plain HTTP on the TLS port refused');
      const answer = rawErrorAnswer(
        new SlapError(
          'SLAP_ERR_INVALID_INPUT',
          `This master speaks HTTPS only: use ${options.url()} (https://), not http://.`,
        ),
      );
      // The rest of the request is read and dropped, so that the client reads the answer, not a reset.
      socket.resume();
      socket.end(answer);
      socket.once('end', () => socket.destroy());
      setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS).unref();
    });
  });
}

/**
 * Closing a daemon's fastify app: requests in flight get `graceMs` to finish, then the
 * connections still open are cut, so that a client holding one cannot hold the close.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from './logger.ts';

/** Default grace of the master's and the cache server's `close()`. */
export const DEFAULT_CLOSE_GRACE_MS = 10_000;

export async function closeWithGrace(app: FastifyInstance, graceMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      logger.warn({ graceMs }, 'closing: cutting the connections still open');
      app.server.closeAllConnections();
      resolve();
    }, graceMs);
  });
  try {
    await Promise.race([app.close(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

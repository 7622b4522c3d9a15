/**
 * A fastify daemon whose routes read the request bodies themselves (streamed to the disk, whatever
 * their type: the cache server's blobs, the backup repository's packs), with the shared daemon
 * options and every error answered as the API error body.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fastify as Fastify } from '../../lib/fastify.ts';
import { toHttpError } from './errors.ts';
import { daemonFastifyOptions, type DaemonFastifyOptions } from './fastify-options.ts';

export interface RawBodyDaemonLogging {
  /** Put before the 'request failed' and 'request refused' messages. */
  messagePrefix: string;
  /** What of a failed or refused request the log line tells. */
  requestFields: (request: FastifyRequest) => Record<string, unknown>;
}

export function createRawBodyDaemon(
  options: DaemonFastifyOptions,
  logging: RawBodyDaemonLogging,
): FastifyInstance {
  const { logger } = options;
  const app = Fastify({
    ...daemonFastifyOptions(options),
    frameworkErrors: (error, _request, reply) => {
      const { status, body } = toHttpError(error);
      void (reply as FastifyReply).code(status).type('application/json').send(JSON.stringify(body));
    },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request: FastifyRequest, _payload: IncomingMessage, done) => {
    done(null, undefined);
  });
  app.setErrorHandler((error, request, reply) => {
    const { status, body, internal } = toHttpError(error);
    if (internal)
      logger.error(
        { err: error, ...logging.requestFields(request) },
        `${logging.messagePrefix}request failed`,
      );
    else
      logger.debug(
        { status, title: body.title, ...logging.requestFields(request) },
        `${logging.messagePrefix}request refused`,
      );
    return reply.code(status).type('application/json').send(JSON.stringify(body));
  });
  return app;
}

/**
 * The fastify options the project's daemons (master, cache server) share: pino logger without
 * per-request lines or child loggers, no route schemas (so neither ajv nor fast-json-stringify is
 * loaded), malformed requests answered by connection-limits.ts, idle connections closed on close,
 * and optional TLS 1.2+ whose handshake has the request headers' time, with client certificates
 * asked for and checked against `clientCa` but not required (the handler reads whether the TLS
 * layer authorized the one presented).
 */
import type { FastifyBaseLogger } from 'fastify';
import { answerClientError } from './connection-limits.ts';
import { LogController } from '../../lib/fastify.ts';
import type { Logger } from '../../lib/logger.ts';

export interface DaemonTls {
  key: string | Buffer;
  cert: string | Buffer;
  clientCa?: string | Buffer | undefined;
}

export interface DaemonFastifyOptions {
  logger: Logger;
  /** Who has no route schemas, and why (the error a schema compiler would throw). */
  noSchemasReason: string;
  headersTimeoutMs: number;
  connectionsCheckingIntervalMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxParamLength: number;
  tls: DaemonTls | undefined;
}

export function daemonFastifyOptions(o: DaemonFastifyOptions) {
  const noRouteSchemas = (): never => {
    throw new Error(o.noSchemasReason);
  };
  const httpOptions = {
    headersTimeout: o.headersTimeoutMs,
    connectionsCheckingInterval: o.connectionsCheckingIntervalMs,
  };
  const loggerInstance: FastifyBaseLogger = o.logger;
  return {
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (parent: FastifyBaseLogger) => parent,
    routerOptions: { maxParamLength: o.maxParamLength },
    requestTimeout: o.requestTimeoutMs,
    keepAliveTimeout: o.keepAliveTimeoutMs,
    clientErrorHandler: answerClientError,
    schemaController: {
      compilersFactory: { buildValidator: noRouteSchemas, buildSerializer: noRouteSchemas },
    },
    forceCloseConnections: 'idle' as const,
    return503OnClosing: true,
    ...(o.tls === undefined
      ? { http: httpOptions }
      : {
          https: {
            ...httpOptions,
            key: o.tls.key,
            cert: o.tls.cert,
            minVersion: 'TLSv1.2' as const,
            handshakeTimeout: o.headersTimeoutMs,
            ...(o.tls.clientCa === undefined
              ? {}
              : { ca: o.tls.clientCa, requestCert: true, rejectUnauthorized: false }),
          },
        }),
  };
}

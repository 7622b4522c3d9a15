/**
 * The master process: SQLite store + services + JSON API, over HTTP (proxy mode) or HTTPS.
 *
 * Proxy mode (slapproxy's) trusts the loopback listener, or the holder of its local token. Master
 * mode serves HTTPS only (TLS 1.2+; plain HTTP on its port is answered 400) and authenticates each
 * request by its client certificate (issued by the master's CA) or bearer token (a user's API token,
 * a registration token): master-authentication.ts.
 *
 * Lifecycle (`state`): `listening` once `startMaster` resolves → `closing` while `close()` drains
 * in-flight requests (new connections refused, idle keep-alive connections closed; after the
 * grace deadline the remaining connections are cut) → `closed` once the database is closed.
 * `close()` is idempotent.
 */
import { isIP } from 'node:net';
import { bareHost, isLoopbackHost } from '../lib/loopback.ts';
import type { FastifyReply } from 'fastify';
import { fastify as Fastify } from '../lib/fastify.ts';
import { daemonFastifyOptions } from './http/fastify-options.ts';
import { closeWithGrace, DEFAULT_CLOSE_GRACE_MS } from '../lib/fastify-close.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { SlapError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import type { CertificateAuthority } from './ca/certificate-authority.ts';
import { bearerTokenAuthenticator, openProxyAuthenticator, withScrapeToken } from './http/authentication.ts';
import { FailureLimiter } from './http/failure-limiter.ts';
import { masterAuthenticator } from './http/master-authentication.ts';
import { refusePlainHttp } from './http/plain-http-refusal.ts';
import { capConnections } from './http/connection-limits.ts';
import type { MasterApiSelection } from './api-selection.ts';
import { registerAuthentication } from './http/authenticate-requests.ts';
import { registerJsonApi } from './http/json-api.ts';
import { isMetricsPath, MasterMetrics, registerMetrics } from './http/metrics.ts';
import { registerLegacyApi } from './http/legacy/legacy-api.ts';
import { isPanelPath, registerPanel } from './panel/panel-plugin.ts';
import { PANEL_MAX_PARAM_LENGTH } from './panel/panel-routes.ts';
import { BODY_LIMIT_BYTES } from './http/request-body.ts';
import { toHttpError } from './http/errors.ts';
import {
  createMasterServices,
  createServiceContext,
  auditLogger,
  createMasterAuthorizer,
  proxyModeAuthorizer,
  type MasterServices,
} from './services/index.ts';
import type { RegularisationPolicy } from '../core/regularisation-policy.ts';
import { scheduleRegularisation, type RegularisationSchedule } from './services/regularisation-schedule.ts';
import { startFailoverMonitor } from './services/failover.ts';
import { describeDatabaseLocation, type DatabaseLocation } from './storage/database-location.ts';
import { openMasterStore } from './storage/open-store.ts';

export interface StartMasterOptions {
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  /** The database (created and migrated as needed): a SQLite file (or ':memory:') or PostgreSQL. */
  database: DatabaseLocation;
  /** The default compute node (`[slapos] computer_id`). */
  computerId?: string | undefined;
  /** How often nodes are assumed to call (the panel flags a node silent for three): default 60 s. */
  nodePollIntervalSeconds?: number | undefined;
  logger?: Logger;
  clock?: Clock;
  /**
   * Require `Authorization: Bearer <accessToken>` on every call (the standalone's local secret);
   * without it, anyone who reaches the listener may do everything (slapproxy's behaviour).
   */
  accessToken?: string | undefined;
  /** Allow a non-loopback address although proxy mode has no authentication. */
  insecureListen?: boolean;
  /** `proxy` (default): slapproxy's trust; `master`: users, certificates, registration (needs `tls` and `certificateAuthority`). */
  mode?: 'proxy' | 'master';
  /** Serve HTTPS with this key and certificate; client certificates are asked for and checked against `ca`. */
  tls?: { key: string | Buffer; cert: string | Buffer; ca: string | Buffer } | undefined;
  /** Master mode: the CA that signs node, instance and user certificates. */
  certificateAuthority?: CertificateAuthority | undefined;
  /** How long `close()` waits for in-flight requests before cutting connections (default 10 s). */
  closeGraceMs?: number;
  /**
   * Connections served at once (default 512; long polls hold one per watching node); the ones over
   * the cap are answered 503 and closed.
   */
  maxConnections?: number;
  /** Time a client has to send its request headers, else 408 and closed (default 10 s). */
  headersTimeoutMs?: number;
  /**
   * Which APIs are served: `both` (default), `json` (JSON API v0 only) or `legacy` (the SLAP XML
   * protocol only, as a master that predates the JSON API).
   */
  api?: MasterApiSelection;
  /**
   * A token that may read `/metrics` (and nothing else) besides the API's credentials allowed to
   * (`--metrics-token-file`).
   */
  metricsToken?: string | undefined;
  /**
   * `[slapproxy] software_product_list`: product name → software release URL, for the legacy
   * `getSoftwareReleaseListFromSoftwareProduct` (`slapos request product.<name>`).
   */
  softwareProducts?: ReadonlyMap<string, string> | undefined;
  /**
   * Master mode: apply this regularisation policy (services/regularisation.ts) at start, then every
   * `intervalMs` (default hourly). Undefined: the policy is off.
   */
  regularisation?: { policy: RegularisationPolicy; intervalMs?: number } | undefined;
  /**
   * Master mode: when a resilient tree's main is declared lost (seconds; services/failover.ts):
   * `afterSeconds` of silence (default 15), not before the master has been up
   * `graceAfterStartSeconds` (default afterSeconds).
   */
  failover?: { afterSeconds?: number | undefined; graceAfterStartSeconds?: number | undefined } | undefined;
}

const DEFAULT_MAX_CONNECTIONS = 512;
const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Time a client has to send its whole request (headers and body). */
const REQUEST_TIMEOUT_MS = 60_000;
/** How long an idle keep-alive connection is kept (and holds one of the capped slots). */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export type MasterState = 'listening' | 'closing' | 'closed';

export interface RunningMaster {
  /** Base URL, e.g. `http://127.0.0.1:8080` (`https://` with TLS). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly state: MasterState;
  readonly services: MasterServices;
  /** The regularisation policy's runs, when it is on. */
  readonly regularisation: RegularisationSchedule | undefined;
  close(): Promise<void>;
}

export { bareHost, isLoopbackHost };

function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

export async function startMaster(options: StartMasterOptions): Promise<RunningMaster> {
  const host = bareHost(options.host ?? '127.0.0.1');
  const requestedPort = options.port ?? 8080;
  const logger = options.logger ?? silentLogger();
  const mode = options.mode ?? 'proxy';
  const api = options.api ?? 'both';
  const { tls, certificateAuthority } = options;
  if (mode === 'master' && (tls === undefined || certificateAuthority === undefined))
    throw new SlapError('SLAP_ERR_CONFIG', 'master mode needs TLS material and a certificate authority');
  if (mode === 'proxy' && !isLoopbackHost(host) && !options.insecureListen) {
    throw new SlapError(
      'SLAP_ERR_INSECURE_LISTEN',
      `refusing to listen on ${host}: proxy mode has no authentication`,
      {
        hint: 'listen on 127.0.0.1 (the default), or pass --insecure-listen if the network is trusted',
      },
    );
  }
  if (mode === 'proxy' && options.regularisation !== undefined)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      'the regularisation policy needs master mode (users own the instance trees)',
    );
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `maxConnections must be a positive integer, not ${maxConnections}`,
    );
  }
  if (!Number.isSafeInteger(headersTimeout) || headersTimeout < 1 || headersTimeout > REQUEST_TIMEOUT_MS) {
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `headersTimeoutMs must be an integer from 1 to ${REQUEST_TIMEOUT_MS}, not ${headersTimeout}`,
    );
  }
  const metrics = new MasterMetrics();
  const store = await openMasterStore(options.database, {
    logger,
    onTransaction: metrics.observeTransaction,
  });
  const clock = options.clock ?? systemClock;
  const context = createServiceContext({
    store,
    clock,
    logger,
    defaultComputeNodeId: options.computerId,
    authorizer:
      mode === 'master' ? createMasterAuthorizer({ store, audit: auditLogger(logger) }) : proxyModeAuthorizer,
    mode,
    ca: certificateAuthority,
    nodePollIntervalSeconds: options.nodePollIntervalSeconds,
    failover: options.failover,
  });
  const services = createMasterServices(context);
  const fastify = Fastify({
    // Per-request log lines cost throughput; failures are logged by the JSON API's error handler.
    // Client certificates are asked for but not required: token users have none.
    ...daemonFastifyOptions({
      logger,
      noSchemasReason:
        'the master has no route schemas: bodies are validated by src/master/http/validation.ts',
      headersTimeoutMs: headersTimeout,
      // How often node looks for connections past their headers or request timeout.
      connectionsCheckingIntervalMs: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      maxParamLength: PANEL_MAX_PARAM_LENGTH,
      tls: tls === undefined ? undefined : { key: tls.key, cert: tls.cert, clientCa: tls.ca },
    }),
    bodyLimit: BODY_LIMIT_BYTES,
    // A URL that cannot be decoded is answered before routing and hooks: with the API's error body,
    // counted in the metrics.
    frameworkErrors: (error, request, reply) => {
      const { status, body } = toHttpError(error);
      metrics.observeUnroutable(request.method, status);
      // Its generic type knows no status or body: this is a plain reply.
      void (reply as FastifyReply)
        .code(status)
        .header('content-type', 'application/json')
        .send(Buffer.from(JSON.stringify(body)));
    },
  });
  const scheme = tls === undefined ? 'http' : 'https';
  let port = requestedPort;
  if (tls !== undefined)
    refusePlainHttp(fastify.server, {
      url: () => `${scheme}://${urlHost(host)}:${port}`,
      firstByteTimeoutMs: headersTimeout,
      logger,
    });
  capConnections(fastify.server, { maxConnections, logger });
  const authenticator =
    mode === 'master'
      ? masterAuthenticator({ store, clock })
      : options.accessToken === undefined
        ? openProxyAuthenticator
        : bearerTokenAuthenticator(options.accessToken);
  const failureLimiter = mode === 'master' ? new FailureLimiter() : undefined;
  const authentication = { authenticator, failureLimiter, logger };
  registerAuthentication(fastify, {
    ...authentication,
    selfAuthenticated: (path) => isPanelPath(path) || isMetricsPath(path),
  });
  registerMetrics(fastify, {
    metrics,
    services,
    authentication: {
      ...authentication,
      authenticator:
        options.metricsToken === undefined
          ? authenticator
          : withScrapeToken(options.metricsToken, authenticator),
    },
  });
  registerJsonApi(fastify, {
    services,
    mode,
    routes: api !== 'legacy',
    logger,
    fallbackHost: () => `${urlHost(host)}:${port}`,
  });
  registerPanel(fastify, { ...authentication, services, mode, scheme });
  if (api !== 'json')
    registerLegacyApi(fastify, {
      services,
      logger,
      fallbackHost: () => `${urlHost(host)}:${port}`,
      softwareProducts: options.softwareProducts,
    });
  try {
    await fastify.listen({ host, port: requestedPort });
  } catch (error) {
    await fastify.close().catch(() => undefined);
    await store.close();
    throw new SlapError(
      'SLAP_ERR_LISTEN_FAILED',
      `cannot listen on ${urlHost(host)}:${requestedPort}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const address = fastify.server.address();
  port = typeof address === 'object' && address ? address.port : requestedPort;
  const url = `${scheme}://${urlHost(host)}:${port}`;
  logger.info(
    {
      url,
      mode,
      api,
      database: describeDatabaseLocation(options.database),
      computerId: options.computerId,
      authentication:
        mode === 'master'
          ? 'certificates and tokens'
          : options.accessToken === undefined
            ? 'none'
            : 'bearer token',
    },
    'master listening',
  );

  const regularisation =
    options.regularisation === undefined
      ? undefined
      : scheduleRegularisation(services.context, options.regularisation);

  // Resilient trees exist in master mode only (their clones are on other nodes).
  const failover = mode === 'master' ? startFailoverMonitor(services.context) : undefined;

  let state: MasterState = 'listening';
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = 'closing';
      await regularisation?.close();
      await failover?.close();
      // Long polls answer now instead of holding the close for their whole wait; their answers are
      // written before the server closes its idle connections.
      await services.context.revisions.close();
      await services.context.contacts.close();
      await new Promise((resolve) => setImmediate(resolve));
      try {
        await closeWithGrace(fastify, options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS, logger);
      } finally {
        await store.close();
        state = 'closed';
        logger.info({ url }, 'master closed');
      }
    })();
    return closing;
  };

  return {
    url,
    host,
    port,
    services,
    regularisation,
    get state() {
      return state;
    },
    close,
  };
}

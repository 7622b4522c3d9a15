/**
 * The node agent's `/metrics` (docs/panel.md "Metrics"), served when slapos.cfg's `[slapos]` sets
 * `metrics_address = 127.0.0.1:PORT` (or `[::1]:PORT`; settings.ts): its passes and their durations, its
 * partitions by state, failing promises, the supervisor's restarts, and the process's own figures,
 * in Prometheus's text format from a registry of its own.
 *
 * Without `metrics_token_file` the listener must be a loopback address (anyone on the machine may
 * read it); with it, any address, and every scrape needs `Authorization: Bearer <token>`.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SlapError } from '../../core/errors.ts';
import { bearerToken, readAccessTokenFile, tokenMatcher } from '../../lib/access-token.ts';
import type { Logger } from '../../lib/logger.ts';
import { bareHost } from '../../lib/loopback.ts';
import type { SupervisorClient } from '../supervisor/client.ts';
import type { SupervisorEvent } from '../supervisor/types.ts';
import type { AgentPass, AgentStatus } from './agent.ts';
import type { NodeMetricsSettings } from './settings.ts';

export const NODE_METRICS_PATH = '/metrics';

/** Pass durations, in seconds: from an up-to-date check to a long build. */
const PASS_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

/** Supervisor states a crashed process goes back to STARTING from (its automatic restart). */
const RESTARTED_FROM: ReadonlySet<string> = new Set(['EXITED', 'BACKOFF']);

let processRegistry: Registry | undefined;

/** The process's own figures, in one registry per process (their monitors are never stopped). */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'slapos_node_' });
  }
  return processRegistry;
}

/** One agent's metrics registry and the metrics its hooks feed. */
export class NodeAgentMetrics {
  readonly registry = new Registry();
  private readonly passes = new Counter({
    name: 'slapos_node_passes_total',
    help: 'Passes over one item (software release, partition, report) by kind and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly passDuration = new Histogram({
    name: 'slapos_node_pass_duration_seconds',
    help: 'Duration of the passes over one item, by kind.',
    labelNames: ['kind'] as const,
    buckets: PASS_BUCKETS,
    registers: [this.registry],
  });
  private readonly promiseFailures = new Counter({
    name: 'slapos_node_promise_failures_total',
    help: 'Failing promises found by the partition passes (each pass counts the ones failing after it).',
    registers: [this.registry],
  });
  private readonly restarts = new Counter({
    name: 'slapos_node_supervisor_restarts_total',
    help: 'Processes the supervisor started again after they exited or failed to start (EXITED or BACKOFF to STARTING).',
    registers: [this.registry],
  });
  private readonly unexpectedExits = new Counter({
    name: 'slapos_node_supervisor_unexpected_exits_total',
    help: 'Processes that exited unexpectedly (what bangs the master).',
    registers: [this.registry],
  });
  /** Each partition's failing promises after its last pass. */
  private readonly failing = new Map<string, number>();
  private agent: { status(): AgentStatus } | undefined;

  constructor() {
    const failing = this.failing;
    const status = (): AgentStatus | undefined => this.agent?.status();
    new Gauge({
      name: 'slapos_node_partitions',
      help: 'Partitions holding an instance, by state (the agent status phase: started, failed, promise-failed...).',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const partition of status()?.partitions ?? []) this.inc({ state: partition.phase });
      },
    });
    new Gauge({
      name: 'slapos_node_failing_promises',
      help: 'Promises failing now (after the last pass over their partition).',
      registers: [this.registry],
      collect() {
        const present = new Set((status()?.partitions ?? []).map((partition) => partition.partitionId));
        let count = 0;
        for (const [partitionId, failingPromises] of failing)
          if (present.has(partitionId)) count += failingPromises;
          else failing.delete(partitionId);
        this.set(count);
      },
    });
  }

  /** The whole text of a scrape: the agent's metrics and the process's. */
  async scrape(): Promise<string> {
    return (await Promise.all([this.registry.metrics(), processMetrics().metrics()])).join('\n');
  }

  /** The agent whose status the partition gauges read at each scrape. */
  attach(agent: { status(): AgentStatus }): void {
    this.agent = agent;
  }

  /** For the agent's `onPass`. */
  readonly observePass = (pass: AgentPass): void => {
    this.passes.inc({ kind: pass.kind, outcome: pass.outcome });
    this.passDuration.observe({ kind: pass.kind }, pass.seconds);
    if (pass.partitionId !== undefined) {
      const failing = pass.failingPromises ?? 0;
      this.failing.set(pass.partitionId, failing);
      if (failing > 0) this.promiseFailures.inc(failing);
    }
  };

  /** Epoch ms: the supervisor's events from before (its history) are not counted. */
  private readonly since = Date.now();

  /** For the supervisor's event stream. */
  readonly observeSupervisorEvent = (event: SupervisorEvent): void => {
    if (event.time < this.since) return;
    if (event.type === 'unexpected-exit') this.unexpectedExits.inc();
    else if (event.type === 'state' && event.to === 'STARTING' && RESTARTED_FROM.has(event.from))
      this.restarts.inc();
  };
}

export interface RunningMetricsServer {
  /** `http://HOST:PORT/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

function sendError(
  response: ServerResponse,
  status: number,
  title: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify({ status, type: STATUS_CODES[status] ?? 'Error', title }));
}

export interface ServedAgentMetrics extends RunningMetricsServer {
  metrics: NodeAgentMetrics;
}

/**
 * The agent's metrics, served on `settings`' address, with the supervisor's events counted (until
 * closed).
 */
export async function serveAgentMetrics(
  settings: NodeMetricsSettings,
  options: { supervisor: Pick<SupervisorClient, 'watchEvents'>; logger: Logger },
): Promise<ServedAgentMetrics> {
  const { logger } = options;
  const metrics = new NodeAgentMetrics();
  const server = await startNodeMetricsServer(metrics, settings, { logger });
  const stopWatching = new AbortController();
  const watching = options.supervisor
    .watchEvents(metrics.observeSupervisorEvent, { signal: stopWatching.signal })
    .catch((error: unknown) => logger.warn({ err: error }, 'supervisor events not counted'));
  return {
    metrics,
    url: server.url,
    async close() {
      stopWatching.abort();
      await watching;
      await server.close();
    },
  };
}

/** Serves `metrics` at `/metrics` on `settings`' address (with its token when it has one). */
export async function startNodeMetricsServer(
  metrics: NodeAgentMetrics,
  settings: NodeMetricsSettings,
  options: { logger: Logger },
): Promise<RunningMetricsServer> {
  const { logger } = options;
  const matches =
    settings.tokenFile === undefined
      ? undefined
      : tokenMatcher(await readAccessTokenFile(settings.tokenFile));
  const answer = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '').split('?')[0];
    if (matches !== undefined) {
      const presented = bearerToken(request.headers.authorization);
      if (presented === undefined || !matches(presented))
        return sendError(
          response,
          401,
          'This endpoint needs the header Authorization: Bearer <metrics token>.',
          {
            'www-authenticate': 'Bearer realm="SlapOS node metrics"',
          },
        );
    }
    if (path !== NODE_METRICS_PATH)
      return sendError(response, 404, `No such path; scrape ${NODE_METRICS_PATH}.`);
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return sendError(response, 405, `Method not allowed on ${NODE_METRICS_PATH}; use GET.`, {
        allow: 'GET, HEAD',
      });
    const text = await metrics.scrape();
    response.writeHead(200, { 'content-type': metrics.registry.contentType });
    response.end(request.method === 'HEAD' ? undefined : text);
  };
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (request, response) => {
    // The request body (none expected) is drained, so the answer is not lost to a reset.
    request.resume();
    answer(request, response).catch((error: unknown) => {
      logger.error({ err: error }, 'metrics scrape failed');
      if (!response.headersSent) sendError(response, 500, 'Internal error');
      else response.destroy();
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (error) =>
      reject(
        new SlapError(
          'SLAP_ERR_LISTEN_FAILED',
          `cannot listen on ${settings.host}:${settings.port} for metrics: ${error.message}`,
          { cause: error },
        ),
      ),
    );
    server.listen(settings.port, bareHost(settings.host), () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  const host = isIP(settings.host) === 6 ? `[${settings.host}]` : settings.host;
  const url = `http://${host}:${port}${NODE_METRICS_PATH}`;
  logger.info(
    { url, authentication: matches ? 'bearer token' : 'none (loopback)' },
    'node metrics listening',
  );
  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

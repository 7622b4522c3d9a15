/**
 * `GET /metrics`: the master's figures in Prometheus's text format (docs/panel.md "Metrics"), from a
 * registry of its own (several masters may run in one process): requests by route pattern, method
 * and status with their latency, store transaction times, the process's own figures, and at each
 * scrape the instances by requested state and status and the compute nodes by last-contact age.
 *
 * The route authenticates its requests itself (authenticate-requests.ts `selfAuthenticated`): with
 * the API's rule in proxy mode; in master mode an admin's credential or the scrape token, through
 * the `master.metrics` authorization of the services (another user gets 403).
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SlapError } from '../../core/errors.ts';
import { INSTANCE_STATUSES } from '../../core/instance-status.ts';
import { REQUESTED_STATES } from '../../core/states.ts';
import type { Caller, MasterServices } from '../services/index.ts';
import type { TransactionObserver } from '../storage/transaction-timing.ts';
import { errorBody } from './errors.ts';
import {
  authenticateRequest,
  readUnparsedBody,
  type AuthenticationOptions,
} from './authenticate-requests.ts';

export const METRICS_PATH = '/metrics';

/** The route label of a request no route matched (so that no URL makes a label value of its own). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Latency buckets, in seconds: from a memoized read (~100 µs) to a long poll (up to minutes). */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60];
const TRANSACTION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Last-contact age buckets of the compute nodes, by their upper bound in seconds. */
const CONTACT_AGES: readonly { label: string; below: number }[] = [
  { label: 'lt_1m', below: 60 },
  { label: 'lt_5m', below: 300 },
  { label: 'lt_1h', below: 3600 },
  { label: 'ge_1h', below: Infinity },
];
const NEVER = 'never';

/** The bucket of a node's last contact (float seconds, null: never) at `now`. */
export function contactAgeBucket(lastContactAt: number | null, now: number): string {
  if (lastContactAt === null) return NEVER;
  const age = now - lastContactAt;
  return (CONTACT_AGES.find((bucket) => age < bucket.below) ?? { label: 'ge_1h' }).label;
}

let processRegistry: Registry | undefined;

/**
 * The process's own figures (prom-client's default metrics), in one registry per process: their
 * monitors (event loop delay, GC) are never stopped, and several masters in one process (tests, a
 * standalone) share the process anyway.
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'slapos_master_' });
  }
  return processRegistry;
}

/** One master's metrics registry and the metrics its hooks feed. */
export class MasterMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'slapos_master_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  private readonly requestDuration = new Histogram({
    name: 'slapos_master_http_request_duration_seconds',
    help: 'Time from receiving a request to its answer being sent, by route pattern and method.',
    labelNames: ['route', 'method'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  private readonly transactionDuration = new Histogram({
    name: 'slapos_master_store_transaction_seconds',
    help: 'Store transactions, from the call to its end (waiting for the write queue included).',
    labelNames: ['kind'] as const,
    buckets: TRANSACTION_BUCKETS,
    registers: [this.registry],
  });

  /** For the store (open-store.ts `onTransaction`). */
  readonly observeTransaction: TransactionObserver = (mode, seconds) => {
    this.transactionDuration.observe({ kind: mode }, seconds);
  };

  observeResponse(answer: { route: string; method: string; status: number; seconds: number }): void {
    const { route, method } = answer;
    this.requests.inc({ route, method, status: answer.status });
    this.requestDuration.observe({ route, method }, answer.seconds);
  }

  /** A request answered before routing (its URL cannot be decoded): counted, its time unknown. */
  observeUnroutable(method: string, status: number): void {
    this.requests.inc({ route: UNMATCHED_ROUTE, method, status });
  }

  /** The whole text of a scrape: the registry's metrics and the data's, read now. */
  async scrape(services: MasterServices, caller: Caller): Promise<string> {
    const [instances, contacts] = await Promise.all([
      services.countInstancesByStatus({ caller }),
      services.listComputeNodeContacts({ caller }),
    ]);
    const data = new Registry();
    const instanceGauge = new Gauge({
      name: 'slapos_master_instances',
      help: 'Instances (shared ones excepted) by requested state and status (deploying, started, failed...).',
      labelNames: ['requested_state', 'status'] as const,
      registers: [data],
    });
    for (const requestedState of REQUESTED_STATES)
      for (const status of INSTANCE_STATUSES)
        instanceGauge.set({ requested_state: requestedState, status }, 0);
    for (const count of instances)
      instanceGauge.set({ requested_state: count.requestedState, status: count.status }, count.count);
    const nodeGauge = new Gauge({
      name: 'slapos_master_compute_nodes_by_contact_age',
      help: 'Compute nodes by the age of their last call for a pass (lt_1m, lt_5m, lt_1h, ge_1h, never).',
      labelNames: ['age'] as const,
      registers: [data],
    });
    for (const bucket of [...CONTACT_AGES.map(({ label }) => label), NEVER])
      nodeGauge.set({ age: bucket }, 0);
    const now = services.context.clock.now();
    for (const contact of contacts) nodeGauge.inc({ age: contactAgeBucket(contact.lastContactAt, now) });
    const parts = [this.registry, processMetrics(), data].map((registry) => registry.metrics());
    return (await Promise.all(parts)).join('\n');
  }
}

export interface MetricsRouteOptions {
  metrics: MasterMetrics;
  services: MasterServices;
  /** How `/metrics` authenticates its callers (the API's authenticator, with the scrape token in master mode). */
  authentication: AuthenticationOptions;
}

/** Whether a request path is the metrics route's (for registerAuthentication's `selfAuthenticated`). */
export function isMetricsPath(path: string): boolean {
  return path === METRICS_PATH;
}

/**
 * Counts every answer (register before the routes: the hook is the root's) and serves `/metrics`.
 */
export function registerMetrics(fastify: FastifyInstance, options: MetricsRouteOptions): void {
  const { metrics, services } = options;
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.observeResponse({
      route: request.routeOptions.url ?? UNMATCHED_ROUTE,
      method: request.method,
      status: reply.statusCode,
      seconds: reply.elapsedTime / 1000,
    });
    done();
  });
  // Every method: the path is exempt from the root's authentication, so each is authenticated here,
  // at the same stage (before its body is read).
  const callers = new WeakMap<object, Caller>();
  fastify.all(
    METRICS_PATH,
    {
      onRequest: async (request) => {
        callers.set(request, await authenticateRequest(request, options.authentication));
      },
    },
    async (request, reply) => {
      const caller = callers.get(request);
      if (caller === undefined) throw new SlapError('SLAP_ERR_INTERNAL', 'request not authenticated');
      await readUnparsedBody(request);
      if (request.method !== 'GET' && request.method !== 'HEAD')
        return reply
          .code(405)
          .header('allow', 'GET, HEAD')
          .send(errorBody(405, `Method ${request.method} is not allowed on ${METRICS_PATH}; use GET.`));
      const text = await metrics.scrape(services, caller);
      return reply.code(200).header('content-type', metrics.registry.contentType).send(text);
    },
  );
}

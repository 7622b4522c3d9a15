/** What every use case receives: the store, the clock, the logger, the mode and its check point. */
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import type { MasterStore, Repository } from '../storage/repository.ts';
import type { Action, Authorizer, Caller, Target } from './caller.ts';
import { masterNaming, proxyNaming, type InstanceNaming } from './instance-naming.ts';
import { NodeContacts } from './node-contacts.ts';
import { NodeRevisionHub } from './node-revisions.ts';

/** `proxy`: slapproxy's single trusted caller; `master`: users, nodes and instances with identities. */
export type MasterMode = 'proxy' | 'master';

export interface ServiceContext {
  store: MasterStore;
  clock: Clock;
  logger: Logger;
  mode: MasterMode;
  /** Master mode's certificate authority (node, instance and user certificates). */
  ca: CertificateAuthority | undefined;
  /** How instances are named on the wire in this mode. */
  naming: InstanceNaming;
  /** The default compute node (`[slapos] computer_id`): requests without `computer_guid` go there. */
  defaultComputeNodeId: string | undefined;
  /** The change stream's watchers (woken by the store's commits). */
  revisions: NodeRevisionHub;
  /** When each compute node last called for its pass (written coalesced: close it before the store). */
  contacts: NodeContacts;
  /** How software release schemas are read (software-schema.ts). */
  schemaFetch: SchemaFetchOptions;
  /**
   * How often a node is assumed to call for its pass (the agent's own setting, unknown here): a node
   * silent for three such intervals is flagged (compute-node-views.ts). Default 60.
   */
  nodePollIntervalSeconds: number;
  /** When a resilient tree's main is declared lost (services/failover.ts). */
  failover: FailoverConfig;
  /** The one check point (caller.ts): resolves if allowed, rejects otherwise. */
  authorize(caller: Caller, action: Action, target: Target, repository?: Repository): Promise<void>;
}

export interface FailoverConfig {
  /** A main whose node and promises were silent this long is lost (default 15: three 5 s heartbeats). */
  afterSeconds: number;
  /**
   * No main is declared lost before the master has been up this long (default afterSeconds): the
   * contacts noted in memory were lost with the previous process.
   */
  graceAfterStartSeconds: number;
  /** When this master started (float seconds). */
  startedAt: number;
}

export const DEFAULT_FAILOVER_AFTER_S = 15;

export interface SchemaFetchOptions {
  /** The deadline for reading one software release's schema (all its documents). */
  timeoutMs: number;
  /** Master mode: also read schemas from loopback and private addresses (tests, private networks). */
  privateAddresses: boolean;
}

export interface ServiceContextOptions {
  store: MasterStore;
  clock: Clock;
  logger: Logger;
  mode?: MasterMode;
  ca?: CertificateAuthority | undefined;
  defaultComputeNodeId?: string | undefined;
  /** See ServiceContext; default DEFAULT_NODE_POLL_INTERVAL_S. */
  nodePollIntervalSeconds?: number | undefined;
  authorizer: Authorizer;
  schemaFetch?: Partial<SchemaFetchOptions>;
  /** See FailoverConfig (startedAt: now). */
  failover?: { afterSeconds?: number | undefined; graceAfterStartSeconds?: number | undefined } | undefined;
}

export const DEFAULT_NODE_POLL_INTERVAL_S = 60;

export function createServiceContext(options: ServiceContextOptions): ServiceContext {
  const { authorizer } = options;
  const mode = options.mode ?? 'proxy';
  return {
    store: options.store,
    clock: options.clock,
    logger: options.logger,
    mode,
    ca: options.ca,
    naming: mode === 'master' ? masterNaming : proxyNaming,
    defaultComputeNodeId: options.defaultComputeNodeId,
    revisions: new NodeRevisionHub(options.store),
    contacts: new NodeContacts({ store: options.store, clock: options.clock, logger: options.logger }),
    schemaFetch: {
      timeoutMs: options.schemaFetch?.timeoutMs ?? 5000,
      privateAddresses: options.schemaFetch?.privateAddresses ?? false,
    },
    nodePollIntervalSeconds: options.nodePollIntervalSeconds ?? DEFAULT_NODE_POLL_INTERVAL_S,
    failover: failoverConfig(options),
    authorize: (caller, action, target, repository) =>
      authorizer.authorize(caller, action, target, repository),
  };
}

function failoverConfig(options: ServiceContextOptions): FailoverConfig {
  const afterSeconds = options.failover?.afterSeconds ?? DEFAULT_FAILOVER_AFTER_S;
  return {
    afterSeconds,
    graceAfterStartSeconds: options.failover?.graceAfterStartSeconds ?? afterSeconds,
    startedAt: options.clock.now(),
  };
}

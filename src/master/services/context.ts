/** What every use case receives: the store, the clock, the logger, the configuration and the authorizer. */
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { CertificateAuthority } from '../ca/certificate-authority.ts';
import type { MasterStore } from '../storage/repository.ts';
import type { Action, Authorizer, Caller, Target } from './caller.ts';
import { NodeRevisionHub } from './node-revisions.ts';

export interface ServiceContext {
  store: MasterStore;
  clock: Clock;
  logger: Logger;
  /** The default compute node (`[slapos] computer_id`): requests without `computer_guid` go there. */
  defaultComputeNodeId: string | undefined;
  /** The change stream's watchers (woken by the store's commits). */
  revisions: NodeRevisionHub;
  authorize(caller: Caller, action: Action, target: Target): void;
  /** `proxy` (slapproxy's trust) or `master` (users, certificates, registration). */
  mode: 'proxy' | 'master';
  /** Master mode's certificate authority. */
  ca?: CertificateAuthority | undefined;
}

export interface ServiceContextOptions {
  store: MasterStore;
  clock: Clock;
  logger: Logger;
  defaultComputeNodeId?: string | undefined;
  authorizer: Authorizer;
  mode?: 'proxy' | 'master';
  ca?: CertificateAuthority | undefined;
}

export function createServiceContext(options: ServiceContextOptions): ServiceContext {
  const { authorizer } = options;
  return {
    store: options.store,
    clock: options.clock,
    logger: options.logger,
    defaultComputeNodeId: options.defaultComputeNodeId,
    revisions: new NodeRevisionHub(options.store),
    authorize: (caller, action, target) => authorizer.authorize(caller, action, target),
    mode: options.mode ?? 'proxy',
    ca: options.ca,
  };
}

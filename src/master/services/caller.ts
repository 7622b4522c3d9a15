/**
 * Who calls the master, and the ONE place that decides whether they may do what they ask.
 *
 * Every use case calls `context.authorize(caller, action, target)` before touching data. In proxy
 * mode the only caller is the trusted local one and everything is allowed; master mode
 * (certificates, users, scopes) plugs its own Authorizer in here without touching the transport.
 */
import { SlapError } from '../../core/errors.ts';
import type { InstanceIdentity } from '../../core/instance-guid.ts';

export type Caller =
  /** Proxy mode: whoever reaches the loopback listener (slapproxy has no authentication). */
  | { kind: 'local' }
  /** Master mode (later): a person or API client. */
  | { kind: 'user'; userId: string }
  /** Master mode (later): a node agent, by its certificate. */
  | { kind: 'compute_node'; computeNodeId: string }
  /** Master mode (later): an instance, by its partition's certificate. */
  | { kind: 'instance'; computeNodeId: string; partitionId: string };

/** The trusted local caller of proxy mode. */
export const LOCAL_CALLER: Caller = Object.freeze({ kind: 'local' });

export type Action =
  | 'compute_node.format'
  | 'compute_node.read'
  | 'compute_node.list'
  | 'compute_node.report'
  | 'compute_node.certificate'
  | 'software_installation.supply'
  | 'software_installation.read'
  | 'software_installation.report'
  | 'instance.request'
  | 'instance.read'
  | 'instance.update'
  | 'instance.report'
  | 'instance.certificate'
  | 'instance_tree.read'
  | 'instance_tree.list'
  | 'master.read';

export type Target =
  | { kind: 'master' }
  | { kind: 'compute_node'; computeNodeId: string }
  | { kind: 'partition'; computeNodeId: string; partitionId: string }
  | { kind: 'software_installation'; computeNodeId: string; url: string }
  | { kind: 'instance'; identity: InstanceIdentity }
  | { kind: 'instance_guid'; instanceGuid: string }
  | { kind: 'instance_tree'; title: string };

export interface Authorizer {
  /** Returns if allowed, throws SlapError SLAP_ERR_FORBIDDEN otherwise. */
  authorize(caller: Caller, action: Action, target: Target): void;
}

/** Proxy mode: the local caller may do everything; nobody else exists. */
export const proxyModeAuthorizer: Authorizer = {
  authorize(caller, action) {
    if (caller.kind === 'local') return;
    throw new SlapError('SLAP_ERR_FORBIDDEN', `${caller.kind} callers may not ${action} in proxy mode`);
  },
};

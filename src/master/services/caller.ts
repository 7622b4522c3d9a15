/**
 * Who calls the master, and the ONE place that decides whether they may do what they ask.
 *
 * The transport authenticates (src/master/http/authentication.ts) and hands the services a Caller;
 * every use case calls `context.authorize(caller, action, target)` before touching data. In proxy
 * mode the only caller is the trusted local one (anyone on loopback for slapproxy, the holder of the
 * local token for the standalone) and everything is allowed; master mode (certificates, users,
 * scopes) plugs its own Authenticator and Authorizer in without touching the use cases.
 */
import { SlapError } from '../../core/errors.ts';
import type { InstanceIdentity } from '../../core/instance-guid.ts';

export type Caller =
  /** Proxy mode: whoever reaches the loopback listener, or holds the local token when one is set. */
  | { kind: 'local' }
  /** Someone who proved nothing (no or a wrong credential): refused with 401 by the transport. */
  | { kind: 'anonymous' }
  /** Master mode: a person or API client (bearer API token or user certificate). */
  | { kind: 'user'; userId: string; admin: boolean }
  /** Master mode: the holder of a registration token, who may only register a compute node. */
  | { kind: 'registrant'; userId: string; tokenHash: string }
  /** Master mode: a node agent, by its certificate. */
  | { kind: 'compute_node'; computeNodeId: string }
  /** Master mode: an instance, by its certificate. */
  | { kind: 'instance'; instanceId: number; owner: string; computeNodeId: string; partitionId: string };

/** The trusted local caller of proxy mode. */
export const LOCAL_CALLER: Caller = Object.freeze({ kind: 'local' });

/** A caller without credentials. */
export const ANONYMOUS_CALLER: Caller = Object.freeze({ kind: 'anonymous' });

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
  | 'registration_token.create'
  | 'compute_node.register'
  | 'compute_node.renew_certificate'
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
    if (caller.kind === 'anonymous')
      throw new SlapError('SLAP_ERR_UNAUTHENTICATED', `anonymous callers may not ${action}`);
    throw new SlapError('SLAP_ERR_FORBIDDEN', `${caller.kind} callers may not ${action} in proxy mode`);
  },
};

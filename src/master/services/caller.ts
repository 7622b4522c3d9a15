/**
 * Who calls the master, and the ONE place that decides whether they may do what they ask.
 *
 * The transport authenticates (src/master/http/authentication.ts) and hands the services a Caller;
 * every use case calls `context.authorize(caller, action, target, repository)` before it reads or
 * changes the target. Proxy mode has one trusted local caller and allows everything; master mode
 * (master-authorizer.ts) decides by identity, ownership and allocation scope. A denial on an object
 * is answered as that object's "not found" (authorization-errors.ts): it never tells a caller that
 * someone else's object exists.
 */
import { SlapError } from '../../core/errors.ts';
import type { InstanceRecord, Repository } from '../storage/repository.ts';

export type Caller =
  /** Proxy mode: whoever reaches the loopback listener, or holds the local token when one is set. */
  | { kind: 'local' }
  /** Someone who proved nothing (no or a wrong credential): refused with 401 by the transport. */
  | { kind: 'anonymous' }
  /** Master mode: a person or API client (bearer API token or user certificate). */
  | { kind: 'user'; userId: string; admin: boolean }
  /** Master mode: the holder of a registration token, who may only register one compute node. */
  | { kind: 'registrant'; userId: string; tokenHash: string }
  /** Master mode: a node agent, by its certificate. */
  | { kind: 'compute_node'; computeNodeId: string }
  /** Master mode: an instance, by its certificate: where it runs and whose namespace it is in. */
  | { kind: 'instance'; instanceId: number; owner: string; computeNodeId: string; partitionId: string }
  /** Master mode: the holder of the scrape token (`--metrics-token-file`), who may only read metrics. */
  | { kind: 'metrics_scraper' };

/** The trusted local caller of proxy mode. */
export const LOCAL_CALLER: Caller = Object.freeze({ kind: 'local' });

/** A caller without credentials. */
export const ANONYMOUS_CALLER: Caller = Object.freeze({ kind: 'anonymous' });

export type Action =
  | 'compute_node.format'
  | 'compute_node.read'
  | 'compute_node.list'
  | 'compute_node.report'
  | 'compute_node.update'
  | 'compute_node.certificate'
  | 'compute_node.register'
  | 'compute_node.renew_certificate'
  | 'registration_token.create'
  | 'registration_token.list'
  | 'registration_token.revoke'
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
  | 'master.read'
  /** Opening a panel session (the caller proved who they are; may they use the panel?). */
  | 'panel.sign_in'
  /** Whole-master figures (`/metrics`): admins and the scrape token only. */
  | 'master.metrics'
  /** Reading invoices and price lists: a user their own invoices, an admin everyone's. */
  | 'invoice.read'
  /** Price lists, invoice generation, payments: admins only. */
  | 'invoice.manage';

export type Target =
  | { kind: 'master' }
  | { kind: 'compute_node'; computeNodeId: string }
  | { kind: 'partition'; computeNodeId: string; partitionId: string }
  | { kind: 'software_installation'; computeNodeId: string; url: string }
  /** An instance that exists; `guid` is how the caller named it (for the not-found answer). */
  | { kind: 'instance'; record: InstanceRecord; guid: string }
  /** A report naming an instance that may not exist (slapproxy ignores those). */
  | { kind: 'instance_guid'; instanceGuid: string };

export interface Authorizer {
  /**
   * Resolves if allowed, rejects with a SlapError otherwise. `repository` is the use case's
   * transaction when it has one (a rule that needs to read, reads through it).
   */
  authorize(caller: Caller, action: Action, target: Target, repository?: Repository): Promise<void>;
}

const ALLOWED = Promise.resolve();

/** Proxy mode: the local caller may do everything; nobody else exists. */
export const proxyModeAuthorizer: Authorizer = {
  authorize(caller, action) {
    if (caller.kind === 'local') return ALLOWED;
    if (caller.kind === 'anonymous')
      return Promise.reject(new SlapError('SLAP_ERR_UNAUTHENTICATED', `anonymous callers may not ${action}`));
    return Promise.reject(
      new SlapError('SLAP_ERR_FORBIDDEN', `${caller.kind} callers may not ${action} in proxy mode`),
    );
  },
};

/** The namespace a caller's own instance trees are in ('' for proxy mode's local caller). */
export function namespaceOf(caller: Caller): string {
  switch (caller.kind) {
    case 'local':
      return '';
    case 'user':
      return caller.userId;
    case 'instance':
      return caller.owner;
    default:
      throw new SlapError('SLAP_ERR_FORBIDDEN', `${caller.kind} callers have no instance trees`);
  }
}

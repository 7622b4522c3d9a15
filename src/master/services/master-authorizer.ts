/**
 * INTERIM master-mode Authorizer, until the lead's (caller.ts, with the repository) lands on main:
 * the identities of master mode may do the master-mode actions that are theirs; a user may do the
 * rest; a compute node acts on its own objects only. Replaced at the merge.
 */
import { SlapError } from '../../core/errors.ts';
import type { Authorizer } from './caller.ts';

export const masterModeAuthorizer: Authorizer = {
  authorize(caller, action, target) {
    const deny = (): never => {
      throw new SlapError('SLAP_ERR_FORBIDDEN', `${caller.kind} callers may not ${action}`);
    };
    switch (caller.kind) {
      case 'anonymous':
        throw new SlapError('SLAP_ERR_UNAUTHENTICATED', `anonymous callers may not ${action}`);
      case 'local':
        return deny();
      case 'registrant':
        return action === 'compute_node.register' ? undefined : deny();
      case 'user':
        return action === 'compute_node.register' || action === 'compute_node.renew_certificate'
          ? deny()
          : undefined;
      case 'compute_node':
        if (action === 'instance.certificate') return undefined;
        return target.kind === 'compute_node' && target.computeNodeId === caller.computeNodeId
          ? undefined
          : deny();
      case 'instance':
        return action === 'instance.certificate' || action === 'instance.read' ? undefined : deny();
    }
  },
};

/**
 * Master mode's rules at the one check point (caller.ts):
 * - a user sees and changes their own instance trees and compute nodes; an admin everything;
 * - a compute node: its own partitions, software installations, instances and certificates;
 * - an instance: itself, the children it requested and the shared instances hosted on it;
 * - the holder of a registration token: registering one compute node, nothing else.
 * A denial on an object is answered as that object's "not found" and written to the audit log.
 */
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { InstanceRecord, MasterStore, PartitionKey, Repository } from '../storage/repository.ts';
import type { Action, Authorizer, Caller, Target } from './caller.ts';
import { instanceNotFound } from './not-found.ts';

type Read = <T>(work: (repository: Repository) => Promise<T>) => Promise<T>;

/** Actions only a compute node does (an admin does them through the node, not in its place). */
const NODE_ACTIONS: ReadonlySet<Action> = new Set([
  'compute_node.format',
  'compute_node.report',
  'compute_node.renew_certificate',
  'software_installation.report',
  'instance.report',
  'instance.certificate',
]);

/** What a user may do at the master level (their own namespace, their own tokens). */
const USER_MASTER_ACTIONS: ReadonlySet<Action> = new Set([
  'instance.request',
  'instance_tree.list',
  'instance_tree.read',
  'compute_node.list',
  'registration_token.create',
  'registration_token.list',
  'registration_token.revoke',
  'master.read',
  'panel.sign_in',
  'invoice.read',
]);

/** What a user may do on a compute node they own. */
const OWNER_NODE_ACTIONS: ReadonlySet<Action> = new Set([
  'compute_node.read',
  'compute_node.update',
  'software_installation.supply',
  'software_installation.read',
]);

const NODE_OWN_ACTIONS: ReadonlySet<Action> = new Set([
  'compute_node.read',
  'compute_node.format',
  'compute_node.report',
  'compute_node.certificate',
  'compute_node.renew_certificate',
  'software_installation.read',
  'software_installation.report',
]);

function samePartition(a: PartitionKey | null, computeNodeId: string, partitionId: string): boolean {
  return !!a && a.computeNodeId === computeNodeId && a.partitionId === partitionId;
}

function computeNodeOf(target: Target): string | undefined {
  if (
    target.kind === 'compute_node' ||
    target.kind === 'software_installation' ||
    target.kind === 'partition'
  )
    return target.computeNodeId;
  return undefined;
}

async function nodeOwner(read: Read, computeNodeId: string): Promise<string | null | undefined> {
  const access = await read((repository) => repository.getComputeNodeAccess(computeNodeId));
  return access?.owner;
}

async function userMay(
  read: Read,
  user: { userId: string; admin: boolean },
  action: Action,
  target: Target,
): Promise<boolean> {
  if (user.admin) return action !== 'compute_node.register' && !NODE_ACTIONS.has(action);
  if (target.kind === 'master') return USER_MASTER_ACTIONS.has(action);
  if (target.kind === 'instance') {
    return (
      (action === 'instance.read' || action === 'instance.update') && target.record.owner === user.userId
    );
  }
  if (target.kind === 'instance_guid') return false;
  if (target.kind === 'partition') {
    if (action !== 'instance.read') return false;
    if ((await nodeOwner(read, target.computeNodeId)) === user.userId) return true;
    const instance = await read((repository) => repository.getInstanceOnPartition(target));
    return instance?.owner === user.userId;
  }
  return OWNER_NODE_ACTIONS.has(action) && (await nodeOwner(read, target.computeNodeId)) === user.userId;
}

function nodeMay(computeNodeId: string, action: Action, target: Target): boolean {
  if (target.kind === 'master') return action === 'master.read';
  if (target.kind === 'instance') {
    return (
      (action === 'instance.read' || action === 'instance.report' || action === 'instance.certificate') &&
      target.record.location?.computeNodeId === computeNodeId
    );
  }
  if (target.kind === 'instance_guid') return false;
  if (target.kind === 'partition')
    return action === 'instance.read' && target.computeNodeId === computeNodeId;
  return NODE_OWN_ACTIONS.has(action) && target.computeNodeId === computeNodeId;
}

function instanceMay(caller: Extract<Caller, { kind: 'instance' }>, action: Action, target: Target): boolean {
  if (target.kind === 'master') return action === 'instance.request' || action === 'master.read';
  if (target.kind === 'partition')
    return (
      action === 'instance.read' &&
      target.computeNodeId === caller.computeNodeId &&
      target.partitionId === caller.partitionId
    );
  if (target.kind !== 'instance') return false;
  const record: InstanceRecord = target.record;
  if (record.id === caller.instanceId)
    return (
      action === 'instance.read' ||
      action === 'instance.report' ||
      action === 'instance.update' ||
      // Its own certificate, renewed by the instance itself as well as by its compute node.
      action === 'instance.certificate'
    );
  // A shared instance hosted on it, whoever's it is (a frontend serves other users' shared instances).
  const onMe = samePartition(record.location, caller.computeNodeId, caller.partitionId);
  if (record.shared && onMe) return action === 'instance.read' || action === 'instance.report';
  if (record.owner !== caller.owner) return false;
  const requestedByMe = samePartition(record.requester, caller.computeNodeId, caller.partitionId);
  return requestedByMe && (action === 'instance.read' || action === 'instance.update');
}

/** The answer to a denial: the object's own "not found", so that it reveals nothing. */
function denial(caller: Caller, action: Action, target: Target): SlapError {
  switch (target.kind) {
    case 'instance':
      return instanceNotFound(target.guid);
    case 'instance_guid':
      return instanceNotFound(target.instanceGuid);
    case 'partition':
      return new SlapError(
        'SLAP_ERR_PARTITION_NOT_FOUND',
        `No instance on partition ${target.partitionId} found.`,
      );
    case 'compute_node':
    case 'software_installation':
      return new SlapError('SLAP_ERR_COMPUTE_NODE_NOT_FOUND', `${target.computeNodeId} is not registered.`);
    case 'master':
      return new SlapError('SLAP_ERR_FORBIDDEN', `${caller.kind} callers may not ${action}.`);
  }
}

/** Who a caller is, for the audit log (never a credential). */
export function describeCaller(caller: Caller): Record<string, unknown> {
  switch (caller.kind) {
    case 'user':
      return { kind: 'user', user: caller.userId, admin: caller.admin };
    case 'registrant':
      return { kind: 'registrant', user: caller.userId };
    case 'compute_node':
      return { kind: 'compute_node', computeNode: caller.computeNodeId };
    case 'instance':
      return { kind: 'instance', instance: `SOFTINST-${caller.instanceId}` };
    default:
      return { kind: caller.kind };
  }
}

function describeTarget(target: Target): Record<string, unknown> {
  switch (target.kind) {
    case 'instance':
      return { kind: 'instance', instance: `SOFTINST-${target.record.id}` };
    case 'instance_guid':
      return { kind: 'instance', instance: target.instanceGuid };
    case 'master':
      return { kind: 'master' };
    default:
      return { kind: target.kind, computeNode: computeNodeOf(target) };
  }
}

export function createMasterAuthorizer(options: { store: MasterStore; audit: Logger }): Authorizer {
  const { store, audit } = options;
  return {
    async authorize(caller, action, target, repository) {
      if (caller.kind === 'anonymous')
        throw new SlapError('SLAP_ERR_UNAUTHENTICATED', 'This master requires a credential.');
      const read: Read = (work) => (repository ? work(repository) : store.read(work));
      let allowed: boolean;
      switch (caller.kind) {
        case 'user':
          allowed = await userMay(read, caller, action, target);
          break;
        case 'registrant':
          allowed = action === 'compute_node.register' && target.kind === 'master';
          break;
        case 'compute_node':
          allowed = nodeMay(caller.computeNodeId, action, target);
          break;
        case 'instance':
          allowed = instanceMay(caller, action, target);
          break;
        case 'metrics_scraper':
          allowed = action === 'master.metrics' && target.kind === 'master';
          break;
        default:
          allowed = false;
      }
      if (allowed) return;
      audit.info(
        { event: 'denied', caller: describeCaller(caller), action, target: describeTarget(target) },
        'denied',
      );
      throw denial(caller, action, target);
    },
  };
}

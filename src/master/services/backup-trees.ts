/**
 * Resilient instance trees (contract §3, docs/resiliency.md): a root requested with the SLA
 * `resilient=true` (and `clones=N`, 1 to 5, default 1) or a software type ending in `-resilient`
 * is the tree's main; the master keeps N clones of it in the same tree, titled `X (clone k)`, with
 * its software release, type and parameters, stopped (their nodes deploy them without starting
 * services), each on a node holding no other member of the tree (backup-anti-affinity.ts). The
 * tree's row (backup_tree) holds the repository password only the tree's nodes are given.
 */
import { randomBytes } from 'node:crypto';
import { SlapError } from '../../core/errors.ts';
import { requestedStateEvent } from '../../core/instance-events.ts';
import type { RequestedState } from '../../core/states.ts';
import type {
  BackupMemberRecord,
  BackupTreeRecord,
  InstanceRecord,
  Repository,
} from '../storage/repository.ts';
import { chooseFreePartition, placeInstance } from './allocation.ts';
import type { Caller } from './caller.ts';
import { allocationDetail, recordInstanceEvent } from './instance-timeline.ts';
import { partitionHolder } from './partition-holder.ts';

export const MAX_CLONES = 5;
const RESILIENT_SUFFIX = '-resilient';

export interface Resilience {
  clones: number;
  /** The software type without its `-resilient` suffix. */
  softwareType: string;
}

/** A new tree's repository password: 32 random bytes, base64url. */
export function newBackupPassword(): string {
  return randomBytes(32).toString('base64url');
}

/** A new tree's row: a new password, no request, no restore yet. */
export function newBackupTree(
  rootInstanceId: number,
  clones: number,
  now: number,
  password: string,
): BackupTreeRecord {
  return {
    rootInstanceId,
    password,
    clones,
    epoch: 0,
    backupRequestedAt: null,
    restoreRequestJson: null,
    restoreSourceRootId: null,
    lastRestoreJson: null,
    createdAt: now,
  };
}

/** The title of a root's k-th clone. */
export function cloneTitle(rootTitle: string, k: number): string {
  return `${rootTitle} (clone ${k})`;
}

function flag(value: unknown): boolean | undefined {
  if (value === undefined || value === false || value === 'false' || value === 'False') return false;
  if (value === true || value === 'true' || value === 'True') return true;
  return undefined;
}

function cloneCount(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^[1-9][0-9]?$/.test(text)) return undefined;
  const clones = Number(text);
  return clones <= MAX_CLONES ? clones : undefined;
}

/**
 * What a request asks of resilience: undefined when it asks none. A bad `resilient` or `clones`
 * value is refused (SLAP_ERR_INVALID_INPUT), never read as something else.
 */
export function resilienceOf(sla: Record<string, unknown>, softwareType: string): Resilience | undefined {
  const resilient = flag(sla.resilient);
  if (resilient === undefined)
    throw new SlapError('SLAP_ERR_INVALID_INPUT', 'The SLA resilient must be true or false.');
  const suffixed = softwareType === 'resilient' || softwareType.endsWith(RESILIENT_SUFFIX);
  if (!resilient && !suffixed) {
    if (sla.clones !== undefined)
      throw new SlapError('SLAP_ERR_INVALID_INPUT', 'The SLA clones needs resilient=true.');
    return undefined;
  }
  const clones = sla.clones === undefined ? 1 : cloneCount(sla.clones);
  if (clones === undefined)
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `The SLA clones must be a whole number from 1 to ${MAX_CLONES}.`,
    );
  const stripped = suffixed
    ? softwareType === 'resilient'
      ? ''
      : softwareType.slice(0, -RESILIENT_SUFFIX.length)
    : softwareType;
  return { clones, softwareType: stripped || 'default' };
}

/** A fresh member row. */
export function newMember(
  instanceId: number,
  rootInstanceId: number,
  role: BackupMemberRecord['role'],
  now: number,
): BackupMemberRecord {
  return {
    instanceId,
    rootInstanceId,
    role,
    restoredBackupId: null,
    restoredAt: null,
    lastBackupId: null,
    lastBackupAt: null,
    fencedAt: null,
    updatedAt: now,
  };
}

/** The nodes holding a tree's members (but `except`). */
async function memberNodes(
  repository: Repository,
  rootInstanceId: number,
  except: number,
): Promise<Set<string>> {
  const nodes = new Set<string>();
  for (const member of await repository.listBackupMembers(rootInstanceId)) {
    if (member.instanceId === except) continue;
    const node = await repository.instanceComputeNode(member.instanceId);
    if (node !== undefined) nodes.add(node);
  }
  return nodes;
}

/**
 * Makes a resilient root's tree what it asks: its backup_tree row (clones = `clones`), the root as
 * `main`, clones 1..clones created (placed away from the other members, or waiting with why) or
 * updated to the root's software release, type and parameters, stopped (destroyed with the root);
 * clones beyond `clones` destroyed. Runs in the request's transaction.
 */
export async function syncResilientTree(
  repository: Repository,
  input: { caller: Caller; root: InstanceRecord; clones: number; now: number; newPassword?: () => string },
): Promise<void> {
  const { root, clones, now } = input;
  const tree = await repository.getBackupTree(root.id);
  const before = tree?.clones ?? 0;
  if (!tree)
    await repository.insertBackupTree(
      newBackupTree(root.id, clones, now, (input.newPassword ?? newBackupPassword)()),
    );
  else if (tree.clones !== clones) await repository.setBackupTreeClones(root.id, clones);
  const rootMember = await repository.getBackupMember(root.id);
  if (rootMember?.role !== 'main')
    await repository.putBackupMember({
      ...(rootMember ?? newMember(root.id, root.id, 'main', now)),
      role: 'main',
      updatedAt: now,
    });
  for (let k = 1; k <= Math.max(clones, before); k++) {
    const identity = {
      owner: root.owner,
      title: cloneTitle(root.title, k),
      requestedBy: root.title,
      shared: false,
    };
    const existing = await repository.findInstance(identity);
    const state: RequestedState = k > clones || root.requestedState === 'destroyed' ? 'destroyed' : 'stopped';
    if (!existing) {
      if (state === 'destroyed') continue;
      const placement = await chooseFreePartition(repository, {
        caller: input.caller,
        softwareRelease: root.softwareRelease,
        computeNodeId: undefined,
        excludedNodes: await memberNodes(repository, root.id, -1),
      });
      const location = 'partition' in placement ? placement.partition : null;
      const id = await repository.insertInstance({
        ...identity,
        softwareRelease: root.softwareRelease,
        softwareType: root.softwareType,
        parameterXml: root.parameterXml,
        sharedParametersJson: null,
        slaJson: '{}',
        requestedState: 'stopped',
        location,
        hostPosition: null,
        requester: null,
        allocationMessage: 'waiting' in placement ? placement.waiting : null,
        now,
      });
      await repository.putBackupMember(newMember(id, root.id, 'clone', now));
      await recordInstanceEvent(repository, id, { kind: 'requested', at: now });
      if (location) {
        await repository.allocatePartition(location, now, partitionHolder({ ...identity, id }));
        await recordInstanceEvent(repository, id, {
          kind: 'allocated',
          at: now,
          detail: allocationDetail(location),
        });
      }
      continue;
    }
    if (existing.requestedState === 'destroyed') continue;
    if (!(await repository.getBackupMember(existing.id)))
      await repository.putBackupMember(newMember(existing.id, root.id, 'clone', now));
    const changed =
      existing.requestedState !== state ||
      existing.softwareRelease !== root.softwareRelease ||
      existing.softwareType !== root.softwareType ||
      existing.parameterXml !== root.parameterXml;
    if (changed) {
      await repository.updateInstance(existing.id, {
        requestedState: state,
        softwareRelease: root.softwareRelease,
        softwareType: root.softwareType,
        parameterXml: root.parameterXml,
        now,
      });
      if (existing.requestedState !== state)
        await recordInstanceEvent(repository, existing.id, { kind: requestedStateEvent(state), at: now });
      const what: string[] = [];
      if (existing.softwareRelease !== root.softwareRelease) what.push('software release');
      if (existing.softwareType !== root.softwareType) what.push('software type');
      if (existing.parameterXml !== root.parameterXml) what.push('parameters');
      if (what.length > 0)
        await recordInstanceEvent(repository, existing.id, {
          kind: 'parameters_changed',
          at: now,
          detail: what.join(', '),
        });
    }
    if (existing.location) {
      if (changed) await repository.setPartitionTimestamp(existing.location, now);
    } else if (state !== 'destroyed') {
      const placement = await chooseFreePartition(repository, {
        caller: input.caller,
        softwareRelease: root.softwareRelease,
        computeNodeId: undefined,
        excludedNodes: await memberNodes(repository, root.id, existing.id),
      });
      if ('partition' in placement) {
        await placeInstance(repository, existing, placement.partition, now);
      } else if (placement.waiting !== existing.allocationMessage)
        await repository.updateInstance(existing.id, { allocationMessage: placement.waiting, now });
    }
  }
}

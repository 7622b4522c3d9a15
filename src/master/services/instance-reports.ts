/**
 * What nodes and instances tell the master about an instance: reported state (a destroyed report
 * frees the partition, docs/protocol.md §1.10), errors, connection parameters (§1.11) and bang (§5.2).
 */
import { SlapError } from '../../core/errors.ts';
import { parseInstanceGuid, type InstanceIdentity } from '../../core/instance-guid.ts';
import { compareCodePoints } from '../../core/parameter-xml.ts';
import type { InstanceReportedState } from '../../core/states.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { instanceNotFound } from './not-found.ts';
import { storableParameterXml } from './stored-parameters.ts';

export type ReportOutcome = 'Ignored' | 'Destroyed';

/** Parses a guid when it is well formed; slapproxy does not even look at it for some reports. */
function tryParse(instanceGuid: string): InstanceIdentity | undefined {
  try {
    return parseInstanceGuid(instanceGuid);
  } catch {
    return undefined;
  }
}

/**
 * Records a node's report on an instance. `destroyed` frees the instance's partition; a root whose
 * tree still has children is not freed: its children are marked destroyed (committed) and the
 * answer is the 403 "Not destroying yet…". Started/stopped reports are stored and answered `Ignored`.
 */
export async function reportInstanceState(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; reportedState: InstanceReportedState },
): Promise<ReportOutcome> {
  const now = context.clock.now();
  if (input.reportedState !== 'destroyed') {
    const identity = tryParse(input.instanceGuid);
    context.authorize(input.caller, 'instance.report', {
      kind: 'instance_guid',
      instanceGuid: input.instanceGuid,
    });
    if (identity) {
      await context.store.write(async (repository) => {
        const record = await repository.findInstance(identity);
        if (record)
          await repository.updateInstance(record.id, {
            reportedState: input.reportedState,
            reportedAt: now,
            now,
          });
      });
    }
    return 'Ignored';
  }
  const identity = parseInstanceGuid(input.instanceGuid);
  context.authorize(input.caller, 'instance.report', { kind: 'instance', identity });
  if (identity.shared) return 'Ignored';
  const children = await context.store.write(async (repository) => {
    const record = await repository.findInstance(identity);
    if (!record?.location) {
      throw instanceNotFound(input.instanceGuid);
    }
    if (record.requestedBy === '') {
      const children = await repository.listChildren(record.title);
      if (children.length > 0) {
        // Like SlapOS's garbage collection: a destroyed root first asks its tree to go.
        await repository.markChildrenDestroyed(record.title, now);
        // No timestamp bump (slapproxy's rule), but their nodes must act: the change stream says so.
        const nodes = new Set(
          children.flatMap((child) => (child.location ? [child.location.computeNodeId] : [])),
        );
        for (const node of nodes) await repository.bumpNodeRevision(node);
        return children.map((child) => child.title).sort(compareCodePoints);
      }
    }
    await repository.deleteInstance(record.id);
    await repository.setPartitionSlapState(record.location, 'free');
    // Its shared instances lose their host; they find a new one when requested again.
    await repository.detachSharedInstances(record.location, now);
    await repository.bumpNodeRevision(record.location.computeNodeId);
    context.logger.debug({ instance: input.instanceGuid, ...record.location }, 'partition freed');
    return [];
  });
  if (children.length > 0) {
    throw new SlapError(
      'SLAP_ERR_HAS_CHILDREN',
      `Not destroying yet because this partition has child partitions: ${children.join(', ')}`,
    );
  }
  return 'Destroyed';
}

/** Stores an instance's error report (slapproxy ignores it; we keep it). Answers `Ignored`. */
export async function reportInstanceError(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; message: string },
): Promise<'Ignored'> {
  context.authorize(input.caller, 'instance.report', {
    kind: 'instance_guid',
    instanceGuid: input.instanceGuid,
  });
  const identity = tryParse(input.instanceGuid);
  if (identity) {
    const now = context.clock.now();
    await context.store.write(async (repository) => {
      const record = await repository.findInstance(identity);
      if (record)
        await repository.updateInstance(record.id, { errorMessage: input.message, errorAt: now, now });
    });
  }
  return 'Ignored';
}

/**
 * Replaces an instance's (or shared instance's) connection parameters. No timestamp bump (slapproxy's
 * rule); when they changed, the partition that requested the instance gets a dependency serial bump:
 * its node reprocesses it at once (a parent publishing its child's URL), see docs/master.md.
 */
export async function setConnectionParameters(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; parameters: Record<string, unknown> },
): Promise<'Updated'> {
  const identity = parseInstanceGuid(input.instanceGuid);
  context.authorize(input.caller, 'instance.update', { kind: 'instance', identity });
  const connectionXml = storableParameterXml(input.parameters);
  const now = context.clock.now();
  await context.store.write(async (repository) => {
    const record = await repository.findInstance(identity);
    // An unknown target is silently ignored, as slapproxy does.
    if (!record || record.connectionXml === connectionXml) return;
    await repository.updateInstance(record.id, { connectionXml, now });
    if (record.requester) await repository.bumpDependencySerial(record.requester);
  });
  return 'Updated';
}

/**
 * Bang: something is wrong, reprocess. Bumps the timestamp of the instance's partition and, for a
 * root, of its whole tree. Shared instances cannot be banged (403 NotImplemented).
 */
export async function bangInstance(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; message: string },
): Promise<'Bang handled'> {
  const identity = parseInstanceGuid(input.instanceGuid);
  context.authorize(input.caller, 'instance.update', { kind: 'instance', identity });
  if (identity.shared) throw new SlapError('SLAP_ERR_NOT_IMPLEMENTED', 'NotImplemented');
  const now = context.clock.now();
  await context.store.write(async (repository) => {
    const record = await repository.findInstance(identity);
    if (!record?.location) return;
    await repository.updateInstance(record.id, { bangMessage: input.message, bangAt: now, now });
    await repository.setPartitionTimestamp(record.location, now);
    if (record.requestedBy !== '') return;
    for (const child of await repository.listChildren(record.title)) {
      if (child.location) await repository.setPartitionTimestamp(child.location, now);
    }
  });
  return 'Bang handled';
}

/**
 * Renames an instance. As slapproxy's JSON API, the children of a renamed root are not re-pointed
 * unless asked (`repointChildren`, what the legacy API does for an instance renaming itself).
 */
export async function renameInstance(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; newTitle: string; repointChildren?: boolean },
): Promise<'Renamed'> {
  const identity = parseInstanceGuid(input.instanceGuid);
  context.authorize(input.caller, 'instance.update', { kind: 'instance', identity });
  if (identity.shared) throw new SlapError('SLAP_ERR_NOT_IMPLEMENTED', 'NotImplemented');
  const now = context.clock.now();
  await context.store.write(async (repository) => {
    const record = await repository.findInstance(identity);
    if (!record || input.newTitle === record.title) return;
    const taken = await repository.findInstance({ ...identity, title: input.newTitle });
    if (taken) {
      throw new SlapError(
        'SLAP_ERR_CONFLICT',
        `An instance ${input.newTitle} already exists in this instance tree.`,
      );
    }
    await repository.updateInstance(record.id, { title: input.newTitle, now });
    if (input.repointChildren && record.requestedBy === '') {
      for (const child of await repository.listChildren(record.title)) {
        await repository.updateInstance(child.id, { requestedBy: input.newTitle, now });
      }
    }
  });
  return 'Renamed';
}

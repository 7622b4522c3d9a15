/**
 * What nodes and instances tell the master about an instance: reported state (a destroyed report
 * frees the partition, docs/protocol.md §1.10), errors, connection parameters (§1.11) and bang (§5.2).
 */
import { SlapError } from '../../core/errors.ts';
import { rootTitleOf } from '../../core/instance-guid.ts';
import { compareCodePoints } from '../../core/parameter-xml.ts';
import type { InstanceEventKind } from '../../core/instance-events.ts';
import type { InstanceReportedState } from '../../core/states.ts';
import type { InstanceRecord } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import { allocateWaitingInstances, logPlacements } from './allocation.ts';
import type { ServiceContext } from './context.ts';
import { authorizedInstance } from './instance-access.ts';
import { recordInstanceEvent } from './instance-timeline.ts';
import { instanceNotFound } from './not-found.ts';
import { storableParameterXml } from './stored-parameters.ts';

export type ReportOutcome = 'Ignored' | 'Destroyed';

/**
 * The timeline event of a node's state report, compared with what was stored before it: nodes
 * report on every pass, and only a change is an event. `deployed`: started, when it was not, or
 * for the first time since the partition's last change (its timestamp: a request, a bang).
 */
function reportEvent(
  before: InstanceRecord,
  reportedState: Exclude<InstanceReportedState, 'destroyed'>,
): InstanceEventKind | undefined {
  if (reportedState === 'stopped') return before.reportedState === 'stopped' ? undefined : 'stopped';
  if (before.reportedState !== 'started') return 'deployed';
  const changedSince =
    before.partitionTimestamp !== null &&
    (before.reportedAt === null || before.reportedAt < before.partitionTimestamp);
  return changedSince ? 'deployed' : undefined;
}

/**
 * Whether an error report is a new failure: another message, or the same one again after the
 * instance was reported deployed or changed (its partition's timestamp) since the last one.
 */
function isNewFailure(before: InstanceRecord, message: string): boolean {
  if (before.errorAt === null || before.errorMessage !== message) return true;
  const since = Math.max(before.reportedAt ?? -Infinity, before.partitionTimestamp ?? -Infinity);
  return since > before.errorAt;
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
  const lookup = {
    caller: input.caller,
    action: 'instance.report' as const,
    instanceGuid: input.instanceGuid,
  };
  const reportedState = input.reportedState;
  if (reportedState !== 'destroyed') {
    await context.store.write(async (repository) => {
      const record = await authorizedInstance(context, repository, {
        ...lookup,
        ignoreMissingInProxyMode: true,
      });
      if (!record) return;
      await repository.updateInstance(record.id, {
        reportedState,
        reportedAt: now,
        now,
      });
      const kind = reportEvent(record, reportedState);
      if (kind) await recordInstanceEvent(repository, record.id, { kind, at: now });
    });
    return 'Ignored';
  }
  context.naming.check(input.instanceGuid);
  if (context.naming.namesShared(input.instanceGuid)) {
    await context.store.read((repository) =>
      authorizedInstance(context, repository, { ...lookup, ignoreMissingInProxyMode: true }),
    );
    return 'Ignored';
  }
  const outcome = await context.store.write(async (repository) => {
    const record = await authorizedInstance(context, repository, lookup);
    if (record?.shared) return 'shared' as const;
    if (!record?.location) {
      throw instanceNotFound(input.instanceGuid);
    }
    if (record.requestedBy === '') {
      const children = await repository.listChildren(record.owner, record.title);
      if (children.length > 0) {
        // Like SlapOS's garbage collection: a destroyed root first asks its tree to go.
        await repository.markChildrenDestroyed(record.owner, record.title, now);
        for (const child of children)
          if (child.requestedState !== 'destroyed')
            await recordInstanceEvent(repository, child.id, { kind: 'destroy_requested', at: now });
        // No timestamp bump (slapproxy's rule), but their nodes must act: the change stream says so.
        const nodes = new Set(
          children.flatMap((child) => (child.location ? [child.location.computeNodeId] : [])),
        );
        for (const node of nodes) await repository.bumpNodeRevision(node);
        return { children: children.map((child) => child.title).sort(compareCodePoints) };
      }
    }
    await repository.deleteInstance(record.id);
    if (record.requestedBy !== '') {
      // Its own timeline goes with it: its tree's root keeps that it went.
      const root = await repository.findInstance({
        owner: record.owner,
        title: record.requestedBy,
        requestedBy: '',
        shared: false,
      });
      if (root)
        await recordInstanceEvent(repository, root.id, { kind: 'destroyed', at: now, detail: record.title });
    }
    if (context.mode === 'master') {
      // Its certificates die with it.
      const subject = context.naming.guidOf(record);
      await repository.revokeCertificates({ kind: 'instance', subject, now });
    }
    await repository.setPartitionSlapState(record.location, 'free');
    // Its shared instances lose their host; they find a new one when requested again.
    await repository.detachSharedInstances(record.location, now);
    await repository.bumpNodeRevision(record.location.computeNodeId);
    return { freed: record.location, placed: await allocateWaitingInstances(context, repository) };
  });
  if (outcome === 'shared') return 'Ignored';
  if ('children' in outcome) {
    const { children } = outcome;
    throw new SlapError(
      'SLAP_ERR_HAS_CHILDREN',
      `Not destroying yet because this partition has child partitions: ${children.join(', ')}`,
    );
  }
  context.logger.debug({ instance: input.instanceGuid, ...outcome.freed }, 'partition freed');
  logPlacements(context, outcome.placed);
  return 'Destroyed';
}

/** Stores an instance's error report (slapproxy ignores it; we keep it). Answers `Ignored`. */
export async function reportInstanceError(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; message: string },
): Promise<'Ignored'> {
  const now = context.clock.now();
  await context.store.write(async (repository) => {
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.report',
      instanceGuid: input.instanceGuid,
      ignoreMissingInProxyMode: true,
    });
    if (!record) return;
    await repository.updateInstance(record.id, { errorMessage: input.message, errorAt: now, now });
    if (isNewFailure(record, input.message))
      await recordInstanceEvent(repository, record.id, { kind: 'failed', at: now, detail: input.message });
  });
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
  context.naming.check(input.instanceGuid);
  const connectionXml = storableParameterXml(input.parameters);
  const now = context.clock.now();
  await context.store.write(async (repository) => {
    // An unknown target is silently ignored in proxy mode, as slapproxy does.
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.report',
      instanceGuid: input.instanceGuid,
      ignoreMissingInProxyMode: true,
    });
    if (!record || record.connectionXml === connectionXml) return;
    await repository.updateInstance(record.id, { connectionXml, now });
    // No detail: connection parameters hold secrets.
    await recordInstanceEvent(repository, record.id, { kind: 'published', at: now });
    if (record.requester) await repository.bumpDependencySerial(record.requester, now);
  });
  return 'Updated';
}

/**
 * Bang: something is wrong, reprocess. Bumps the timestamp of the instance's partition and, for a
 * root, of its whole tree. Shared instances cannot be banged (403 NotImplemented).
 */
/**
 * Bangs an instance: its partition is processed again. `scope: 'instance'` (the JSON API) bangs it
 * and, for a root, its children; `scope: 'tree'` (the legacy API) bangs the caller's whole tree.
 */
export async function bangInstance(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string; message: string; scope?: 'instance' | 'tree' },
): Promise<'Bang handled'> {
  context.naming.check(input.instanceGuid);
  if (context.naming.namesShared(input.instanceGuid))
    throw new SlapError('SLAP_ERR_NOT_IMPLEMENTED', 'NotImplemented');
  const now = context.clock.now();
  await context.store.write(async (repository) => {
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.update',
      instanceGuid: input.instanceGuid,
      ignoreMissingInProxyMode: true,
    });
    if (record?.shared) throw new SlapError('SLAP_ERR_NOT_IMPLEMENTED', 'NotImplemented');
    if (!record?.location) return;
    await repository.updateInstance(record.id, { bangMessage: input.message, bangAt: now, now });
    await recordInstanceEvent(repository, record.id, { kind: 'bang', at: now, detail: input.message });
    await repository.setPartitionTimestamp(record.location, now);
    if (record.requestedBy !== '' && input.scope !== 'tree') return;
    const rootTitle = rootTitleOf(record);
    if (record.requestedBy !== '') {
      const root = await repository.findInstance({
        owner: record.owner,
        title: rootTitle,
        requestedBy: '',
        shared: false,
      });
      if (root?.location) await repository.setPartitionTimestamp(root.location, now);
    }
    for (const child of await repository.listChildren(record.owner, rootTitle)) {
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
  context.naming.check(input.instanceGuid);
  if (context.naming.namesShared(input.instanceGuid))
    throw new SlapError('SLAP_ERR_NOT_IMPLEMENTED', 'NotImplemented');
  const now = context.clock.now();
  await context.store.write(async (repository) => {
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.update',
      instanceGuid: input.instanceGuid,
      ignoreMissingInProxyMode: true,
    });
    if (record?.shared) throw new SlapError('SLAP_ERR_NOT_IMPLEMENTED', 'NotImplemented');
    if (!record || input.newTitle === record.title) return;
    const taken = await repository.findInstance({
      owner: record.owner,
      title: input.newTitle,
      requestedBy: record.requestedBy,
      shared: false,
    });
    if (taken) {
      throw new SlapError(
        'SLAP_ERR_CONFLICT',
        `An instance ${input.newTitle} already exists in this instance tree.`,
      );
    }
    await repository.updateInstance(record.id, { title: input.newTitle, now });
    if (input.repointChildren && record.requestedBy === '') {
      for (const child of await repository.listChildren(record.owner, record.title)) {
        await repository.updateInstance(child.id, { requestedBy: input.newTitle, now });
      }
    }
  });
  return 'Renamed';
}

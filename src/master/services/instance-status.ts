/**
 * What the node has made of an instance (our extension, docs/master.md "Instance status"): its
 * status from the node's reports on it and on its software release (src/core/instance-status.ts).
 */
import {
  instanceStatus,
  softwareInstallationStatus,
  type InstanceStatusView,
  type SoftwareInstallationStatus,
} from '../../core/instance-status.ts';
import type { RequestedState } from '../../core/states.ts';
import type { DeploymentFacts, InstanceRecord, Repository } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { authorizedInstance } from './instance-access.ts';

export interface InstanceStatusReport extends InstanceStatusView {
  requestedState: RequestedState;
  /** What the node last reported (started, stopped), null when it never did. */
  reportedState: string | null;
  /** Float seconds, null when never. */
  reportedAt: number | null;
  errorAt: number | null;
  /** The software release on the instance's compute node; null when it has no partition or none is supplied. */
  softwareStatus: SoftwareInstallationStatus | null;
}

/** The status of a stored instance (a non-shared one, or a shared one's host). */
export async function statusOf(
  repository: Repository,
  record: InstanceRecord,
): Promise<InstanceStatusReport> {
  const installation = record.location
    ? (await repository.listSoftwareInstallations(record.location.computeNodeId)).find(
        (item) => item.url === record.softwareRelease,
      )
    : undefined;
  const software = installation && {
    status: softwareInstallationStatus(installation),
    errorMessage: installation.errorMessage,
  };
  return {
    ...instanceStatus({
      requestedState: record.requestedState,
      allocated: record.location !== null,
      allocationMessage: record.allocationMessage,
      partitionTimestamp: record.partitionTimestamp,
      reportedState: record.reportedState,
      reportedAt: record.reportedAt,
      errorMessage: record.errorMessage,
      errorAt: record.errorAt,
      software,
    }),
    requestedState: record.requestedState,
    reportedState: record.reportedState,
    reportedAt: record.reportedAt,
    errorAt: record.errorAt,
    softwareStatus: software?.status ?? null,
  };
}

/**
 * The status of an instance. A shared instance has the status of the instance hosting it (it is
 * served by it); without a host it is `unallocated`.
 */
export async function readInstanceStatus(
  context: ServiceContext,
  input: { caller: Caller; instanceGuid: string },
): Promise<InstanceStatusReport> {
  return context.store.read(async (repository) => {
    const record = await authorizedInstance(context, repository, {
      caller: input.caller,
      action: 'instance.read',
      instanceGuid: input.instanceGuid,
    });
    if (!record.shared) return statusOf(repository, record);
    const host = record.location ? await repository.getInstanceOnPartition(record.location) : undefined;
    if (host) return { ...(await statusOf(repository, host)), requestedState: record.requestedState };
    return {
      status: 'unallocated',
      message: null,
      requestedState: record.requestedState,
      reportedState: null,
      reportedAt: null,
      errorAt: null,
      softwareStatus: null,
    };
  });
}

/** The status of an instance from its deployment facts (no messages); unallocated without any. */
export function deploymentStatus(facts: DeploymentFacts | null): InstanceStatusView {
  if (!facts) return { status: 'unallocated', message: null };
  return instanceStatus({
    requestedState: facts.requestedState,
    allocated: facts.location !== null,
    allocationMessage: facts.allocationMessage,
    partitionTimestamp: facts.partitionTimestamp,
    reportedState: facts.reportedState,
    reportedAt: facts.reportedAt,
    errorMessage: null,
    errorAt: facts.errorAt,
    software: facts.software
      ? { status: softwareInstallationStatus(facts.software), errorMessage: null }
      : undefined,
  });
}

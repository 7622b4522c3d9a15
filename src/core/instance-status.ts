/**
 * What the node has made of a request, from what it reported to the master: the one place that
 * turns reported states, errors and their dates into the status people read (`slapos request`,
 * `service info`, `computer info`). Pure: the master feeds it its records.
 */
import type { RequestedState, SoftwareInstallationState } from './states.ts';

/** A software installation as the node reports building it. */
export const SOFTWARE_INSTALLATION_STATUSES = [
  'requested',
  'building',
  'available',
  'failed',
  'destroying',
] as const;
export type SoftwareInstallationStatus = (typeof SOFTWARE_INSTALLATION_STATUSES)[number];

/** An instance as its node reports deploying it. */
export const INSTANCE_STATUSES = [
  'unallocated',
  'waiting-software',
  'software-failed',
  'deploying',
  'started',
  'stopped',
  'failed',
  'destroying',
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/**
 * requested (supplied, the node has not said anything yet) → building → available, or failed (its
 * error is the build's); destroying once asked to go.
 */
export function softwareInstallationStatus(input: {
  requestedState: SoftwareInstallationState;
  reportedState: string | null;
}): SoftwareInstallationStatus {
  if (input.requestedState === 'destroyed') return 'destroying';
  switch (input.reportedState) {
    case 'available':
      return 'available';
    case 'building':
      return 'building';
    case 'error':
      return 'failed';
    default:
      return 'requested';
  }
}

export interface InstanceReportFacts {
  requestedState: RequestedState;
  /** Whether the instance has a partition. */
  allocated: boolean;
  /** Why it has none yet (master mode: no node admits it or has room), null otherwise. */
  allocationMessage?: string | null;
  /** The partition's timestamp: bumped by every change the node must act on (float seconds). */
  partitionTimestamp: number | null;
  reportedState: string | null;
  reportedAt: number | null;
  errorMessage: string | null;
  errorAt: number | null;
  /** Its software release on its compute node; undefined when it is not supplied there. */
  software: { status: SoftwareInstallationStatus; errorMessage: string | null } | undefined;
}

export interface InstanceStatusView {
  status: InstanceStatus;
  /** The error (with its log tail) for `failed` and `software-failed`; what is awaited for `waiting-software`. */
  message: string | null;
}

/**
 * The rules: a report older than the partition's last change says nothing of the current request
 * (`deploying`); the newest of a state report and an error report wins; while its software release
 * is not available, an instance not yet running waits for it (or shows its build error).
 */
export function instanceStatus(facts: InstanceReportFacts): InstanceStatusView {
  if (!facts.allocated) return { status: 'unallocated', message: facts.allocationMessage ?? null };
  if (facts.requestedState === 'destroyed') return { status: 'destroying', message: null };
  const failedLast =
    facts.errorAt !== null && (facts.reportedAt === null || facts.errorAt > facts.reportedAt);
  const lastReport = Math.max(facts.reportedAt ?? -Infinity, facts.errorAt ?? -Infinity);
  const current = facts.partitionTimestamp === null || lastReport >= facts.partitionTimestamp;
  const runningAsAsked = current && !failedLast && facts.reportedState === facts.requestedState;
  if (!runningAsAsked && facts.software?.status !== 'available') {
    if (facts.software === undefined)
      return {
        status: 'waiting-software',
        message: 'its software release is not supplied to its compute node (slapos supply)',
      };
    if (facts.software.status === 'failed')
      return { status: 'software-failed', message: facts.software.errorMessage };
    return { status: 'waiting-software', message: `its software release is ${facts.software.status}` };
  }
  if (!current) return { status: 'deploying', message: null };
  if (failedLast) return { status: 'failed', message: facts.errorMessage };
  if (runningAsAsked)
    return { status: facts.requestedState === 'stopped' ? 'stopped' : 'started', message: null };
  return { status: 'deploying', message: null };
}

/** What the panel shows of an instance or a tree: its status, or that it runs with a promise failing. */
export const INSTANCE_HEALTHS = [...INSTANCE_STATUSES, 'promise-failing'] as const;
export type InstanceHealth = (typeof INSTANCE_HEALTHS)[number];

/**
 * A started instance (or tree) one of whose last promise results is a failure is `promise-failing`;
 * any other status says more than its promises (they are not run, or run on an old deployment).
 */
export function instanceHealth(status: InstanceStatus, promiseFailing: boolean): InstanceHealth {
  return status === 'started' && promiseFailing ? 'promise-failing' : status;
}

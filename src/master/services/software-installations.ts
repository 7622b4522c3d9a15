/** Software installations: supply, the node's reports, and the node's list (docs/protocol.md §1.5). */
import { softwareInstallationStatus, type SoftwareInstallationStatus } from '../../core/instance-status.ts';
import type { SoftwareInstallationReportedState, SoftwareInstallationState } from '../../core/states.ts';
import type { SoftwareInstallationRecord } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import { allocateWaitingInstances, logPlacements } from './allocation.ts';
import type { ServiceContext } from './context.ts';
import { requireComputeNode } from './not-found.ts';

export async function supplySoftware(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; url: string; state: SoftwareInstallationState },
): Promise<string> {
  await context.authorize(input.caller, 'software_installation.supply', {
    kind: 'software_installation',
    computeNodeId: input.computeNodeId,
    url: input.url,
  });
  // The compute node need not exist yet: it may be formatted later.
  const placed = await context.store.write(async (repository) => {
    await repository.upsertSoftwareInstallation(input.computeNodeId, input.url, input.state);
    await repository.bumpNodeRevision(input.computeNodeId);
    return allocateWaitingInstances(context, repository);
  });
  logPlacements(context, placed);
  return `Supplied ${input.url} to be ${input.state}`;
}

/**
 * A node's report on a software installation. `destroyed` removes the installation; the others
 * are recorded (slapproxy ignores them: the state shown stays the requested one).
 */
export async function reportSoftwareInstallationState(
  context: ServiceContext,
  input: {
    caller: Caller;
    computeNodeId: string;
    url: string;
    reportedState: SoftwareInstallationReportedState;
  },
): Promise<'Ignored' | 'Destroyed'> {
  await context.authorize(input.caller, 'software_installation.report', {
    kind: 'software_installation',
    computeNodeId: input.computeNodeId,
    url: input.url,
  });
  const at = context.clock.now();
  if (input.reportedState === 'destroyed') {
    await context.store.write((repository) =>
      repository.deleteSoftwareInstallation(input.computeNodeId, input.url),
    );
    return 'Destroyed';
  }
  await context.store.write((repository) =>
    repository.recordSoftwareInstallationReport(input.computeNodeId, input.url, {
      reportedState: input.reportedState,
      at,
    }),
  );
  return 'Ignored';
}

export async function reportSoftwareInstallationError(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string; url: string; message: string },
): Promise<'Ignored'> {
  await context.authorize(input.caller, 'software_installation.report', {
    kind: 'software_installation',
    computeNodeId: input.computeNodeId,
    url: input.url,
  });
  const at = context.clock.now();
  await context.store.write((repository) =>
    repository.recordSoftwareInstallationReport(input.computeNodeId, input.url, {
      reportedState: 'error',
      errorMessage: input.message,
      at,
    }),
  );
  return 'Ignored';
}

export interface SoftwareInstallationItem {
  url: string;
  state: SoftwareInstallationState;
}

export async function listSoftwareInstallations(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string },
): Promise<SoftwareInstallationItem[]> {
  const installations = await readSoftwareInstallations(context, input);
  return installations.map((installation) => ({
    url: installation.url,
    state: installation.requestedState,
  }));
}

export interface SoftwareInstallationStatusItem extends SoftwareInstallationItem {
  status: SoftwareInstallationStatus;
  /** The build's error with the end of its log, for `failed`; else null. */
  errorMessage: string | null;
  /** When the node last reported on it (float seconds), null when it never did. */
  reportedAt: number | null;
}

/** The software installations of a node with what the node reported building them. */
export async function listSoftwareInstallationStatuses(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string },
): Promise<SoftwareInstallationStatusItem[]> {
  const installations = await readSoftwareInstallations(context, input);
  return installations.map((installation) => {
    const status = softwareInstallationStatus(installation);
    return {
      url: installation.url,
      state: installation.requestedState,
      status,
      errorMessage: status === 'failed' ? installation.errorMessage : null,
      reportedAt: installation.reportedAt,
    };
  });
}

/** A node's software installations as stored, once the caller may read them and the node exists. */
async function readSoftwareInstallations(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string },
): Promise<SoftwareInstallationRecord[]> {
  await context.authorize(input.caller, 'software_installation.read', {
    kind: 'compute_node',
    computeNodeId: input.computeNodeId,
  });
  return context.store.read(async (repository) => {
    await requireComputeNode(repository, input.computeNodeId);
    return repository.listSoftwareInstallations(input.computeNodeId);
  });
}

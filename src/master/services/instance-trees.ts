/**
 * The caller's instance trees as the panel shows them: the list with a status each (read in a few
 * queries whatever their number), one tree with every instance, and a tree's state changed the way
 * `slapos request --state` changes it (the same request, with the stored release, type, parameters
 * and SLA, and the new state).
 */
import { SlapError } from '../../core/errors.ts';
import { instanceHealth, type InstanceHealth } from '../../core/instance-status.ts';
import { decodeParameterXml } from '../../core/parameter-xml.ts';
import { parsePythonJson } from '../../core/python-value.ts';
import type { RequestedState } from '../../core/states.ts';
import type { InstanceRecord, Repository } from '../storage/repository.ts';
import { deploymentStatus } from './instance-status.ts';
import { namespaceOf, type Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { statusOf } from './instance-status.ts';
import { instanceView, sharedInstanceView, sharedParametersOf, type InstanceView } from './instance-view.ts';
import { hasPromiseFailure, promiseResultsOf, type PromiseResults } from './promise-results.ts';
import { requestInstance } from './request-instance.ts';

export interface InstanceTreeSummary {
  title: string;
  shared: boolean;
  status: InstanceHealth;
  softwareRelease: string;
  softwareType: string;
  requestedState: RequestedState;
  /** Where it is deployed (a shared tree: its host's partition); null when nowhere yet. */
  computeNodeId: string | null;
  partitionId: string | null;
  /** When its root last changed (float seconds). */
  lastChange: number;
}

/** The caller's instance trees, by title (then non-shared first), each with its status. */
export async function listInstanceTreeSummaries(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<InstanceTreeSummary[]> {
  const owner = namespaceOf(input.caller);
  const rows = await context.store.read(async (repository) => {
    await context.authorize(input.caller, 'instance_tree.list', { kind: 'master' }, repository);
    return repository.listInstanceTreeRows(owner);
  });
  const summaries = rows.map((row): InstanceTreeSummary => ({
    title: row.title,
    shared: row.shared,
    status: instanceHealth(deploymentStatus(row.deployment).status, row.promiseFailing),
    softwareRelease: row.softwareRelease,
    softwareType: row.softwareType,
    requestedState: row.requestedState,
    computeNodeId: row.deployment?.location?.computeNodeId ?? null,
    partitionId: row.deployment?.location?.partitionId ?? null,
    lastChange: row.updatedAt,
  }));
  return summaries.sort((a, b) =>
    a.title < b.title ? -1 : a.title > b.title ? 1 : Number(a.shared) - Number(b.shared),
  );
}

export interface InstanceDetails {
  view: InstanceView;
  status: InstanceHealth;
  /** The error (with its log tail) of a failed one; what a waiting one waits for. */
  statusMessage: string | null;
  requestedState: RequestedState;
  reportedState: string | null;
  /** The last error its node reported (even an old one), with when (float seconds). */
  errorMessage: string | null;
  errorAt: number | null;
  reportedAt: number | null;
  bangMessage: string | null;
  promises: PromiseResults;
}

export interface InstanceTreeDetails {
  title: string;
  shared: boolean;
  /** The root first, then its children in the order they were requested. */
  instances: InstanceDetails[];
}

async function detailsOf(
  context: ServiceContext,
  repository: Repository,
  record: InstanceRecord,
): Promise<InstanceDetails> {
  const status = await statusOf(repository, record);
  const promises = promiseResultsOf(await repository.getPromiseResults(record.id));
  return {
    view: await instanceView(repository, record, context.naming),
    status: instanceHealth(status.status, hasPromiseFailure(promises)),
    statusMessage: status.message,
    requestedState: record.requestedState,
    reportedState: record.reportedState,
    errorMessage: record.errorMessage,
    errorAt: record.errorAt,
    reportedAt: record.reportedAt,
    bangMessage: record.bangMessage,
    promises,
  };
}

/** A shared root: seen through its host (its status is the host's), or unallocated without one. */
async function sharedDetailsOf(
  context: ServiceContext,
  repository: Repository,
  shared: InstanceRecord,
): Promise<InstanceDetails> {
  const host = shared.location ? await repository.getInstanceOnPartition(shared.location) : undefined;
  const status = host ? await statusOf(repository, host) : { status: 'unallocated' as const, message: null };
  return {
    view: sharedInstanceView(shared, host ?? shared, context.naming),
    status: status.status,
    statusMessage: status.message,
    requestedState: shared.requestedState,
    reportedState: null,
    errorMessage: shared.errorMessage,
    errorAt: shared.errorAt,
    reportedAt: null,
    bangMessage: shared.bangMessage,
    promises: { results: [], reportedAt: null },
  };
}

function treeNotFound(title: string): SlapError {
  return new SlapError('SLAP_ERR_INSTANCE_TREE_NOT_FOUND', `No instance tree ${title} found.`);
}

async function findRoot(repository: Repository, owner: string, title: string): Promise<InstanceRecord> {
  const root =
    (await repository.findInstance({ owner, title, requestedBy: '', shared: false })) ??
    (await repository.findInstance({ owner, title, requestedBy: '', shared: true }));
  if (!root) throw treeNotFound(title);
  return root;
}

/** One of the caller's instance trees (a root instance, else a root shared instance) with every instance. */
export async function readInstanceTreeDetails(
  context: ServiceContext,
  input: { caller: Caller; title: string },
): Promise<InstanceTreeDetails> {
  const owner = namespaceOf(input.caller);
  return context.store.read(async (repository) => {
    await context.authorize(input.caller, 'instance_tree.read', { kind: 'master' }, repository);
    const root = await findRoot(repository, owner, input.title);
    if (root.shared)
      return {
        title: root.title,
        shared: true,
        instances: [await sharedDetailsOf(context, repository, root)],
      };
    const instances = [await detailsOf(context, repository, root)];
    for (const child of await repository.listChildren(owner, root.title))
      instances.push(await detailsOf(context, repository, child));
    return { title: root.title, shared: false, instances };
  });
}

/**
 * Asks for a tree's new state: its root requested again as stored (release, type, parameters, SLA)
 * with `state`, as `slapos request TITLE URL --state STATE` with the same parameters does.
 */
export async function changeInstanceTreeState(
  context: ServiceContext,
  input: { caller: Caller; title: string; state: RequestedState },
): Promise<InstanceView> {
  return updateInstanceTree(context, input);
}

/**
 * Requests an instance tree again as it is stored (software release and type, parameters, SLA,
 * state) but for what `input` changes: its state, its parameters (the panel's modify form).
 */
export async function updateInstanceTree(
  context: ServiceContext,
  input: { caller: Caller; title: string; state?: RequestedState; parameters?: Record<string, unknown> },
): Promise<InstanceView> {
  const owner = namespaceOf(input.caller);
  const root = await context.store.read(async (repository) => {
    await context.authorize(input.caller, 'instance_tree.read', { kind: 'master' }, repository);
    return findRoot(repository, owner, input.title);
  });
  return requestInstance(context, {
    caller: input.caller,
    title: root.title,
    softwareRelease: root.softwareRelease,
    softwareType: root.softwareType,
    parameters:
      input.parameters ?? (root.shared ? sharedParametersOf(root) : decodeParameterXml(root.parameterXml)),
    shared: root.shared,
    state: input.state ?? root.requestedState,
    sla: parsePythonJson(root.slaJson) as Record<string, unknown>,
  });
}

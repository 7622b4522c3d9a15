/**
 * Request (create, update, stop, destroy) an instance or a shared instance — slapproxy's rules
 * (docs/protocol.md §1.6–§1.8, §1.10): identity by (title, root title) across every compute
 * node, first free partition of the chosen node, an allocated instance never moves, root state
 * propagated to re-requested children, shared instances attached to a host instance of the same
 * software release (and type), timestamps bumped on exactly the changes listed there.
 */
import { formatInstanceGuid, rootTitleOf } from '../../core/instance-guid.ts';
import { SlapError } from '../../core/errors.ts';
import { requestedStateEvent } from '../../core/instance-events.ts';
import { decodeParameterXml, parametersAsStored } from '../../core/parameter-xml.ts';
import { PyNumber, pyRepr, stringifyPythonJson } from '../../core/python-value.ts';
import type { RequestedState } from '../../core/states.ts';
import type {
  BackupMemberRecord,
  InstanceFields,
  InstanceRecord,
  PartitionKey,
  Repository,
} from '../storage/repository.ts';
import { namespaceOf, type Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { partitionHolder } from './partition-holder.ts';
import { chooseFreePartition, sharedHostNodes } from './allocation.ts';
import { frontendBypass, type RequestOrigin } from './frontend-bypass.ts';
import { allocationDetail, recordInstanceEvent } from './instance-timeline.ts';
import { ipListOf, type InstanceView } from './instance-view.ts';
import { storableParameterXml, storableSlaJson } from './stored-parameters.ts';
import { resilienceOf, syncResilientTree, type Resilience } from './backup-trees.ts';
import { otherMemberNodes } from './backup-anti-affinity.ts';

export interface RequestInstanceInput {
  caller: Caller;
  title: string;
  softwareRelease: string;
  softwareType: string;
  parameters: Record<string, unknown>;
  shared: boolean;
  /** The requested state; undefined keeps the stored one (the JSON API always sends one). */
  state?: RequestedState | undefined;
  /** SLA (filter): `computer_guid` picks the node, `instance_guid` the host of a shared instance. */
  sla: Record<string, unknown>;
  /** The partition asking, for requests made by an instance (its tree's root becomes the root). */
  requester?: PartitionKey | undefined;
  origin?: RequestOrigin | undefined;
}

interface Prepared extends RequestInstanceInput {
  /** The namespace the instance is in (caller.ts, namespaceOf). */
  owner: string;
  requestedBy: string;
  /** The requester partition when it holds an instance (whom a change of connection parameters concerns). */
  requesterKey: PartitionKey | null;
  parameterXml: string;
  slaJson: string;
  now: number;
}

/**
 * The columns an update writes. (Objects here are listed field by field rather than built with
 * `{ ...a, b }`: on Node 20, a spread followed by more properties gives each object a new hidden
 * class, which costs microseconds per property on the master's hot paths.)
 */
type InstanceUpdate = Partial<InstanceFields> & { now: number };

function sameKey(a: PartitionKey | null, b: PartitionKey | null): boolean {
  return !!a && !!b && a.computeNodeId === b.computeNodeId && a.partitionId === b.partitionId;
}

/** Canonical JSON (sorted keys, numbers by value) to compare parameters as Python compares dicts. */
function canonical(value: unknown): string {
  if (value instanceof PyNumber) return JSON.stringify(value.value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function slaString(sla: Record<string, unknown>, key: string): string | undefined {
  const value = sla[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The root title of the requester's tree and the requester partition; a missing or free requester
 * makes a root request. An instance caller (master mode) is its own requester.
 */
async function requesterOf(
  repository: Repository,
  caller: Caller,
  owner: string,
  named: PartitionKey | undefined,
): Promise<{ requestedBy: string; requesterKey: PartitionKey | null }> {
  const requester =
    caller.kind === 'instance'
      ? { computeNodeId: caller.computeNodeId, partitionId: caller.partitionId }
      : named;
  const instance = requester ? await repository.getInstanceOnPartition(requester) : undefined;
  if (!instance || !requester || instance.owner !== owner) return { requestedBy: '', requesterKey: null };
  return {
    requestedBy: rootTitleOf(instance),
    requesterKey: { computeNodeId: requester.computeNodeId, partitionId: requester.partitionId },
  };
}

/** The requester to store when it is new or another one than the stored one. */
function requesterChange(
  existing: InstanceRecord,
  requesterKey: PartitionKey | null,
): PartitionKey | undefined {
  if (requesterKey === null || sameKey(existing.requester, requesterKey)) return undefined;
  return requesterKey;
}

/** What a request changes of an existing instance, for its timeline. */
interface RequestChange {
  requestedState: RequestedState;
  softwareRelease: string;
  softwareType: string;
  parametersChanged: boolean;
}

/** Records the timeline events of a request that changes `existing` (none when it changes nothing). */
async function recordRequestChanges(
  repository: Repository,
  existing: InstanceRecord,
  change: RequestChange,
  at: number,
): Promise<void> {
  if (change.requestedState !== existing.requestedState)
    await recordInstanceEvent(repository, existing.id, {
      kind: requestedStateEvent(change.requestedState),
      at,
    });
  const changed: string[] = [];
  if (change.softwareRelease !== existing.softwareRelease) changed.push('software release');
  if (change.softwareType !== existing.softwareType) changed.push('software type');
  if (change.parametersChanged) changed.push('parameters');
  // Which of them, not their values: parameters may hold secrets.
  if (changed.length > 0)
    await recordInstanceEvent(repository, existing.id, {
      kind: 'parameters_changed',
      at,
      detail: changed.join(', '),
    });
}

/** Records a new instance's first events: requested, and allocated when it has a partition. */
async function recordFirstRequest(
  repository: Repository,
  id: number,
  location: PartitionKey | null,
  at: number,
): Promise<void> {
  await recordInstanceEvent(repository, id, { kind: 'requested', at });
  if (location)
    await recordInstanceEvent(repository, id, { kind: 'allocated', at, detail: allocationDetail(location) });
}

export async function requestInstance(
  context: ServiceContext,
  input: RequestInstanceInput,
): Promise<InstanceView> {
  // Encoding first: parameters XML cannot carry are refused before anything is written.
  const parameterXml = storableParameterXml(input.parameters);
  const slaJson = storableSlaJson(input.sla);
  if (input.requester !== undefined && context.mode === 'master') {
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      'A master in master mode does not take requester headers: an instance requests with its own certificate.',
    );
  }
  const owner = namespaceOf(input.caller);
  return context.store.write(async (repository) => {
    await context.authorize(input.caller, 'instance.request', { kind: 'master' }, repository);
    const { requestedBy, requesterKey } = await requesterOf(repository, input.caller, owner, input.requester);
    const resilience = input.shared ? undefined : resilienceAsked(context, input, requestedBy);
    const prepared: Prepared = {
      owner,
      caller: input.caller,
      title: input.title,
      softwareRelease: input.softwareRelease,
      softwareType: resilience?.softwareType ?? input.softwareType,
      parameters: input.parameters,
      shared: input.shared,
      state: input.state,
      sla: input.sla,
      requester: input.requester,
      origin: input.origin,
      requestedBy,
      requesterKey,
      parameterXml,
      slaJson,
      now: context.clock.now(),
    };
    if (!input.shared) {
      const view = await requestNotShared(context, repository, prepared);
      if (requestedBy === '') await keepClones(repository, prepared, resilience);
      return view;
    }
    if (context.mode === 'master') return requestShared(context, repository, prepared);
    const bypass = frontendBypass({
      title: input.title,
      requestedBy,
      softwareRelease: input.softwareRelease,
      softwareType: input.softwareType,
      parameters: input.parameters,
      state: input.state,
      origin: input.origin,
    });
    return bypass ?? (await requestShared(context, repository, prepared));
  });
}

/**
 * The resilience a request asks (backup-trees.ts): only of a tree's root, only in master mode (its
 * clones need other nodes). Undefined: none.
 */
function resilienceAsked(
  context: ServiceContext,
  input: RequestInstanceInput,
  requestedBy: string,
): Resilience | undefined {
  if (requestedBy !== '') {
    if (input.sla.resilient !== undefined || input.sla.clones !== undefined)
      throw new SlapError(
        'SLAP_ERR_INVALID_INPUT',
        "Only an instance tree's root can be resilient (the SLA resilient and clones).",
      );
    return undefined;
  }
  const resilience = resilienceOf(input.sla, input.softwareType);
  if (resilience && context.mode !== 'master')
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      'A resilient instance needs a master in master mode: its clones go to other compute nodes.',
    );
  return resilience;
}

/**
 * After a root's request: a resilient root's clones follow it (created, updated, destroyed); a root
 * re-requested without asking resilience keeps the clones its tree has, updated likewise.
 */
async function keepClones(
  repository: Repository,
  request: Prepared,
  resilience: Resilience | undefined,
): Promise<void> {
  const root = await repository.findInstance({
    owner: request.owner,
    title: request.title,
    requestedBy: '',
    shared: false,
  });
  if (!root) return;
  const clones = resilience?.clones ?? (await repository.getBackupTree(root.id))?.clones ?? 0;
  if (clones === 0) return;
  await syncResilientTree(repository, { caller: request.caller, root, clones, now: request.now });
}

/** Where a new (or still waiting) instance goes: a free partition, or why none may take it yet. */
type Placement = { partition: PartitionKey } | { waiting: string };

async function placeInstance(
  context: ServiceContext,
  repository: Repository,
  request: Prepared,
  waitingId?: number,
): Promise<Placement> {
  if (context.mode === 'master') {
    return chooseFreePartition(repository, {
      caller: request.caller,
      softwareRelease: request.softwareRelease,
      computeNodeId: slaString(request.sla, 'computer_guid'),
      // A waiting member of a resilient tree: not where another member is.
      excludedNodes: waitingId === undefined ? undefined : await otherMemberNodes(repository, waitingId),
    });
  }
  const computeNodeId = slaString(request.sla, 'computer_guid') ?? context.defaultComputeNodeId;
  const partition =
    computeNodeId === undefined ? undefined : await repository.firstFreePartition(computeNodeId);
  if (!partition) {
    throw new SlapError(
      'SLAP_ERR_ALLOCATION_FAILED',
      `No free computer partition found for: ${request.title}`,
    );
  }
  return { partition: { computeNodeId: partition.computeNodeId, partitionId: partition.reference } };
}

async function requestNotShared(
  context: ServiceContext,
  repository: Repository,
  request: Prepared,
): Promise<InstanceView> {
  const identity = {
    owner: request.owner,
    title: request.title,
    requestedBy: request.requestedBy,
    shared: false,
  };
  const existing = await repository.findInstance(identity);
  let state = request.state;
  let location: PartitionKey | null;
  let id: number;
  let view: Pick<InstanceView, 'softwareType' | 'connectionParameters' | 'connectionXml' | 'timestamp'>;
  if (!existing) {
    const placement = await placeInstance(context, repository, request);
    location = 'partition' in placement ? placement.partition : null;
    // The default software type is applied at first allocation only.
    const softwareType = request.softwareType || 'default';
    id = await repository.insertInstance({
      owner: identity.owner,
      title: identity.title,
      requestedBy: identity.requestedBy,
      shared: identity.shared,
      softwareRelease: request.softwareRelease,
      softwareType,
      parameterXml: request.parameterXml,
      sharedParametersJson: null,
      slaJson: request.slaJson,
      requestedState: state ?? 'started',
      location,
      hostPosition: null,
      requester: request.requesterKey,
      allocationMessage: 'waiting' in placement ? placement.waiting : null,
      now: request.now,
    });
    if (location)
      await repository.allocatePartition(location, request.now, partitionHolder({ ...identity, id }));
    await recordFirstRequest(repository, id, location, request.now);
    view = {
      softwareType,
      connectionParameters: {},
      connectionXml: null,
      timestamp: location ? request.now : null,
    };
  } else {
    id = existing.id;
    location = existing.location;
    if (request.requestedBy !== '') {
      // A re-requested child takes the state of a root that is not started.
      const root = await repository.findInstance({
        owner: request.owner,
        title: request.requestedBy,
        requestedBy: '',
        shared: false,
      });
      if (root && root.requestedState !== 'started') state = root.requestedState;
    }
    const requestedState = state ?? existing.requestedState;
    const changed =
      existing.partitionTimestamp === null ||
      requestedState !== existing.requestedState ||
      request.softwareRelease !== existing.softwareRelease ||
      request.softwareType !== existing.softwareType ||
      request.parameterXml !== existing.parameterXml;
    const requester = requesterChange(existing, request.requesterKey);
    const fields: InstanceUpdate = { slaJson: request.slaJson, now: request.now };
    if (requester) fields.requester = requester;
    if (changed) {
      fields.requestedState = requestedState;
      fields.softwareRelease = request.softwareRelease;
      fields.softwareType = request.softwareType;
      fields.parameterXml = request.parameterXml;
    }
    if (location === null && requestedState !== 'destroyed') {
      // Still waiting (master mode): a node may take it now.
      const placement = await placeInstance(context, repository, request, existing.id);
      if ('partition' in placement) {
        location = placement.partition;
        fields.location = location;
        fields.allocationMessage = null;
      } else {
        fields.allocationMessage = placement.waiting;
      }
    }
    if (changed || existing.slaJson !== request.slaJson || requester || 'allocationMessage' in fields) {
      await repository.updateInstance(existing.id, fields);
    }
    if (changed) {
      await recordRequestChanges(
        repository,
        existing,
        {
          requestedState,
          softwareRelease: request.softwareRelease,
          softwareType: request.softwareType,
          parametersChanged: request.parameterXml !== existing.parameterXml,
        },
        request.now,
      );
    }
    const placed = location !== null && existing.location === null;
    if (placed && location) {
      await repository.allocatePartition(location, request.now, partitionHolder(existing));
      await recordInstanceEvent(repository, existing.id, {
        kind: 'allocated',
        at: request.now,
        detail: allocationDetail(location),
      });
    } else if (changed && location) await repository.setPartitionTimestamp(location, request.now);
    view = {
      softwareType: request.softwareType,
      connectionParameters: decodeParameterXml(existing.connectionXml),
      connectionXml: existing.connectionXml,
      timestamp: location && (changed || placed) ? request.now : existing.partitionTimestamp,
    };
  }
  return {
    instanceGuid: context.naming.guidOf({
      id,
      title: request.title,
      requestedBy: request.requestedBy,
      shared: false,
    }),
    softwareType: view.softwareType,
    connectionParameters: view.connectionParameters,
    connectionXml: view.connectionXml ?? null,
    timestamp: view.timestamp,
    title: request.title,
    requestedBy: request.requestedBy,
    shared: false,
    softwareRelease: request.softwareRelease,
    // The answer carries the requested (or propagated) state, as slapproxy's does.
    state: state ?? 'started',
    // What is stored now: these parameters through parameter XML.
    parameters: parametersAsStored(request.parameters),
    ipList: location ? await ipListOf(repository, location) : [],
    computeNodeId: location?.computeNodeId ?? '',
    partitionId: location?.partitionId ?? '',
  };
}

/** The host partition id asked by the `instance_guid` SLA: legacy form `<node>-<partition>` or an id. */
function requestedHostPartition(
  sla: Record<string, unknown>,
  computeNodeId: string | undefined,
): string | undefined {
  const guid = slaString(sla, 'instance_guid');
  if (guid === undefined) return undefined;
  return computeNodeId !== undefined && guid.startsWith(computeNodeId)
    ? guid.slice(computeNodeId.length + 1)
    : guid;
}

/** Whether a member of a resilient tree is a clone or a fenced former main (not serving). */
function isStandby(member: BackupMemberRecord | undefined): boolean {
  return member?.role === 'clone' || member?.role === 'fenced';
}

/** The shared host asked by the `instance_guid` SLA in master mode (`SOFTINST-n`), if any. */
async function masterModeHost(
  context: ServiceContext,
  repository: Repository,
  request: Prepared,
  fits: (host: InstanceRecord | undefined) => host is InstanceRecord,
): Promise<InstanceRecord | undefined> {
  const nodes = await sharedHostNodes(repository, request.caller, slaString(request.sla, 'computer_guid'));
  const hostGuid = slaString(request.sla, 'instance_guid');
  const admitted = async (host: InstanceRecord | undefined): Promise<boolean> =>
    fits(host) &&
    !!host.location &&
    nodes.includes(host.location.computeNodeId) &&
    // A clone of a resilient tree serves nothing (its services are stopped): it hosts nothing.
    !isStandby(await repository.getBackupMember(host.id));
  if (hostGuid !== undefined) {
    let host: InstanceRecord | undefined;
    try {
      host = await context.naming.find(repository, hostGuid);
    } catch {
      return undefined;
    }
    return (await admitted(host)) ? host : undefined;
  }
  for (const computeNodeId of nodes) {
    const host = await repository.findSharedHost({
      computeNodeId,
      softwareRelease: request.softwareRelease,
      ...(request.softwareType ? { softwareType: request.softwareType } : {}),
    });
    if (await admitted(host)) return host;
  }
  return undefined;
}

async function chooseHost(
  context: ServiceContext,
  repository: Repository,
  request: Prepared,
  existing: InstanceRecord | undefined,
): Promise<InstanceRecord> {
  const master = context.mode === 'master';
  const computeNodeId = slaString(request.sla, 'computer_guid') ?? context.defaultComputeNodeId;
  const partitionId = master ? undefined : requestedHostPartition(request.sla, computeNodeId);
  const hostGuid = master ? slaString(request.sla, 'instance_guid') : undefined;
  const fits = (host: InstanceRecord | undefined): host is InstanceRecord =>
    !!host &&
    !host.shared &&
    host.softwareRelease === request.softwareRelease &&
    (!request.softwareType || host.softwareType === request.softwareType) &&
    (partitionId === undefined || host.location?.partitionId === partitionId) &&
    (hostGuid === undefined || context.naming.guidOf(host) === hostGuid);
  // A shared instance stays on its host while that host still fits the request.
  if (existing?.location && existing.requestedState !== 'destroyed') {
    const current = await repository.getInstanceOnPartition(existing.location);
    if (fits(current)) return current;
  }
  const host = master
    ? await masterModeHost(context, repository, request, fits)
    : computeNodeId === undefined
      ? undefined
      : await repository.findSharedHost({
          computeNodeId,
          softwareRelease: request.softwareRelease,
          ...(request.softwareType ? { softwareType: request.softwareType } : {}),
          ...(partitionId !== undefined ? { partitionId } : {}),
        });
  if (!host?.location) {
    const args: (string | null)[] = [request.softwareRelease, computeNodeId ?? null];
    if (request.softwareType) args.push(request.softwareType);
    if (partitionId !== undefined) args.push(partitionId);
    if (hostGuid !== undefined) args.push(hostGuid);
    throw new SlapError(
      'SLAP_ERR_ALLOCATION_FAILED',
      `No partition corresponding to slave request: ${pyRepr(args)}`,
    );
  }
  return host;
}

async function requestShared(
  context: ServiceContext,
  repository: Repository,
  request: Prepared,
): Promise<InstanceView> {
  const identity = {
    owner: request.owner,
    title: request.title,
    requestedBy: request.requestedBy,
    shared: true,
  };
  const existing = await repository.findInstance(identity);
  const live = existing && existing.requestedState !== 'destroyed' ? existing : undefined;
  // Destroying a live shared instance needs no fitting host: it leaves the one it is on.
  const currentHost =
    request.state === 'destroyed' && live?.location
      ? await repository.getInstanceOnPartition(live.location)
      : undefined;
  const host = currentHost ?? (await chooseHost(context, repository, request, existing));
  const hostKey = host.location as PartitionKey;
  const sharedParametersJson = stringifyPythonJson(request.parameters);
  const sharedChange = (before: InstanceRecord, requestedState: RequestedState): RequestChange => ({
    requestedState,
    softwareRelease: request.softwareRelease,
    softwareType: request.softwareType,
    parametersChanged:
      canonical(JSON.parse(before.sharedParametersJson ?? '{}')) !==
      canonical(JSON.parse(sharedParametersJson)),
  });
  /** The columns every write of this request stores (the requester only when one asks). */
  const fields = (requestedState: RequestedState): InstanceUpdate => {
    const update: InstanceUpdate = {
      softwareRelease: request.softwareRelease,
      softwareType: request.softwareType,
      parameterXml: request.parameterXml,
      sharedParametersJson,
      slaJson: request.slaJson,
      requestedState,
      now: request.now,
    };
    if (request.requesterKey !== null) update.requester = request.requesterKey;
    return update;
  };
  if (request.state === 'destroyed') {
    // Leaves its host's list; the record stays (slapproxy keeps its shared rows).
    if (live) {
      await repository.updateInstance(live.id, fields('destroyed'));
      await recordRequestChanges(repository, live, sharedChange(live, 'destroyed'), request.now);
      if (live.location) await repository.setPartitionTimestamp(live.location, request.now);
    }
  } else {
    const requestedState = request.state ?? live?.requestedState ?? 'started';
    if (!existing) {
      const id = await repository.insertInstance({
        owner: identity.owner,
        title: identity.title,
        requestedBy: identity.requestedBy,
        shared: identity.shared,
        softwareRelease: request.softwareRelease,
        softwareType: request.softwareType,
        parameterXml: request.parameterXml,
        sharedParametersJson,
        slaJson: request.slaJson,
        requestedState,
        location: hostKey,
        hostPosition: await repository.nextHostPosition(),
        requester: request.requesterKey,
        now: request.now,
      });
      await repository.setPartitionTimestamp(hostKey, request.now);
      await recordFirstRequest(repository, id, hostKey, request.now);
    } else if (!live || !sameKey(live.location, hostKey)) {
      // (Re)attached at the end of the host's list.
      const update = fields(requestedState);
      update.location = hostKey;
      update.hostPosition = await repository.nextHostPosition();
      await repository.updateInstance(existing.id, update);
      await repository.setPartitionTimestamp(hostKey, request.now);
      if (live?.location) await repository.setPartitionTimestamp(live.location, request.now);
      await recordRequestChanges(repository, existing, sharedChange(existing, requestedState), request.now);
      await recordInstanceEvent(repository, existing.id, {
        kind: 'allocated',
        at: request.now,
        detail: allocationDetail(hostKey),
      });
    } else {
      const change = sharedChange(live, requestedState);
      const entryChanged = live.softwareType !== request.softwareType || change.parametersChanged;
      await repository.updateInstance(live.id, fields(requestedState));
      await recordRequestChanges(repository, live, change, request.now);
      // The host reprocesses only when its list of shared instances changed.
      if (entryChanged) await repository.setPartitionTimestamp(hostKey, request.now);
    }
  }
  const stored = await repository.findInstance(identity);
  return {
    instanceGuid: stored
      ? context.naming.guidOf(stored)
      : formatInstanceGuid({ title: request.title, requestedBy: request.requestedBy, shared: true }),
    title: request.title,
    requestedBy: request.requestedBy,
    shared: true,
    softwareRelease: host.softwareRelease,
    softwareType: host.softwareType,
    state: 'started',
    connectionParameters: decodeParameterXml(stored?.connectionXml),
    connectionXml: stored?.connectionXml ?? null,
    // The post answer shows the parameters through parameter XML: strings.
    parameters: parametersAsStored(request.parameters),
    ipList: await ipListOf(repository, hostKey),
    computeNodeId: hostKey.computeNodeId,
    partitionId: hostKey.partitionId,
    timestamp: null,
  };
}

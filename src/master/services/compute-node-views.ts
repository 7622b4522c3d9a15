/**
 * The compute nodes as people look at them (the panel's node pages): who may deploy there, when the
 * node last called, its partitions and who holds them. Reads only; the listing's authorization is
 * listComputeNodes' (a user sees the nodes they own, an admin and proxy mode's caller all of them).
 */
import type { SlapState } from '../../core/states.ts';
import type { AllocationScope, PartitionRecord } from '../storage/repository.ts';
import type { Caller } from './caller.ts';
import { namespaceOf } from './caller.ts';
import { listComputeNodes } from './compute-nodes.ts';
import type { ServiceContext } from './context.ts';
import { requireComputeNode } from './not-found.ts';
import { partitionHolder } from './partition-holder.ts';

/**
 * A node is silent when it has not called for SILENT_AFTER_POLLS poll intervals. The master does not
 * know a node's interval (the agent's setting): it assumes `context.nodePollIntervalSeconds`.
 */
export const SILENT_AFTER_POLLS = 3;

export interface NodeContactView {
  /** Float seconds; null: the node never called. */
  lastContactAt: number | null;
  /** Never called, or not for SILENT_AFTER_POLLS poll intervals. */
  silent: boolean;
}

export interface NodeAccessView {
  /** Null for a node nobody registered (made by an admin). */
  owner: string | null;
  allocationScope: AllocationScope;
  friends: string[];
}

export interface ComputeNodeSummary {
  reference: string;
  title: string | null;
  contact: NodeContactView;
  partitions: { busy: number; total: number };
  softwareInstallations: number;
  /** Master mode only (proxy mode has no allocation scope). */
  access: NodeAccessView | null;
}

export interface PartitionView {
  reference: string;
  slapState: SlapState;
  /** The instance on a busy partition; null when free or when it holds none. */
  instance: {
    title: string;
    /** Its tree's title when the caller's own (the panel links it), else null. */
    instanceTree: string | null;
  } | null;
}

export interface ComputeNodeView extends ComputeNodeSummary {
  partitionList: PartitionView[];
}

function contactView(context: ServiceContext, lastContactAt: number | null): NodeContactView {
  const silentAfter = SILENT_AFTER_POLLS * context.nodePollIntervalSeconds;
  return {
    lastContactAt,
    silent: lastContactAt === null || context.clock.now() - lastContactAt > silentAfter,
  };
}

async function lastContacts(context: ServiceContext): Promise<Map<string, number | null>> {
  const contacts = await context.contacts.list();
  return new Map(contacts.map((contact) => [contact.computeNodeId, contact.lastContactAt]));
}

function partitionCounts(partitions: readonly PartitionRecord[]): { busy: number; total: number } {
  return {
    busy: partitions.filter((partition) => partition.slapState === 'busy').length,
    total: partitions.length,
  };
}

/** The compute nodes the caller may see, in creation order, each summarised. */
export async function listComputeNodeViews(
  context: ServiceContext,
  input: { caller: Caller },
): Promise<ComputeNodeSummary[]> {
  const visible = new Set(await listComputeNodes(context, input));
  const contacts = await lastContacts(context);
  return context.store.read(async (repository) => {
    const summaries: ComputeNodeSummary[] = [];
    for (const node of await repository.listComputeNodeAccess()) {
      if (!visible.has(node.reference)) continue;
      const partitions = await repository.listPartitions(node.reference);
      const software = await repository.listSoftwareInstallations(node.reference);
      summaries.push({
        reference: node.reference,
        title: node.title,
        contact: contactView(context, contacts.get(node.reference) ?? null),
        partitions: partitionCounts(partitions),
        softwareInstallations: software.length,
        access:
          context.mode === 'master'
            ? { owner: node.owner, allocationScope: node.allocationScope, friends: node.friends }
            : null,
      });
    }
    return summaries;
  });
}

/** One compute node the caller may read, with its partitions in order. */
export async function readComputeNodeView(
  context: ServiceContext,
  input: { caller: Caller; computeNodeId: string },
): Promise<ComputeNodeView> {
  const { computeNodeId } = input;
  const view = await context.store.read(async (repository) => {
    await context.authorize(
      input.caller,
      'compute_node.read',
      { kind: 'compute_node', computeNodeId },
      repository,
    );
    await requireComputeNode(repository, computeNodeId);
    const node = await repository.getComputeNodeListing(computeNodeId);
    const partitions = await repository.listPartitions(computeNodeId);
    const software = await repository.listSoftwareInstallations(computeNodeId);
    const instances = new Map(
      (await repository.listPartitionInstanceOwners(computeNodeId)).map((instance) => [
        instance.partitionId,
        instance,
      ]),
    );
    const viewer = ownNamespace(input.caller);
    return {
      reference: computeNodeId,
      title: node?.title ?? null,
      partitions: partitionCounts(partitions),
      softwareInstallations: software.length,
      access:
        context.mode === 'master' && node
          ? { owner: node.owner, allocationScope: node.allocationScope, friends: node.friends }
          : null,
      partitionList: partitions.map((partition): PartitionView => {
        const instance = partition.slapState === 'busy' ? instances.get(partition.reference) : undefined;
        return {
          reference: partition.reference,
          slapState: partition.slapState,
          instance: instance
            ? {
                title: instance.title,
                instanceTree:
                  instance.owner === viewer
                    ? partitionHolder({ ...instance, id: instance.instanceId, shared: false }).instanceTree
                    : null,
              }
            : null,
        };
      }),
    };
  });
  const contacts = await lastContacts(context);
  return { ...view, contact: contactView(context, contacts.get(computeNodeId) ?? null) };
}

/** The namespace whose instance trees the caller sees (an admin's is their own), if any. */
function ownNamespace(caller: Caller): string | undefined {
  return caller.kind === 'local' || caller.kind === 'user' ? namespaceOf(caller) : undefined;
}

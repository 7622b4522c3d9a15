/**
 * The node's state read from the master's change stream (our extension, docs/master.md): one
 * `compute_node_snapshot` call instead of the JSON API's 2 + N, with precise change markers (the
 * partition timestamp as the legacy API prints it, plus the dependency serial), and the revision the
 * agent then watches.
 */
import type { MasterClient } from '../../client/master-client.ts';
import type { NodeSnapshot } from '../../client/types.ts';
import type { NodeState, NodeStateQuery, NodeStateSource } from '../state-source.ts';

export type SnapshotMaster = Pick<MasterClient, 'readNodeSnapshot'>;

/** The node state of a snapshot (every marker is precise: settled). */
export function nodeStateOf(snapshot: NodeSnapshot): NodeState {
  return {
    software: snapshot.software_installation_list.map((item) => ({
      url: item.software_release_uri,
      state: item.state,
    })),
    partitions: snapshot.compute_partition_list.map((partition) => ({
      partitionId: partition.compute_partition_id,
      instanceGuid: partition.instance_guid,
      title: partition.title,
      requestedState: partition.state,
      softwareReleaseUrl: partition.software_release_uri,
      softwareType: partition.software_type,
      marker: partition.marker,
      settled: true,
    })),
  };
}

export class SnapshotStateSource implements NodeStateSource {
  constructor(
    private readonly master: SnapshotMaster,
    private readonly computerGuid: string,
  ) {}

  /** The snapshot and its state, for the agent (which also needs the revision). */
  async readSnapshot(signal?: AbortSignal): Promise<{ revision: number; state: NodeState }> {
    const snapshot = await this.master.readNodeSnapshot(this.computerGuid, signal ? { signal } : {});
    return { revision: snapshot.revision, state: nodeStateOf(snapshot) };
  }

  async read(query: NodeStateQuery): Promise<NodeState> {
    const { state } = await this.readSnapshot(query.signal);
    return fixedStateSource(state).read(query);
  }
}

/** A source answering with a state already read (the agent hands one snapshot to several passes). */
export function fixedStateSource(state: NodeState): NodeStateSource {
  return {
    read: (query) =>
      Promise.resolve({
        ...((query.software ?? true) && state.software ? { software: state.software } : {}),
        ...((query.partitions ?? true) && state.partitions ? { partitions: state.partitions } : {}),
      }),
  };
}

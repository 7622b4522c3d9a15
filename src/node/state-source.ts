/**
 * Where a node pass learns what the master wants of this compute node: the software installations
 * and, per partition, the instance it holds. A small interface so that a master extension returning
 * everything in one call (with a precise revision) can replace the JSON API implementation below.
 */
import { systemClock, type Clock } from '../core/clock.ts';
import { SlapError } from '../core/errors.ts';
import type { RequestedState, SoftwareInstallationState } from '../core/states.ts';
import { mapConcurrent } from '../lib/map-concurrent.ts';
import { stateMarker } from '../lib/stable-digest.ts';
import type { NodeMaster } from './pass.ts';

export interface WantedSoftware {
  url: string;
  state: SoftwareInstallationState;
}

export interface WantedPartition {
  partitionId: string;
  instanceGuid: string;
  title: string;
  requestedState: RequestedState;
  softwareReleaseUrl: string;
  softwareType: string;
  /**
   * Opaque, changes whenever the instance must be processed again (the original's partition
   * timestamp). Written into the partition's `.timestamp` after a successful processing and compared
   * for equality (node.md §4.2).
   */
  marker: string;
  /**
   * False when the marker may not yet reflect every change (a coarse timestamp read in the very
   * second of a change): the partition is then processed again at the next pass. Default true.
   */
  settled?: boolean;
}

export interface NodeState {
  /** Present when asked for. */
  software?: WantedSoftware[];
  /** Partitions that hold an instance (any requested state); absent ones are free. */
  partitions?: WantedPartition[];
}

export interface NodeStateQuery {
  software?: boolean;
  partitions?: boolean;
  signal?: AbortSignal;
}

export interface NodeStateSource {
  read(query: NodeStateQuery): Promise<NodeState>;
}

export interface JsonApiStateSourceOptions {
  /** `slapos.get.v0.compute_partition` calls in flight at once (default 8). */
  concurrency?: number;
  /** To tell recent timestamps (default: the system clock). */
  clock?: Clock;
}

/**
 * Seconds after a whole-second `processing_timestamp` before it is trusted to include every change
 * of that second (another change in the same second leaves it as it is).
 */
export const TIMESTAMP_SETTLE_SECONDS = 2;

/**
 * The JSON API v0: `compute_node_software_installation_list`, `compute_node_instance_list`, then
 * `get.v0.compute_partition` per instance. Its `processing_timestamp` is whole seconds, so the marker
 * adds a digest of what the node deploys (state, software release, type, parameters, addresses), and
 * a timestamp younger than TIMESTAMP_SETTLE_SECONDS is not settled: a second change in the same
 * second (a bang, a shared instance) is then seen at the next pass. (Assumes the node's and the
 * master's clocks agree; the master extension's precise revision will not need it.)
 */
export class JsonApiStateSource implements NodeStateSource {
  constructor(
    private readonly master: NodeMaster,
    private readonly computerGuid: string,
    private readonly options: JsonApiStateSourceOptions = {},
  ) {}

  async read(query: NodeStateQuery): Promise<NodeState> {
    const call = query.signal === undefined ? {} : { signal: query.signal };
    const now = (this.options.clock ?? systemClock).now();
    const state: NodeState = {};
    if (query.software ?? true) {
      const list = await this.master.listSoftwareInstallations(this.computerGuid, call);
      state.software = list.map((item) => ({ url: item.software_release_uri, state: item.state }));
    }
    if (query.partitions ?? true) {
      const instances = await this.master.listComputeNodeInstances(this.computerGuid, call);
      const documents = await mapConcurrent(instances, this.options.concurrency ?? 8, async (instance) => {
        if (instance.compute_partition_id === undefined) return undefined;
        try {
          return await this.master.getComputePartition(
            { computerGuid: this.computerGuid, partitionId: instance.compute_partition_id },
            call,
          );
        } catch (error) {
          // Freed between the two calls.
          if (error instanceof SlapError && error.code === 'SLAP_ERR_PARTITION_NOT_FOUND') return undefined;
          throw error;
        }
      });
      state.partitions = [];
      for (const document of documents) {
        if (document === undefined) continue;
        state.partitions.push({
          partitionId: document.compute_partition_id,
          instanceGuid: document.instance_guid,
          title: document.title,
          requestedState: document.state,
          softwareReleaseUrl: document.software_release_uri,
          softwareType: document.software_type,
          marker: stateMarker(document.processing_timestamp, [
            document.state,
            document.software_release_uri,
            document.software_type,
            document.title,
            document.parameters,
            document.ip_list,
          ]),
          settled: now - document.processing_timestamp >= TIMESTAMP_SETTLE_SECONDS,
        });
      }
    }
    return state;
  }
}

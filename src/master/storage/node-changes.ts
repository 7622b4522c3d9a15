/**
 * The store side of the change stream: who is told, after a commit, which compute nodes' revisions
 * it bumped. A listener that throws is logged and does not keep the others from being told.
 */
import type { Logger } from '../../lib/logger.ts';

export type NodeChangeListener = (computeNodeIds: ReadonlySet<string>) => void;

export class NodeChangeHub {
  private readonly listeners = new Set<NodeChangeListener>();

  constructor(private readonly logger?: Logger) {}

  subscribe(listener: NodeChangeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  publish(computeNodeIds: ReadonlySet<string>): void {
    if (computeNodeIds.size === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(computeNodeIds);
      } catch (error) {
        this.logger?.error({ err: error }, 'node change listener failed');
      }
    }
  }
}

/**
 * The store side of the change stream: who is told, after a commit, which compute nodes' revisions
 * it bumped, and who is told that a write was committed at all (the panel's live pages). A listener
 * that throws is logged and does not keep the others from being told.
 */
import type { Logger } from '../../lib/logger.ts';

export type NodeChangeListener = (computeNodeIds: ReadonlySet<string>) => void;

export class NodeChangeHub {
  private readonly listeners = new Set<NodeChangeListener>();
  private readonly commitListeners = new Set<() => void>();

  constructor(private readonly logger?: Logger) {}

  subscribe(listener: NodeChangeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  subscribeToCommits(listener: () => void): () => void {
    this.commitListeners.add(listener);
    return () => void this.commitListeners.delete(listener);
  }

  /** A write transaction that changed something was committed. */
  committed(): void {
    for (const listener of this.commitListeners) {
      try {
        listener();
      } catch (error) {
        this.logger?.error({ err: error }, 'commit listener failed');
      }
    }
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

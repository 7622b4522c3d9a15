/**
 * Waiting for a compute node's revision to move (the change stream's long poll). Watchers are woken
 * by the store after the commit that bumped their node's revision (no polling), re-read the revision
 * and answer as soon as it is past theirs; otherwise at their deadline, with the same revision.
 */
import type { MasterStore } from '../storage/repository.ts';

interface Watcher {
  computeNodeId: string;
  /** A commit bumped the node's revision: re-read it. */
  wake(): void;
  /** Answer now with the current revision (deadline, abort, closing). */
  release(): void;
}

export class NodeRevisionHub {
  private readonly watchers = new Map<string, Set<Watcher>>();
  /** The waits in progress (close() waits for their answers). */
  private readonly pending = new Set<Promise<number>>();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly store: MasterStore) {
    this.unsubscribe = store.onNodeChanges((nodes) => {
      for (const node of nodes) for (const watcher of this.watchers.get(node) ?? []) watcher.wake();
    });
  }

  /** Watchers waiting now. */
  get size(): number {
    let count = 0;
    for (const set of this.watchers.values()) count += set.size;
    return count;
  }

  /** The node's revision now (0 before its first change). */
  revision(computeNodeId: string): Promise<number> {
    return this.store.read((repository) => repository.getNodeRevision(computeNodeId));
  }

  /**
   * Resolves with the node's revision once it is above `afterRevision`, or at the deadline (or when
   * `signal` aborts, or the hub closes) with the revision then.
   */
  async waitPast(
    computeNodeId: string,
    afterRevision: number,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<number> {
    const current = await this.revision(computeNodeId);
    if (current > afterRevision || this.closed || options.timeoutMs <= 0 || options.signal?.aborted)
      return current;
    const waiting = new Promise<number>((resolve, reject) => {
      let settled = false;
      let reading = false;
      let wokenWhileReading = false;
      const settle = (outcome: { revision: number } | { error: Error }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', release);
        this.remove(watcher);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.revision);
      };
      const failed = (error: unknown): void =>
        settle({ error: error instanceof Error ? error : new Error(String(error)) });
      const release = (): void => {
        if (settled) return;
        this.remove(watcher);
        this.revision(computeNodeId).then((revision) => settle({ revision }), failed);
      };
      const watcher: Watcher = {
        computeNodeId,
        wake: () => {
          if (settled) return;
          if (reading) {
            wokenWhileReading = true;
            return;
          }
          reading = true;
          this.revision(computeNodeId).then((revision) => {
            reading = false;
            if (revision > afterRevision) settle({ revision });
            else if (wokenWhileReading) {
              wokenWhileReading = false;
              watcher.wake();
            }
          }, failed);
        },
        release,
      };
      const timer = setTimeout(release, options.timeoutMs);
      options.signal?.addEventListener('abort', release, { once: true });
      let set = this.watchers.get(computeNodeId);
      if (!set) this.watchers.set(computeNodeId, (set = new Set()));
      set.add(watcher);
      // A commit between the first read and the registration would otherwise go unseen.
      watcher.wake();
    });
    this.pending.add(waiting);
    const forget = (): void => void this.pending.delete(waiting);
    waiting.then(forget, forget);
    return waiting;
  }

  /**
   * Answers every watcher now, with the revision it is at (the master is closing); resolves once they
   * all have their answer. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.unsubscribe();
      for (const set of this.watchers.values()) for (const watcher of set) watcher.release();
    }
    return Promise.allSettled(this.pending).then(() => undefined);
  }

  private remove(watcher: Watcher): void {
    const set = this.watchers.get(watcher.computeNodeId);
    if (!set) return;
    set.delete(watcher);
    if (set.size === 0) this.watchers.delete(watcher.computeNodeId);
  }
}

/**
 * The versions at which memoized reads (read-memo.ts) are kept. A read of one compute node's data
 * (its instance list, its snapshot, its certificate's outcome) is scoped to that node: it stays valid
 * while no commit changed that node's data, so that a write to node A does not evict node B's
 * memoized answers (nodes poll while instances are requested elsewhere). A read of data of no node
 * (users, tokens) moves only with commits that changed data attributed to no node (node-scopes.ts),
 * which move every version; any commit that changed something moves an unscoped read's.
 * Writes by other processes are the store's business (it adds its own external version).
 */

/** What one commit changed, as node-scopes.ts records it. */
export interface CommitChanges {
  /** Compute nodes whose data the commit changed. */
  readonly nodes: ReadonlySet<string>;
  /** The commit changed data attributed to no node (or may have): every memoized read is stale. */
  readonly unattributed: boolean;
  /** The commit changed something (maybe in no node's reads): unscoped reads are stale. */
  readonly wrote: boolean;
}

export class MemoVersions {
  /** Commits that changed something. */
  private commits = 0;
  /** The last of them that changed data attributed to no node. */
  private lastUnattributed = 0;
  /** The last commit that changed each node's data (only those after lastUnattributed). */
  private readonly nodeChangedAt = new Map<string, number>();

  noteCommit(changes: CommitChanges): void {
    if (!changes.wrote && !changes.unattributed && changes.nodes.size === 0) return;
    this.commits++;
    if (changes.unattributed) {
      this.lastUnattributed = this.commits;
      // Every node's version is now this commit's: the entries would say no more.
      this.nodeChangedAt.clear();
      return;
    }
    for (const node of changes.nodes) this.nodeChangedAt.set(node, this.commits);
  }

  /** The version of all the data (a read not scoped to a node). */
  all(): number {
    return this.commits;
  }

  /** The version of the data of no compute node (users, tokens, certificates). */
  nodeless(): number {
    return this.lastUnattributed;
  }

  /** The version a memoized read of this scope is kept at (repository.ts MemoizedReadOptions). */
  of(scope: { computeNodeId?: string | undefined; nodeless?: boolean | undefined }): string {
    if (scope.computeNodeId !== undefined) return `node ${this.node(scope.computeNodeId)}`;
    return scope.nodeless ? `nodeless ${this.nodeless()}` : `all ${this.all()}`;
  }

  /** The version of one compute node's data: moves with every commit that changed it, or changed data of no node. */
  node(computeNodeId: string): number {
    return this.nodeChangedAt.get(computeNodeId) ?? this.lastUnattributed;
  }
}

/** The ReadMemo scope of a memoized read (read-memo.ts): the reads whose versions move together. */
export function memoScope(scope: {
  computeNodeId?: string | undefined;
  nodeless?: boolean | undefined;
}): string {
  return scope.computeNodeId !== undefined
    ? `node ${scope.computeNodeId}`
    : scope.nodeless
      ? 'nodeless'
      : 'all';
}

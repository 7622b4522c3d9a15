/**
 * When each compute node last called for its pass (its snapshot, its long poll): noted in memory on
 * every such call and written to the store coalesced (at most one write transaction every
 * FLUSH_INTERVAL_MS, whatever the number of nodes and calls), so that the hot read paths never write.
 * Reads merge the store's record with the notes not written yet.
 */
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ComputeNodeContactRecord, MasterStore, Repository } from '../storage/repository.ts';
import type { Caller } from './caller.ts';

/**
 * Short enough that another master sharing the database (PostgreSQL) never sees a live node as
 * lost: the failover monitor's default failover_after is 15 s, nodes sync every 5 s.
 */
const FLUSH_INTERVAL_MS = 2_000;

export class NodeContacts {
  private pending = new Map<string, number>();
  /** The notes being written (until their transaction commits). */
  private writing = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly options: {
      store: MasterStore;
      clock: Clock;
      logger: Logger;
      flushIntervalMs?: number;
    },
  ) {}

  /**
   * Notes a call for `computeNodeId`'s pass when the node itself makes it: in master mode its own
   * certificate; in proxy mode the one local caller (who reads a node's snapshot is its node).
   */
  noteCall(caller: Caller, computeNodeId: string): void {
    const own =
      caller.kind === 'local' || (caller.kind === 'compute_node' && caller.computeNodeId === computeNodeId);
    if (!own || this.closed) return;
    this.pending.set(computeNodeId, this.options.clock.now());
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.flushIntervalMs ?? FLUSH_INTERVAL_MS).unref();
  }

  /** Every node's last contact: the store's, or a later one noted and not written yet. */
  async list(): Promise<ComputeNodeContactRecord[]> {
    const stored = await this.options.store.read((repository) => repository.listComputeNodeContacts());
    return stored.map(({ computeNodeId, lastContactAt }) => {
      const noted = Math.max(
        this.pending.get(computeNodeId) ?? -Infinity,
        this.writing.get(computeNodeId) ?? -Infinity,
      );
      return noted > (lastContactAt ?? -Infinity)
        ? { computeNodeId, lastContactAt: noted }
        : { computeNodeId, lastContactAt };
    });
  }

  /** One node's last contact, read in the caller's transaction: the store's, or a later note. */
  async lastContactOf(repository: Repository, computeNodeId: string): Promise<number | null> {
    const stored = await repository.getComputeNodeLastContact(computeNodeId);
    const noted = Math.max(
      this.pending.get(computeNodeId) ?? -Infinity,
      this.writing.get(computeNodeId) ?? -Infinity,
    );
    return noted > (stored ?? -Infinity) ? noted : stored;
  }

  /** Writes the pending notes (one transaction). A failure is logged: the next contact is noted again. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      this.writing = this.pending;
      this.pending = new Map();
      const contacts = [...this.writing].map(([computeNodeId, at]) => ({ computeNodeId, at }));
      try {
        await this.options.store.write((repository) => repository.recordComputeNodeContacts(contacts));
      } catch (error) {
        this.options.logger.warn(
          { err: error, nodes: contacts.length },
          "cannot record the nodes' last contact",
        );
      } finally {
        this.writing = new Map();
      }
    });
    return this.flushing;
  }

  /** Writes what is pending; later calls are not noted. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

/**
 * Usage accounting in the storage boundary (docs/invoicing.md): the usage reports as received
 * (`usage_journal`), the identity of each partition's reported interval (`usage_interval`), the billed
 * pieces of the movements (`usage_charge`, core/usage-charges.ts), the raw movements the panel draws
 * (`usage_record`), and what invoicing and verification read back.
 */
import type { UsageChargePiece } from '../../core/usage-charges.ts';
import type { UsageRecord } from './repository.ts';

/** A node's journal's seal (core/usage-signature.ts), as stored. */
export interface UsageJournalSeal {
  sequence: number;
  /** The previous journal's hash (hex); '' for the first. */
  previousHash: string;
  /** Base64. */
  signature: string;
  certificatePem: string;
}

export interface NewUsageJournal {
  computeNodeId: string;
  /** SHA-256 (hex) of the document as received. */
  documentHash: string;
  /** Null: the journal is not signed. */
  seal: UsageJournalSeal | null;
  document: string;
  receivedAt: number;
}

export interface UsageJournalRecord extends NewUsageJournal {
  id: number;
}

/** A partition's reported interval: the identity of its movements (sent twice, counted once). */
export interface UsageIntervalKey {
  partitionId: string;
  start: number;
  stop: number;
}

/** A billed piece as stored: which journal, node and partition it comes from. */
export interface UsageChargeRecord extends UsageChargePiece {
  journalId: number;
  computeNodeId: string;
  partitionId: string;
}

export interface UsageChargeSum {
  owner: string;
  instanceTree: string;
  resource: string;
  /** Σ of the pieces' integer millionths. */
  quantityMicro: bigint;
}

/** One allocation of a partition to an instance tree. */
export interface TreeAllocation {
  owner: string;
  instanceTree: string;
  allocatedAt: number;
  releasedAt: number | null;
}

export interface UsageRepository {
  /** Stores a journal unless the node already sent this document (same hash): its id, or undefined. */
  insertUsageJournal(journal: NewUsageJournal): Promise<number | undefined>;
  /** Stores the usage records but those whose key exists already; resolves to how many were stored. */
  insertUsageRecords(records: readonly UsageRecord[]): Promise<number>;
  /**
   * Stores the intervals (distinct keys) of one journal of `computeNodeId` but those already reported;
   * resolves to the ones stored (new), in no particular order.
   */
  insertUsageIntervals(
    computeNodeId: string,
    journalId: number,
    intervals: readonly UsageIntervalKey[],
  ): Promise<UsageIntervalKey[]>;
  insertUsageCharges(charges: readonly UsageChargeRecord[]): Promise<void>;
  /**
   * The period's billed quantities per (owner, instance tree, resource): the pieces of `period`
   * (YYYYMM) starting in [from, to) (the whole period when not given), in one pass of the
   * `usage_charge_invoice` index.
   */
  sumUsageCharges(query: { period: number; from?: number; to?: number }): Promise<UsageChargeSum[]>;
  /** The partitions' allocations overlapping [from, to) (allocated before `to`, not released by `from`). */
  listTreeAllocations(query: { from: number; to: number }): Promise<TreeAllocation[]>;
  /** A node's signed journals with sequence >= `fromSequence` (default 1), by sequence then arrival; at most `limit`. */
  listUsageJournals(query: {
    computeNodeId: string;
    fromSequence?: number;
    limit: number;
  }): Promise<UsageJournalRecord[]>;
  /** The journals (signed or not) that contributed at least one charge to `owner` in `period`, by id. */
  listChargedUsageJournals(query: { owner: string; period: number }): Promise<UsageJournalRecord[]>;
}

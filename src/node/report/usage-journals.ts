/**
 * One round of usage journals (docs/invoicing.md, "Verifiable usage"): the journals still queued
 * are sent first; only when none is left waiting is a new journal built, covering the time since the
 * previous one stopped (per-interval CPU time, memory and disk held at the measure), then sealed and
 * queued with the computer-level journals found, and the queue sent. Everything the round changes
 * (interval, CPU counters, chain, queue) is saved in one atomic write before the files it took are
 * removed and anything is sent.
 */
import { readFile, rm } from 'node:fs/promises';
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { NodeConfig } from '../config.ts';
import type { NodeMaster } from '../pass.ts';
import { readBootId, readBootTime } from '../supervisor/proc.ts';
import type { ProcessCounters } from './cpu-counters.ts';
import { queueJournal, sendQueuedJournals, type JournalDelivery } from './journal-queue.ts';
import { loadJournalSigner } from './journal-signer.ts';
import {
  freshJournalState,
  readJournalState,
  writeJournalState,
  type JournalState,
} from './journal-state.ts';
import { usageJournal, type UsageMovement } from './usage-xml.ts';

export const USAGE_SOURCE = 'usage';

export interface UsageRoundOptions {
  master: Pick<NodeMaster, 'reportComputeNodeUsage'>;
  logger: Logger;
  clock: Clock;
  signal?: AbortSignal;
  procRoot?: string;
  /** Measures the partitions from the previous counters (undefined: another boot, or none). */
  measure: (previous: ProcessCounters | undefined) => Promise<{
    movements: UsageMovement[];
    counters: ProcessCounters;
  }>;
  /** Partition consumption files whose movements `measure` returned: removed once queued. */
  consumedFiles: readonly string[];
  /** Computer-level journals to send as they are (sealed, with a certificate): removed once queued. */
  computerFiles: readonly string[];
}

export interface UsageRound {
  /** False when a journal is still waiting to be sent: nothing was measured nor built. */
  measured: boolean;
  /** The document of the journal built in this round (as queued: sealed with a certificate). */
  document: string | undefined;
  /** What became of it. */
  built: JournalDelivery | undefined;
  /** Every journal sent, refused or left waiting in this round, in order. */
  deliveries: JournalDelivery[];
}

/**
 * Where a journal stopping at `stop` starts: where the previous one stopped, or at the boot if the
 * machine restarted since (nothing ran before), or at `stop` for the first (an instant).
 */
export function intervalStart(
  state: Pick<JournalState, 'lastStop' | 'bootId'>,
  stop: number,
  boot: { id: string; time: number | undefined },
): number {
  const { lastStop } = state;
  if (lastStop === null || lastStop > stop) return stop;
  if (state.bootId === boot.id) return lastStop;
  return boot.time !== undefined && boot.time <= stop ? Math.max(lastStop, boot.time) : stop;
}

async function openState(config: NodeConfig, bootId: string, logger: Logger): Promise<JournalState> {
  const stored = await readJournalState(config.instanceRoot);
  if (stored?.computerId === config.computerId) return stored;
  if (stored)
    logger.warn(
      { previous: stored.computerId, computerId: config.computerId, dropped: stored.pending.length },
      'the usage journal state belongs to another compute node: a new chain starts',
    );
  return freshJournalState(config.computerId, bootId);
}

export async function runUsageRound(config: NodeConfig, options: UsageRoundOptions): Promise<UsageRound> {
  const { logger } = options;
  const bootId = readBootId(options.procRoot);
  const state = await openState(config, bootId, logger);
  const persist = () => writeJournalState(config.instanceRoot, state);
  const send = () =>
    sendQueuedJournals(state, {
      master: options.master,
      persist,
      logger,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  const deliveries = await send();
  if (state.pending.length > 0) return { measured: false, document: undefined, built: undefined, deliveries };

  const signer = await loadJournalSigner(config);
  const stop = Math.floor(options.clock.now());
  const start = intervalStart(state, stop, { id: bootId, time: readBootTime(options.procRoot) });
  const measure = await options.measure(state.bootId === bootId ? state.counters : undefined);
  let document: string | undefined;
  if (measure.movements.length > 0) {
    const xml = usageJournal({
      computerId: config.computerId,
      ...(start === stop ? {} : { start }),
      now: stop,
      movements: measure.movements,
    });
    document = queueJournal(state, { xml, source: USAGE_SOURCE }, signer);
  }
  for (const file of options.computerFiles)
    queueJournal(state, { xml: await readFile(file, 'utf8'), source: file }, signer);
  Object.assign(state, { bootId, lastStop: stop, counters: measure.counters });
  await persist();
  for (const file of [...options.consumedFiles, ...options.computerFiles]) await rm(file, { force: true });
  // The queue was empty: the journal built is the first one sent now.
  const sent = await send();
  deliveries.push(...sent);
  return { measured: true, document, built: document === undefined ? undefined : sent[0], deliveries };
}

/**
 * The node's usage journals on their way to the master. A journal built is first sealed (when the
 * node has a certificate: the next link of its chain) and queued in the journal state; the queue is
 * then sent oldest first. A journal the master could not take (unreachable, 5xx, timeout, 401, 408,
 * 429) stays queued and is sent again, as it is, before anything newer, so the chain the master
 * receives has no gap. A journal the master refuses (any other 4xx: it will never take it) is
 * dropped: the chain goes on from it, as it was sealed.
 */
import { SlapError } from '../../core/errors.ts';
import { sealUsageJournal, usageDocumentHash } from '../../core/usage-signature.ts';
import type { Logger } from '../../lib/logger.ts';
import { passError, type NodeMaster, type PassError } from '../pass.ts';
import type { JournalSigner } from './journal-signer.ts';
import type { JournalState, PendingJournal } from './journal-state.ts';

export interface JournalDelivery {
  /** `usage` or the computer-level journal file. */
  source: string;
  /** Its place in the node's chain; undefined for an unsealed journal. */
  sequence?: number;
  outcome: 'sent' | 'refused' | 'pending';
  error?: PassError;
}

/** Statuses that say "not now" rather than "never": the journal is sent again later. */
const RETRY_STATUSES = new Set([401, 408, 425, 429]);

/** True when the master refused the journal for good (a 4xx that retrying cannot change). */
export function isRefusal(error: unknown): boolean {
  return (
    error instanceof SlapError &&
    error.status >= 400 &&
    error.status < 500 &&
    !RETRY_STATUSES.has(error.status) &&
    error.code !== 'SLAP_ERR_UNAVAILABLE' &&
    error.code !== 'SLAP_ERR_TIMEOUT'
  );
}

/** Appends a journal to the queue, sealed as the next link of the chain when there is a signer. */
export function queueJournal(
  state: JournalState,
  journal: { xml: string; source: string },
  signer: JournalSigner | undefined,
): string {
  if (!signer) {
    state.pending.push({ document: journal.xml, source: journal.source });
    return journal.xml;
  }
  const sequence = state.sequence + 1;
  const document = sealUsageJournal(journal.xml, { sequence, previous: state.previous, ...signer });
  state.sequence = sequence;
  state.previous = usageDocumentHash(document);
  state.pending.push({ document, source: journal.source, sequence });
  return document;
}

function deliveryOf(journal: PendingJournal, outcome: JournalDelivery['outcome']): JournalDelivery {
  const { source, sequence } = journal;
  return { source, ...(sequence === undefined ? {} : { sequence }), outcome };
}

/**
 * Sends the queued journals in order until one cannot be sent now; `persist` saves the state after
 * each journal leaves the queue.
 */
export async function sendQueuedJournals(
  state: JournalState,
  options: {
    master: Pick<NodeMaster, 'reportComputeNodeUsage'>;
    persist: () => Promise<void>;
    logger: Logger;
    signal?: AbortSignal;
  },
): Promise<JournalDelivery[]> {
  const deliveries: JournalDelivery[] = [];
  const call = options.signal ? { signal: options.signal } : {};
  while (state.pending.length > 0) {
    const journal = state.pending[0];
    if (journal === undefined) break;
    const delivery = deliveryOf(journal, 'sent');
    deliveries.push(delivery);
    try {
      await options.master.reportComputeNodeUsage(
        { computerGuid: state.computerId, usageXml: journal.document },
        call,
      );
    } catch (error) {
      delivery.error = passError(error);
      const where = { source: journal.source, sequence: delivery.sequence, err: error };
      if (!isRefusal(error)) {
        delivery.outcome = 'pending';
        options.logger.warn(where, 'usage journal not sent, kept to send again');
        for (const waiting of state.pending.slice(1)) deliveries.push(deliveryOf(waiting, 'pending'));
        break;
      }
      delivery.outcome = 'refused';
      options.logger.error(where, 'the master refused a usage journal: dropped');
    }
    state.pending.shift();
    await options.persist();
  }
  return deliveries;
}

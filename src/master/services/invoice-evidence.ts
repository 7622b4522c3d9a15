/**
 * The evidence of an invoice (`/slapos.get.ext.invoice_evidence`, docs/invoicing.md "Verifiable
 * usage"): what its user needs to recompute it without trusting the master
 * (core/invoice-verification.ts). Same authorisation as the invoice (services/invoices.ts).
 *
 * - The price lists that applied to the period.
 * - The user's holds overlapping the period, and every hold of those partitions, other holders'
 *   names replaced by placeholders `#1`, `#2`… (one per other user, in order of appearance): a
 *   movement is cut at every change of holder, so the verifier needs the boundaries, not the names.
 * - Per compute node that billed the user in the period: the journals exactly as received, in
 *   sequence order, from the one before the first that billed the user (the chain's anchor) to the
 *   last that did, and the unsigned journals that billed the user.
 * - The master's CA certificate (the user should rather check with a copy of their own).
 */
import { parseBillingPeriod } from '../../core/billing-period.ts';
import { priceSegments } from '../../core/invoice-lines.ts';
import type {
  EvidenceAllocation,
  EvidenceJournal,
  EvidencePriceList,
  InvoiceEvidence,
} from '../../core/invoice-verification.ts';
import type { PriceList } from '../../core/invoice-types.ts';
import type { PartitionAllocationRecord, Repository } from '../storage/repository.ts';
import type { UsageJournalRecord } from '../storage/usage-repository.ts';
import type { Caller } from './caller.ts';
import type { ServiceContext } from './context.ts';
import { getInvoice } from './invoices.ts';
import { priceListOf } from './price-lists.ts';

type EvidenceContext = Pick<ServiceContext, 'store' | 'clock' | 'logger' | 'authorize' | 'ca'>;

function priceListEvidence(list: PriceList): EvidencePriceList {
  return {
    currency: list.currency,
    effective: list.effective,
    resources: { ...list.resources },
    instance_tree_monthly_fee: list.instanceTreeMonthlyFee,
  };
}

/** Other users' names as placeholders: the same one for the same user, in order of appearance. */
class Pseudonyms {
  private readonly names = new Map<string, string>();

  constructor(private readonly user: string) {}

  allocation(computeNodeId: string, allocation: PartitionAllocationRecord): EvidenceAllocation {
    const own = allocation.owner === this.user;
    let placeholder = '';
    if (!own) {
      placeholder = this.names.get(allocation.owner) ?? `#${this.names.size + 1}`;
      this.names.set(allocation.owner, placeholder);
    }
    return {
      computer_guid: computeNodeId,
      partition_id: allocation.partitionId,
      owner: own ? allocation.owner : placeholder,
      instance_tree: own ? allocation.instanceTree : placeholder,
      instance_id: own ? allocation.instanceId : 0,
      allocated_at: allocation.allocatedAt,
      released_at: allocation.releasedAt,
    };
  }
}

/** Every hold of the partitions the user held in the period (theirs as they are, others' as placeholders). */
async function allocationEvidence(
  repository: Repository,
  user: string,
  period: { from: number; to: number },
): Promise<EvidenceAllocation[]> {
  const own = await repository.listOwnerAllocations({ owner: user, ...period });
  const partitionsByNode = new Map<string, Set<string>>();
  for (const allocation of own) {
    const partitions = partitionsByNode.get(allocation.computeNodeId) ?? new Set<string>();
    partitions.add(allocation.partitionId);
    partitionsByNode.set(allocation.computeNodeId, partitions);
  }
  const pseudonyms = new Pseudonyms(user);
  const evidence: EvidenceAllocation[] = [];
  for (const [computeNodeId, partitions] of [...partitionsByNode].sort(([a], [b]) => (a < b ? -1 : 1)))
    for (const allocation of await repository.listPartitionAllocations(computeNodeId))
      if (partitions.has(allocation.partitionId))
        evidence.push(pseudonyms.allocation(computeNodeId, allocation));
  return evidence;
}

/** Per node, the signed journals from the one before the first that billed the user to the last; then the unsigned ones. */
async function journalEvidence(
  repository: Repository,
  user: string,
  period: number,
): Promise<EvidenceJournal[]> {
  const charged = await repository.listChargedUsageJournals({ owner: user, period });
  const ranges = new Map<string, { first: number; last: number }>();
  const unsigned: UsageJournalRecord[] = [];
  for (const journal of charged) {
    if (journal.seal === null) {
      unsigned.push(journal);
      continue;
    }
    const range = ranges.get(journal.computeNodeId);
    const sequence = journal.seal.sequence;
    if (range === undefined) ranges.set(journal.computeNodeId, { first: sequence, last: sequence });
    else
      ranges.set(journal.computeNodeId, {
        first: Math.min(range.first, sequence),
        last: Math.max(range.last, sequence),
      });
  }
  const evidence: EvidenceJournal[] = [];
  for (const [computeNodeId, { first, last }] of [...ranges].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const fromSequence = Math.max(1, first - 1);
    // Room for a few journals sharing a sequence (a fork is evidence too).
    const span = last - fromSequence + 1;
    const journals = await repository.listUsageJournals({
      computeNodeId,
      fromSequence,
      limit: span * 2 + 16,
    });
    for (const journal of journals)
      if (journal.seal !== null && journal.seal.sequence <= last)
        evidence.push({ computer_guid: computeNodeId, document: journal.document });
  }
  for (const journal of unsigned)
    evidence.push({ computer_guid: journal.computeNodeId, document: journal.document });
  return evidence;
}

export async function readInvoiceEvidence(
  context: EvidenceContext,
  input: { caller: Caller; reference: string },
): Promise<InvoiceEvidence> {
  const invoice = await getInvoice(context, input);
  const period = parseBillingPeriod(invoice.period);
  return context.store.read(async (repository) => {
    const lists = (await repository.listPriceLists()).map(priceListOf);
    return {
      invoice,
      price_list_list: priceSegments(period, lists).map((segment) => priceListEvidence(segment.list)),
      allocation_list: await allocationEvidence(repository, invoice.user, period),
      journal_list: await journalEvidence(repository, invoice.user, period.code),
      ca_certificate: context.ca?.caCertificatePem ?? null,
    };
  });
}

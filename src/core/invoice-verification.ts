/**
 * Verifies an invoice without trusting the master (docs/invoicing.md, "Verifiable usage"): from the
 * evidence the master gives (`/slapos.get.ext.invoice_evidence`) and a CA certificate the user
 * trusts, checks every journal's seal and each node's chain (usage-chain.ts), then recomputes the
 * invoice from the journals the nodes signed, with the master's own rules: movements split at the
 * partitions' changes of holder and month boundaries (usage-charges.ts), the user's pieces of the
 * period priced by the lists that applied (invoice-lines.ts), and compares it line by line.
 *
 * What the user must still take on trust: the allocation history (who held which partition when)
 * and the price lists, both as the master states them.
 */
import { X509Certificate } from 'node:crypto';
import { parseBillingPeriod, type BillingPeriod } from './billing-period.ts';
import {
  computeInvoice,
  priceSegments,
  treeDays,
  type ChargeSum,
  type ComputedInvoice,
  type PriceSegment,
} from './invoice-lines.ts';
import type { InvoiceDocument, InvoiceLine, PriceList } from './invoice-types.ts';
import { parsePriceList } from './price-list.ts';
import { checkUsageChain, type ChainProblemKind, type TrustedJournal } from './usage-chain.ts';
import { splitMovement, type HolderAllocation } from './usage-charges.ts';
import { mergeUsageMovements, parseUsageJournal, type UsageJournalMovement } from './usage-journal.ts';

/** One hold of a partition as the evidence states it; another user's name is a placeholder. */
export interface EvidenceAllocation {
  computer_guid: string;
  partition_id: string;
  /** The invoice's user, or `#<n>` for another holder (the same n for the same holder). */
  owner: string;
  /** The user's instance tree, or `#<n>` for another holder's. */
  instance_tree: string;
  instance_id: number;
  allocated_at: number;
  released_at: number | null;
}

/** A journal as the master stored it (the document exactly as the node sent it). */
export interface EvidenceJournal {
  computer_guid: string;
  document: string;
}

/** A price list in the format `slapos master prices set` loads, prices as decimal text. */
export interface EvidencePriceList {
  currency: string;
  effective: string;
  resources: Record<string, string>;
  instance_tree_monthly_fee: string;
}

/** What `/slapos.get.ext.invoice_evidence` answers. */
export interface InvoiceEvidence {
  invoice: InvoiceDocument;
  /** The price lists that applied to the period (the latest one effective at its start, and later ones inside it). */
  price_list_list: EvidencePriceList[];
  /** The user's holds overlapping the period, and every hold of those partitions around the journals' intervals. */
  allocation_list: EvidenceAllocation[];
  /**
   * Per compute node concerned, the journals covering the period in sequence order, and the one
   * before them (the chain's anchor); unsigned journals that were billed are there too.
   */
  journal_list: EvidenceJournal[];
  /** The master's CA certificate (PEM); null when the master has none (proxy mode). */
  ca_certificate: string | null;
}

export type VerificationProblemKind =
  | ChainProblemKind
  /** The evidence cannot be read (a price list, a date, no CA to check with). */
  | 'evidence_invalid'
  /** A credit note is checked through the invoices it stands between. */
  | 'not_an_invoice'
  | 'currency_differs'
  /** A line of the invoice differs from the recomputation, or is on one side only. */
  | 'line_differs'
  | 'total_differs';

export interface VerificationProblem {
  kind: VerificationProblemKind;
  message: string;
  computer_guid?: string;
  sequence?: number | null;
  document_hash?: string | null;
  instance_tree?: string;
  resource?: string;
  /** The line on the invoice (null: none). */
  invoiced?: InvoiceLine | null;
  /** The line recomputed from the signed journals (null: none). */
  recomputed?: InvoiceLine | null;
}

export interface VerificationReport {
  invoice_id: string;
  /** True when every journal verifies, every chain is whole and the recomputation matches the invoice. */
  verified: boolean;
  /** Where the CA certificate checked against came from. */
  ca: 'given' | 'master';
  journals: { total: number; trusted: number };
  problems: VerificationProblem[];
  /** What the signed journals bill (null when the evidence could not be used). */
  recomputed: { currency: string; lines: InvoiceLine[]; total: string } | null;
}

function report(
  evidence: InvoiceEvidence,
  ca: VerificationReport['ca'],
  problems: VerificationProblem[],
  extra: { trusted?: number; recomputed?: VerificationReport['recomputed'] } = {},
): VerificationReport {
  return {
    invoice_id: evidence.invoice.id,
    verified: problems.length === 0,
    ca,
    journals: { total: evidence.journal_list.length, trusted: extra.trusted ?? 0 },
    problems,
    recomputed: extra.recomputed ?? null,
  };
}

function evidenceProblem(message: string): VerificationProblem {
  return { kind: 'evidence_invalid', message };
}

function readPriceLists(lists: readonly EvidencePriceList[]): PriceList[] {
  return lists.map((list) => parsePriceList(JSON.stringify(list)));
}

/** Whether [start, stop] reaches into the period (an instant counts in the month of its stop). */
function overlaps(movement: UsageJournalMovement, period: BillingPeriod): boolean {
  if (movement.start === movement.stop) return movement.stop >= period.from && movement.stop < period.to;
  return movement.start < period.to && movement.stop > period.from;
}

interface ParsedJournal {
  journal: TrustedJournal;
  movements: UsageJournalMovement[];
}

/** Each trusted journal's movements; a journal that does not parse is reported and left out. */
function parseTrusted(trusted: readonly TrustedJournal[], problems: VerificationProblem[]): ParsedJournal[] {
  const parsed: ParsedJournal[] = [];
  for (const journal of trusted) {
    try {
      parsed.push({ journal, movements: mergeUsageMovements(parseUsageJournal(journal.document)) });
    } catch (error) {
      problems.push({
        kind: 'journal_unreadable',
        message: `journal ${journal.sequence} of ${journal.computeNodeId}: ${(error as Error).message}`,
        computer_guid: journal.computeNodeId,
        sequence: journal.sequence,
        document_hash: journal.documentHash,
      });
    }
  }
  return parsed;
}

/**
 * The chain must reach back to the period: the first journal of a node touching the period is
 * journal 1 or follows one in the evidence (else the journals before it may have been dropped).
 */
function anchorProblems(
  computeNodeId: string,
  parsed: readonly ParsedJournal[],
  period: BillingPeriod,
  reported: readonly VerificationProblem[],
): VerificationProblem[] {
  const first = parsed.find((p) => p.movements.some((m) => overlaps(m, period)));
  if (first === undefined || first.journal.sequence === 1) return [];
  const before = first.journal.sequence - 1;
  if (parsed.some((p) => p.journal.sequence === before)) return [];
  if (reported.some((p) => p.computer_guid === computeNodeId && p.sequence === before)) return [];
  return [
    {
      kind: 'journal_missing',
      message: `journal ${before} of ${computeNodeId}, the one before the period, is missing from the chain`,
      computer_guid: computeNodeId,
      sequence: before,
      document_hash: null,
    },
  ];
}

function allocationsByPartition(evidence: InvoiceEvidence): Map<string, HolderAllocation[]> {
  const byPartition = new Map<string, HolderAllocation[]>();
  for (const allocation of evidence.allocation_list) {
    const key = JSON.stringify([allocation.computer_guid, allocation.partition_id]);
    const holder: HolderAllocation = {
      instanceId: allocation.instance_id,
      owner: allocation.owner,
      instanceTree: allocation.instance_tree,
      allocatedAt: allocation.allocated_at,
      releasedAt: allocation.released_at,
    };
    const list = byPartition.get(key);
    if (list) list.push(holder);
    else byPartition.set(key, [holder]);
  }
  return byPartition;
}

/**
 * The user's charges of the period from the signed journals, per (tree, resource, list): each
 * partition's interval counts once (the first journal naming it, in sequence order), as at ingestion.
 */
function chargesOf(
  evidence: InvoiceEvidence,
  journals: readonly ParsedJournal[],
  period: BillingPeriod,
  segments: readonly PriceSegment[],
): ChargeSum[] {
  const allocations = allocationsByPartition(evidence);
  const user = evidence.invoice.user;
  const counted = new Set<string>();
  const sums = new Map<string, ChargeSum>();
  for (const { journal, movements } of journals) {
    const node = journal.computeNodeId;
    const intervals = new Set<string>();
    for (const movement of movements) {
      const interval = JSON.stringify([node, movement.reference, movement.start, movement.stop]);
      if (counted.has(interval)) continue;
      intervals.add(interval);
      const history = allocations.get(JSON.stringify([node, movement.reference])) ?? [];
      for (const piece of splitMovement(movement, history, { computeNodeId: node })) {
        if (piece.owner !== user || piece.period !== period.code) continue;
        const segment = segments.find((s) => piece.start >= s.from && piece.start < s.to);
        if (segment === undefined) continue;
        const key = JSON.stringify([piece.instanceTree, piece.resource, segment.list.effective]);
        const sum = sums.get(key);
        if (sum) sum.quantityMicro += piece.quantityMicro;
        else
          sums.set(key, {
            instanceTree: piece.instanceTree,
            resource: piece.resource,
            effective: segment.list.effective,
            quantityMicro: piece.quantityMicro,
          });
      }
    }
    for (const interval of intervals) counted.add(interval);
  }
  return [...sums.values()];
}

function recompute(
  evidence: InvoiceEvidence,
  journals: readonly ParsedJournal[],
  period: BillingPeriod,
  lists: readonly PriceList[],
): ComputedInvoice | undefined {
  const segments = priceSegments(period, lists);
  const user = evidence.invoice.user;
  const held = evidence.allocation_list
    .filter((a) => a.owner === user)
    .map((a) => ({ instanceTree: a.instance_tree, allocatedAt: a.allocated_at, releasedAt: a.released_at }));
  return computeInvoice({
    period,
    segments,
    charges: chargesOf(evidence, journals, period, segments),
    days: treeDays(period, segments, held),
  });
}

function sameLine(a: InvoiceLine, b: InvoiceLine): boolean {
  return a.quantity === b.quantity && a.unit_price === b.unit_price && a.amount === b.amount;
}

/** Lines by (tree, resource, rank among that tree's lines of the resource: one per price list). */
function keyedLines(lines: readonly InvoiceLine[]): Map<string, InvoiceLine> {
  const keyed = new Map<string, InvoiceLine>();
  const ranks = new Map<string, number>();
  for (const line of lines) {
    const group = JSON.stringify([line.instance_tree, line.resource]);
    const rank = ranks.get(group) ?? 0;
    ranks.set(group, rank + 1);
    keyed.set(JSON.stringify([line.instance_tree, line.resource, rank]), line);
  }
  return keyed;
}

function describe(line: InvoiceLine | null): string {
  return line === null ? 'no line' : `${line.quantity} × ${line.unit_price} = ${line.amount}`;
}

function lineProblems(
  invoice: InvoiceDocument,
  computed: ComputedInvoice | undefined,
): VerificationProblem[] {
  const problems: VerificationProblem[] = [];
  if (computed !== undefined && computed.currency !== invoice.currency)
    problems.push({
      kind: 'currency_differs',
      message: `the invoice is in ${invoice.currency}, the price lists in ${computed.currency}`,
    });
  const invoiced = keyedLines(invoice.lines);
  const expected = keyedLines(computed?.lines ?? []);
  for (const key of new Set([...invoiced.keys(), ...expected.keys()])) {
    const mine = invoiced.get(key) ?? null;
    const theirs = expected.get(key) ?? null;
    if (mine !== null && theirs !== null && sameLine(mine, theirs)) continue;
    const line = (mine ?? theirs) as InvoiceLine;
    problems.push({
      kind: 'line_differs',
      message:
        `${line.instance_tree} / ${line.resource}: the invoice says ${describe(mine)}, ` +
        `the signed journals give ${describe(theirs)}`,
      instance_tree: line.instance_tree,
      resource: line.resource,
      invoiced: mine,
      recomputed: theirs,
    });
  }
  const total = computed?.total ?? '0.00';
  if (total !== invoice.total)
    problems.push({
      kind: 'total_differs',
      message: `the invoice's total is ${invoice.total}, the signed journals give ${total}`,
    });
  return problems;
}

/**
 * Verifies `evidence` against `caCertificatePem` (the CA the user trusts; when undefined, the one
 * the master sent, and the report says so). Never throws on bad evidence: it is a problem reported.
 */
export function verifyInvoiceEvidence(
  evidence: InvoiceEvidence,
  options: {
    caCertificatePem?: string | undefined;
    /** Node certificates (PEM) the user holds: a node named by one must have signed with one (usage-chain.ts). */
    nodeCertificatePems?: readonly string[];
  } = {},
): VerificationReport {
  const caSource: VerificationReport['ca'] = options.caCertificatePem === undefined ? 'master' : 'given';
  const caPem = options.caCertificatePem ?? evidence.ca_certificate;
  const { invoice } = evidence;
  if (invoice.kind !== 'invoice')
    return report(evidence, caSource, [
      {
        kind: 'not_an_invoice',
        message: `${invoice.id} is a credit note: verify the invoice it cancels (${invoice.corrects ?? '?'}) and the one correcting it`,
      },
    ]);
  if (caPem === null)
    return report(evidence, caSource, [
      evidenceProblem('no CA certificate to check the journals with: pass one'),
    ]);
  let ca: X509Certificate;
  let nodeCertificates: X509Certificate[];
  let period: BillingPeriod;
  let lists: PriceList[];
  try {
    ca = new X509Certificate(caPem);
    nodeCertificates = (options.nodeCertificatePems ?? []).map((pem) => new X509Certificate(pem));
    period = parseBillingPeriod(invoice.period);
    lists = readPriceLists(evidence.price_list_list);
  } catch (error) {
    return report(evidence, caSource, [evidenceProblem((error as Error).message)]);
  }

  const problems: VerificationProblem[] = [];
  const journals: ParsedJournal[] = [];
  const nodes = [...new Set(evidence.journal_list.map((j) => j.computer_guid))].sort();
  for (const node of nodes) {
    const chain = checkUsageChain(
      node,
      evidence.journal_list
        .filter((j) => j.computer_guid === node)
        .map((j) => ({ computeNodeId: node, document: j.document })),
      { ca, nodeCertificates },
    );
    const nodeProblems: VerificationProblem[] = chain.problems.map((p) => ({
      kind: p.kind,
      message: p.message,
      computer_guid: p.computeNodeId,
      sequence: p.sequence,
      document_hash: p.documentHash,
    }));
    const parsed = parseTrusted(chain.trusted, nodeProblems);
    problems.push(...nodeProblems, ...anchorProblems(node, parsed, period, nodeProblems));
    journals.push(...parsed);
  }
  const trusted = journals.length;
  let computed: ComputedInvoice | undefined;
  try {
    computed = recompute(evidence, journals, period, lists);
  } catch (error) {
    problems.push(evidenceProblem((error as Error).message));
    return report(evidence, caSource, problems, { trusted });
  }
  problems.push(...lineProblems(invoice, computed));
  return report(evidence, caSource, problems, {
    trusted,
    recomputed: computed ?? { currency: invoice.currency, lines: [], total: '0.00' },
  });
}

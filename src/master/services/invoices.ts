/**
 * Invoices (docs/invoicing.md): one per user and month, computed from the billed usage
 * (`usage_charge`), the instance trees' partition holds (the monthly fee) and the price lists
 * (core/invoice-lines.ts), in one transaction.
 *
 * - Only a month that has ended is invoiced (the master's clock): a month still running would be
 *   billed again and again as usage arrives.
 * - Generating again changes nothing when what a user's invoice bills (its content hash) is the
 *   same. When it differs (late usage, a new allocation history), the current invoice is cancelled
 *   by a credit note (its lines negated, `corrects` = its reference) and a corrected invoice is issued
 *   (`corrects` = the same reference). A user left with nothing to bill gets the credit note only.
 * - References: INV-YYYYMM-NNNNNN and CN-YYYYMM-NNNNNN, numbered per kind and month.
 * - A user reads their own invoices; an admin (and proxy mode's local caller) everyone's; only they
 *   generate invoices and record payments. An invoice someone may not see is answered as not found.
 */
import { parseBillingPeriod, type BillingPeriod } from '../../core/billing-period.ts';
import { SlapError } from '../../core/errors.ts';
import { isUserName, USER_NAME_RULE } from '../../core/user-name.ts';
import {
  computeInvoice,
  creditNoteOf,
  invoiceContentHash,
  priceSegments,
  treeDays,
  type ChargeSum,
  type ComputedInvoice,
  type TreeAllocation,
} from '../../core/invoice-lines.ts';
import type { InvoiceDocument, InvoiceKind, InvoiceState } from '../../core/invoice-types.ts';
import type { InvoiceRecord } from '../storage/invoice-repository.ts';
import type { Repository } from '../storage/repository.ts';
import { audit } from './audit.ts';
import { namespaceOf, type Caller } from './caller.ts';
import { priceListOf, type InvoicingContext } from './price-lists.ts';

const MASTER = { kind: 'master' } as const;
const STATES: ReadonlySet<string> = new Set<InvoiceState>(['issued', 'paid', 'cancelled']);
const PREFIX: Record<InvoiceKind, string> = { invoice: 'INV', credit_note: 'CN' };
/** What references look like: anything else is no invoice (and never reaches a query). */
const REFERENCE = /^(?:INV|CN)-\d{6}-\d{6,}$/;

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** An invoice as the API and the CLI show it. */
export function invoiceDocument(record: InvoiceRecord): InvoiceDocument {
  return {
    id: record.reference,
    kind: record.kind,
    user: record.user,
    period: record.period,
    currency: record.currency,
    lines: record.lines,
    total: record.total,
    state: record.state,
    corrects: record.corrects,
    issued_at: isoTime(record.issuedAt),
    paid_at: record.paidAt === null ? null : isoTime(record.paidAt),
  };
}

/** Whether the caller sees every user's invoices (else only their own). */
function seesAll(caller: Caller): boolean {
  return caller.kind === 'local' || (caller.kind === 'user' && caller.admin);
}

export interface GenerationResult {
  /** YYYY-MM. */
  period: string;
  /** The period's current invoices and the credit notes issued by this run, by user and reference. */
  invoices: InvoiceDocument[];
  /** References issued by this run (invoices and credit notes), those cancelled, those unchanged. */
  issued: string[];
  cancelled: string[];
  unchanged: string[];
}

/** Each user's invoice for the period, from the usage and holds of everyone. */
async function computeInvoices(
  repository: Repository,
  period: BillingPeriod,
): Promise<Map<string, ComputedInvoice | undefined>> {
  const segments = priceSegments(
    period,
    (await repository.listPriceLists()).map((record) => priceListOf(record)),
  );
  const charges = new Map<string, ChargeSum[]>();
  for (const segment of segments)
    for (const row of await repository.sumUsageCharges({
      period: period.code,
      from: segment.from,
      to: segment.to,
    })) {
      const owned = charges.get(row.owner) ?? [];
      owned.push({ ...row, effective: segment.list.effective });
      charges.set(row.owner, owned);
    }
  const holds = new Map<string, TreeAllocation[]>();
  if (segments.length > 0)
    for (const hold of await repository.listTreeAllocations({ from: period.from, to: period.to })) {
      const owned = holds.get(hold.owner) ?? [];
      owned.push(hold);
      holds.set(hold.owner, owned);
    }
  const computed = new Map<string, ComputedInvoice | undefined>();
  for (const user of new Set([...charges.keys(), ...holds.keys()]))
    computed.set(
      user,
      computeInvoice({
        period,
        segments,
        charges: charges.get(user) ?? [],
        days: treeDays(period, segments, holds.get(user) ?? []),
      }),
    );
  return computed;
}

/** Generates (or brings up to date) every user's invoice for a month that has ended. */
export async function generateInvoices(
  context: InvoicingContext,
  input: { caller: Caller; period: string },
): Promise<GenerationResult> {
  const period = parseBillingPeriod(input.period);
  await context.authorize(input.caller, 'invoice.manage', MASTER);
  const now = context.clock.now();
  if (period.to > now)
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `the month ${period.text} has not ended yet (it ends at ${isoTime(period.to)}): only past months are invoiced`,
    );
  // The month's usage is read in a read transaction (one snapshot): summing millions of charges
  // must not hold the write lock that usage reports wait for. The write compares and issues only.
  const computed = await context.store.read((repository) => computeInvoices(repository, period));
  const result = await context.store.write(async (repository) => {
    const current = new Map<string, InvoiceRecord[]>();
    for (const record of await repository.listInvoices({ period: period.text, kind: 'invoice' }))
      if (record.state !== 'cancelled')
        current.set(record.user, [...(current.get(record.user) ?? []), record]);
    // Numbered from the stored count once per kind (the transaction is the only writer).
    const sequences: Record<InvoiceKind, number> = {
      invoice: await repository.nextInvoiceSequence({ kind: 'invoice', period: period.text }),
      credit_note: await repository.nextInvoiceSequence({ kind: 'credit_note', period: period.text }),
    };
    const issue = async (
      user: string,
      kind: InvoiceKind,
      content: ComputedInvoice,
      corrects: string | null,
    ): Promise<InvoiceRecord> => {
      const sequence = sequences[kind]++;
      const record: InvoiceRecord = {
        reference: `${PREFIX[kind]}-${period.code}-${String(sequence).padStart(6, '0')}`,
        kind,
        user,
        period: period.text,
        currency: content.currency,
        lines: content.lines,
        total: content.total,
        contentHash: invoiceContentHash(content),
        state: 'issued',
        corrects,
        issuedAt: now,
        paidAt: null,
        regularisation: null,
      };
      await repository.insertInvoice(record);
      return record;
    };
    const documents: InvoiceRecord[] = [];
    const issued: InvoiceRecord[] = [];
    const cancelled: string[] = [];
    const unchanged: string[] = [];
    const users = [...new Set([...computed.keys(), ...current.keys()])].sort();
    for (const user of users) {
      const content = computed.get(user);
      const hash = content && invoiceContentHash(content);
      const kept = (current.get(user) ?? []).find((record) => record.contentHash === hash);
      if (kept) {
        documents.push(kept);
        unchanged.push(kept.reference);
      }
      let replaced: string | null = null;
      for (const old of current.get(user) ?? []) {
        if (old === kept) continue;
        const credit = await issue(user, 'credit_note', creditNoteOf(old), old.reference);
        await repository.setInvoiceState(old.reference, { state: 'cancelled' });
        documents.push(credit);
        issued.push(credit);
        cancelled.push(old.reference);
        replaced = old.reference;
      }
      if (content && !kept) {
        const invoice = await issue(user, 'invoice', content, replaced);
        documents.push(invoice);
        issued.push(invoice);
      }
    }
    return { documents, issued, cancelled, unchanged };
  });
  for (const record of result.issued)
    audit(context.logger, record.kind === 'invoice' ? 'invoice.issued' : 'invoice.credit_note_issued', {
      invoice: record.reference,
      user: record.user,
      period: record.period,
      total: record.total,
      corrects: record.corrects,
    });
  context.logger.info(
    {
      period: period.text,
      issued: result.issued.length,
      cancelled: result.cancelled.length,
      unchanged: result.unchanged.length,
    },
    'invoices generated',
  );
  return {
    period: period.text,
    invoices: result.documents
      .sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : a.reference < b.reference ? -1 : 1))
      .map(invoiceDocument),
    issued: result.issued.map((record) => record.reference),
    cancelled: result.cancelled,
    unchanged: result.unchanged,
  };
}

export interface InvoiceListInput {
  caller: Caller;
  /** Only this user's (an admin's filter; a user sees only their own whatever they ask). */
  user?: string | undefined;
  /** YYYY-MM. */
  period?: string | undefined;
  state?: string | undefined;
}

/** The invoices and credit notes the caller may see, by period and reference. */
export async function listInvoices(
  context: InvoicingContext,
  input: InvoiceListInput,
): Promise<InvoiceDocument[]> {
  const period = input.period === undefined ? undefined : parseBillingPeriod(input.period).text;
  if (input.state !== undefined && !STATES.has(input.state))
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `unknown invoice state ${shown(input.state)} (known: ${[...STATES].join(', ')})`,
    );
  // '' is proxy mode's namespace.
  if (input.user !== undefined && input.user !== '' && !isUserName(input.user))
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `not a user name: ${shown(input.user)}`, {
      hint: `a user name is ${USER_NAME_RULE}`,
    });
  await context.authorize(input.caller, 'invoice.read', MASTER);
  let user = input.user;
  if (!seesAll(input.caller)) {
    const own = namespaceOf(input.caller);
    if (user !== undefined && user !== own) return [];
    user = own;
  }
  const records = await context.store.read((repository) =>
    repository.listInvoices({ user, period, state: input.state as InvoiceState | undefined }),
  );
  return records.map(invoiceDocument);
}

function invoiceNotFound(reference: string): SlapError {
  return new SlapError('SLAP_ERR_INVOICE_NOT_FOUND', `no invoice ${shown(reference)}`);
}

/** One invoice or credit note, if the caller may see it. */
export async function getInvoice(
  context: InvoicingContext,
  input: { caller: Caller; reference: string },
): Promise<InvoiceDocument> {
  await context.authorize(input.caller, 'invoice.read', MASTER);
  const record = REFERENCE.test(input.reference)
    ? await context.store.read((repository) => repository.getInvoice(input.reference))
    : undefined;
  if (!record || (!seesAll(input.caller) && record.user !== namespaceOf(input.caller)))
    throw invoiceNotFound(input.reference);
  return invoiceDocument(record);
}

/** Records the payment of an issued invoice (admins); paying a paid invoice again changes nothing. */
export async function markInvoicePaid(
  context: InvoicingContext,
  input: { caller: Caller; reference: string },
): Promise<InvoiceDocument> {
  await context.authorize(input.caller, 'invoice.manage', MASTER);
  const now = context.clock.now();
  const { record, changed } = await context.store.write(async (repository) => {
    const found = REFERENCE.test(input.reference) ? await repository.getInvoice(input.reference) : undefined;
    if (!found) throw invoiceNotFound(input.reference);
    if (found.kind !== 'invoice')
      throw new SlapError(
        'SLAP_ERR_CONFLICT',
        `${found.reference} is a credit note: there is nothing to pay`,
      );
    if (found.state === 'cancelled')
      throw new SlapError(
        'SLAP_ERR_CONFLICT',
        `${found.reference} was cancelled by a credit note: pay the invoice that replaced it`,
      );
    if (found.state === 'paid') return { record: found, changed: false };
    await repository.setInvoiceState(found.reference, { state: 'paid', paidAt: now });
    return { record: { ...found, state: 'paid' as const, paidAt: now }, changed: true };
  });
  if (changed)
    audit(context.logger, 'invoice.paid', {
      invoice: record.reference,
      user: record.user,
      total: record.total,
    });
  return invoiceDocument(record);
}

/**
 * What the regularisation policy (services/regularisation.ts) reads and writes: the unpaid
 * invoices and their correction chains (the invoice table is the invoicing engine's; only its
 * `regularisation` column is written here), and the instance trees the policy stopped.
 */
import type { RegularisationStage } from '../../core/regularisation-policy.ts';

export interface UnpaidInvoiceRecord {
  /** INV-YYYYMM-NNNNNN. */
  reference: string;
  user: string;
  /** Float seconds. */
  issuedAt: number;
  /** Decimal text. */
  total: string;
  /** The invoice this one corrects (replaces), if any. */
  corrects: string | null;
  regularisation: RegularisationStage | null;
}

export interface InvoiceIssueRecord {
  reference: string;
  issuedAt: number;
  corrects: string | null;
}

export interface RegularisationStopRecord {
  owner: string;
  instanceTree: string;
  /** The invoice that made the policy stop the tree. */
  invoice: string;
  stoppedAt: number;
}

export interface RegularisationRepository {
  /** Invoices (not credit notes) issued and neither paid nor cancelled, oldest first; `user`'s only if given. */
  listUnpaidInvoices(filter?: { user?: string }): Promise<UnpaidInvoiceRecord[]>;
  /** When an invoice (of any state) was issued and which one it corrects: to walk a correction chain. */
  getInvoiceIssue(reference: string): Promise<InvoiceIssueRecord | undefined>;
  setInvoiceRegularisation(reference: string, regularisation: RegularisationStage): Promise<void>;
  /** The trees the policy stopped, by owner then tree; `owner`'s only if given. */
  listRegularisationStops(filter?: { owner?: string }): Promise<RegularisationStopRecord[]>;
  /** Records a tree the policy stopped (a tree already recorded keeps its first record). */
  insertRegularisationStop(stop: RegularisationStopRecord): Promise<void>;
  deleteRegularisationStop(owner: string, instanceTree: string): Promise<void>;
}

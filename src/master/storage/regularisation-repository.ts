/**
 * The instance trees the regularisation policy (services/regularisation.ts) stopped (migration
 * 0015), so that paying restarts those and only those. The invoices it reads and marks are the
 * InvoiceRepository's (invoice-repository.ts).
 */

export interface RegularisationStopRecord {
  owner: string;
  instanceTree: string;
  /** The invoice that made the policy stop the tree. */
  invoice: string;
  stoppedAt: number;
}

export interface RegularisationRepository {
  /** The trees the policy stopped, by owner then tree; `owner`'s only if given. */
  listRegularisationStops(filter?: { owner?: string }): Promise<RegularisationStopRecord[]>;
  /** Records a tree the policy stopped (a tree already recorded keeps its first record). */
  insertRegularisationStop(stop: RegularisationStopRecord): Promise<void>;
  deleteRegularisationStop(owner: string, instanceTree: string): Promise<void>;
}

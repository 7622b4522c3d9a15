/**
 * The regularisation policy's settings (docs/invoicing.md): how many days after its issue an unpaid
 * invoice stops, then destroys, its user's instance trees. Pure: read by the CLI's configuration
 * and by the master's policy (master/services/regularisation.ts).
 */
import { SlapError } from './errors.ts';

export const SECONDS_PER_DAY = 86_400;

export interface RegularisationPolicy {
  /** Days after an invoice is issued: unpaid by then, its user's instance trees are stopped. */
  stopAfterDays: number;
  /** Days after an invoice is issued: unpaid by then, its user's instance trees are destroyed. */
  destroyAfterDays: number;
}

/** What the policy records on an invoice: it stopped, then destroyed, its user's instance trees. */
export type RegularisationStage = 'stopped' | 'destroyed';

function isDays(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1;
}

/**
 * The policy from the master's settings (`regularisation_stop_after_days`,
 * `regularisation_destroy_after_days`): undefined (off) when neither is set; both whole days,
 * destroying after stopping.
 */
export function regularisationPolicy(settings: {
  stopAfterDays: number | undefined;
  destroyAfterDays: number | undefined;
}): RegularisationPolicy | undefined {
  const { stopAfterDays, destroyAfterDays } = settings;
  if (stopAfterDays === undefined && destroyAfterDays === undefined) return undefined;
  if (stopAfterDays === undefined || destroyAfterDays === undefined)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      'the regularisation policy needs both regularisation_stop_after_days and regularisation_destroy_after_days',
      { hint: 'set both (the policy is off when neither is set)' },
    );
  if (!isDays(stopAfterDays) || !isDays(destroyAfterDays))
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      'regularisation_stop_after_days and regularisation_destroy_after_days are whole numbers of days, at least 1',
    );
  if (destroyAfterDays <= stopAfterDays)
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      `regularisation_destroy_after_days (${destroyAfterDays}) must be more than regularisation_stop_after_days (${stopAfterDays})`,
    );
  return { stopAfterDays, destroyAfterDays };
}

/** Where an invoice unpaid `age` seconds after it fell due stands; undefined: not late enough. */
export function regularisationStage(
  policy: RegularisationPolicy,
  age: number,
): RegularisationStage | undefined {
  if (age >= policy.destroyAfterDays * SECONDS_PER_DAY) return 'destroyed';
  if (age >= policy.stopAfterDays * SECONDS_PER_DAY) return 'stopped';
  return undefined;
}

/**
 * Billing periods: UTC months, `YYYY-MM` in the API and the CLI, `YYYYMM` (an integer) in
 * `usage_charge.period`; a period is [from, to) in float seconds since the epoch.
 */
import { SlapError } from './errors.ts';

export interface BillingPeriod {
  /** YYYY-MM. */
  text: string;
  /** YYYYMM. */
  code: number;
  /** First second of the month and of the next one (UTC). */
  from: number;
  to: number;
  /** Days in the month. */
  days: number;
}

export const SECONDS_PER_DAY = 86_400;
const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

function periodOf(year: number, month: number): BillingPeriod {
  const from = Date.UTC(year, month - 1, 1) / 1000;
  const to = Date.UTC(year, month, 1) / 1000;
  return {
    text: `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`,
    code: year * 100 + month,
    from,
    to,
    days: Math.round((to - from) / SECONDS_PER_DAY),
  };
}

/** `2026-01` → the period; SLAP_ERR_INVALID_INPUT on anything else. */
export function parseBillingPeriod(text: string): BillingPeriod {
  const match = PERIOD.exec(text);
  if (!match || Number(match[1]) < 1970)
    throw new SlapError(
      'SLAP_ERR_INVALID_INPUT',
      `not a billing period: ${JSON.stringify(text.slice(0, 40))} (expected YYYY-MM, e.g. 2026-01)`,
    );
  return periodOf(Number(match[1]), Number(match[2]));
}

/** The period a time (float seconds, UTC) lies in. */
export function billingPeriodAt(seconds: number): BillingPeriod {
  const date = new Date(seconds * 1000);
  return periodOf(date.getUTCFullYear(), date.getUTCMonth() + 1);
}

/** The period after `period`. */
export function nextBillingPeriod(period: BillingPeriod): BillingPeriod {
  return billingPeriodAt(period.to);
}

/** The first second of a UTC day written YYYY-MM-DD (already validated). */
export function dayStart(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10))) / 1000;
}

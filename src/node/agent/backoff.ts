/** Exponential backoff with a cap and jitter, for the agent's retries and reconnections. */

export interface BackoffOptions {
  /** Delay before the first retry (ms). */
  initialMs: number;
  /** Longest delay (ms). */
  maxMs: number;
  /** Growth per failure (default 2). */
  factor?: number;
  /** Each delay is spread by ± this fraction (default 0.2), so that many items do not retry together. */
  jitter?: number;
}

/** The delay before retry number `attempt` (1 for the first retry). `random` returns [0, 1). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const factor = options.factor ?? 2;
  const jitter = Math.min(Math.max(options.jitter ?? 0.2, 0), 1);
  const exponent = Math.max(0, Math.min(attempt - 1, 60));
  const base = Math.min(options.maxMs, options.initialMs * factor ** exponent);
  const spread = base * (1 - jitter + 2 * jitter * random());
  return Math.round(Math.min(options.maxMs, Math.max(0, spread)));
}

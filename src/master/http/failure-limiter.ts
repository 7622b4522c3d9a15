/**
 * Slows down the repeated failed authentications of one address: after `threshold` failures, each
 * within `windowMs` of the one before, every further failure is answered only after a delay that
 * doubles from `baseDelayMs` up to `maxDelayMs`. Only failures wait (a client that authenticates is
 * never slowed, even from a busy address), and the wait is a timer: other clients are served meanwhile.
 * At most `maxAddresses` addresses are remembered (the least recently failing one is forgotten first).
 */
export interface FailureLimiterOptions {
  threshold?: number;
  windowMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxAddresses?: number;
  /** Milliseconds clock (default Date.now). */
  now?: () => number;
}

interface Failures {
  count: number;
  lastAt: number;
}

export class FailureLimiter {
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  /** In order of last failure, oldest first. */
  readonly #failures = new Map<string, Failures>();

  constructor(options: FailureLimiterOptions = {}) {
    this.#threshold = options.threshold ?? 5;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 8_000;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Records a failed authentication from `address`; returns how long to wait before answering it (ms). */
  fail(address: string): number {
    const now = this.#now();
    const previous = this.#failures.get(address);
    const count = previous && now - previous.lastAt <= this.#windowMs ? previous.count + 1 : 1;
    this.#failures.delete(address);
    this.#failures.set(address, { count, lastAt: now });
    this.#forgetOld(now);
    const excess = count - this.#threshold;
    if (excess <= 0) return 0;
    return Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(excess - 1, 30));
  }

  /** How many addresses are remembered. */
  get size(): number {
    return this.#failures.size;
  }

  #forgetOld(now: number): void {
    for (const [address, failures] of this.#failures) {
      if (this.#failures.size <= this.#maxAddresses && now - failures.lastAt <= this.#windowMs) break;
      this.#failures.delete(address);
    }
  }
}

/**
 * Slows down the repeated failed authentications of one address: after `threshold` failures, each
 * within `windowMs` of the one before, every further failure is answered only after a delay that
 * doubles from `baseDelayMs` up to `maxDelayMs`. Only failures wait (a client that authenticates is
 * never slowed, even from a busy address), and the wait is a timer: other clients are served meanwhile.
 * At most `maxAddresses` addresses are remembered (the least recently failing one is forgotten first).
 * An IPv6 client counts by its /64 network (one host commonly holds a whole /64: counting each of its
 * addresses apart would let it fail without end), an IPv4-mapped IPv6 address as its IPv4 address.
 */
import { isIP } from 'node:net';

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
    return this.#failed(failureSource(address));
  }

  #failed(address: string): number {
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

/** What failures are counted by: an IPv4 address, or the /64 network of an IPv6 one. */
export function failureSource(address: string): string {
  const bare = address.replace(/%.*$/, '');
  if (isIP(bare) !== 6) return address;
  const groups = ipv6Groups(bare);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff)
    return [groups[6] ?? 0, groups[7] ?? 0].flatMap((group) => [group >> 8, group & 0xff]).join('.');
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted IPv4 converted). */
function ipv6Groups(address: string): number[] {
  const toGroups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((piece) => {
          if (!piece.includes('.')) return [Number.parseInt(piece, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const before = toGroups(head);
  const after = tail === undefined ? [] : toGroups(tail);
  return [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
}

/**
 * A counting semaphore: at most `size` slots held at once, waiters served first come, first served.
 * A slot is released once: `release()` again does nothing, so that work may give its slot back
 * early (a partition whose services are started, now only waiting for its promises) while its
 * caller still releases it in a `finally`.
 */
import { SlapError } from '../core/errors.ts';

export interface Slot {
  /** Gives the slot back (idempotent). */
  release(): void;
}

interface Waiter {
  grant: (slot: Slot) => void;
  onAbort: () => void;
}

export class Slots {
  private held = 0;
  private readonly waiters: Waiter[] = [];

  /** `onFree`: called when a slot becomes free with nobody waiting for it. */
  constructor(
    readonly size: number,
    private readonly onFree?: () => void,
  ) {
    if (!Number.isInteger(size) || size < 1)
      throw new SlapError('SLAP_ERR_INVALID_INPUT', `slots: size must be an integer ≥ 1, not ${size}`);
  }

  /** Slots nobody holds. */
  get free(): number {
    return this.size - this.held;
  }

  /** A slot now, or undefined when all are held. */
  tryAcquire(): Slot | undefined {
    if (this.held >= this.size) return undefined;
    this.held++;
    return this.slot();
  }

  /** A slot, once one is free; rejects with the signal's reason if it aborts first. */
  acquire(signal?: AbortSignal): Promise<Slot> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const slot = this.tryAcquire();
    if (slot) return Promise.resolve(slot);
    return new Promise<Slot>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (granted) => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve(granted);
        },
        onAbort: () => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          reject(signal?.reason as Error);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private slot(): Slot {
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const next = this.waiters.shift();
        if (next) {
          // Handed over as it is: the count does not change.
          next.grant(this.slot());
          return;
        }
        this.held--;
        this.onFree?.();
      },
    };
  }
}

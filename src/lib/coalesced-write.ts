/**
 * Saves a state that keeps changing with as few writes as possible: `save()` resolves once a write
 * that began after the call has finished, so that what it wrote includes the state as of the call;
 * the calls made while a write runs share the next one. `write` must take its snapshot of the
 * state synchronously, when it is called. A failed write rejects the calls it served.
 */
const ignore = (): void => undefined;

export class CoalescedWrite {
  private current: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly write: () => Promise<void>) {}

  save(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.current) return this.begin();
    const queued = this.current.then(ignore, ignore).then(() => {
      this.queued = undefined;
      return this.begin();
    });
    this.queued = queued;
    return queued;
  }

  /** Resolves once no write runs nor waits (whatever their outcome). */
  async settled(): Promise<void> {
    for (let pending = this.queued ?? this.current; pending; pending = this.queued ?? this.current)
      await pending.catch(ignore);
  }

  private begin(): Promise<void> {
    let run: Promise<void>;
    try {
      run = this.write();
    } catch (error) {
      run = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    this.current = run;
    void run.then(ignore, ignore).then(() => {
      if (this.current === run) this.current = undefined;
    });
    return run;
  }
}

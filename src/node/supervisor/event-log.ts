/**
 * The supervisor's events: numbered, kept in a bounded buffer for long-polling clients (the node
 * agent over the socket) and pushed to in-process subscribers.
 */
import { randomUUID } from 'node:crypto';
import type { EventBatch, SupervisorEvent, SupervisorEventInput, WaitEventsOptions } from './types.ts';

const MAX_BATCH = 500;
export const MAX_WAIT_MS = 60_000;

export class EventLog {
  /** Identifies this run of the daemon: sequence numbers start again at 1 with a new stream. */
  readonly stream = randomUUID();
  private readonly buffer: SupervisorEvent[] = [];
  private seq = 0;
  private readonly wakers = new Set<() => void>();
  private readonly listeners = new Set<(event: SupervisorEvent) => void>();
  private closed = false;

  constructor(
    private readonly capacity: number,
    private readonly clock: () => number,
  ) {}

  push(input: SupervisorEventInput): SupervisorEvent {
    this.seq += 1;
    const event = { ...input, seq: this.seq, time: this.clock() };
    this.buffer.push(event);
    if (this.buffer.length > this.capacity) this.buffer.shift();
    for (const listener of [...this.listeners]) listener(event);
    for (const wake of [...this.wakers]) wake();
    return event;
  }

  subscribe(listener: (event: SupervisorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `after`; waits up to `timeoutMs` (capped at a minute) when there is none yet. */
  async wait(after: number, options: WaitEventsOptions = {}): Promise<EventBatch> {
    const batch = this.batch(after);
    if (batch.events.length > 0 || batch.gap || this.closed) return batch;
    const timeoutMs = Math.min(Math.max(options.timeoutMs ?? 0, 0), MAX_WAIT_MS);
    if (timeoutMs === 0 || options.signal?.aborted) return batch;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(done);
        options.signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.wakers.add(done);
      options.signal?.addEventListener('abort', done, { once: true });
    });
    return this.batch(after);
  }

  /** Wakes every waiting client (the daemon is closing). */
  close(): void {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
  }

  private batch(after: number): EventBatch {
    // A cursor from the future belongs to an earlier run of the daemon: start from the beginning.
    const from = after > this.seq ? 0 : Math.max(0, after);
    const events = this.buffer.filter((event) => event.seq > from).slice(0, MAX_BATCH);
    const first = events[0];
    const gap = after > this.seq || (first !== undefined && first.seq > from + 1);
    return { stream: this.stream, events, last: events.at(-1)?.seq ?? from, gap };
  }
}

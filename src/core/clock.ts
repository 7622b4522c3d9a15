/**
 * Time as SlapOS keeps it: float seconds since the epoch (Python's `time.time()`). Partition
 * timestamps are the "something changed" signal nodes compare; the JSON API shows them truncated to
 * whole seconds (`processing_timestamp`).
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Seconds since the epoch, with sub-second precision. */
  now(): number;
}

/** The real clock, with microsecond resolution like Python's time.time(). */
export const systemClock: Clock = {
  now: () => Math.round((performance.timeOrigin + performance.now()) * 1000) / 1e6,
};

/** A clock that stays where it is set: for tests. */
export function fixedClock(
  start: number,
): Clock & { set(seconds: number): void; advance(seconds: number): void } {
  let current = start;
  return {
    now: () => current,
    set(seconds) {
      current = seconds;
    },
    advance(seconds) {
      current += seconds;
    },
  };
}

/** The JSON API's `processing_timestamp`: Python's `int(timestamp or 0)`. */
export function processingTimestamp(timestamp: number | null | undefined): number {
  return timestamp ? Math.trunc(timestamp) : 0;
}

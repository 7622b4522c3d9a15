/**
 * The stores' one hook for timing their transactions (`slapos_master_store_transaction_seconds`):
 * from the call to its settling, waiting for the write queue and retries included, since that is
 * what a request waits.
 */
import { performance } from 'node:perf_hooks';
import type { TransactionMode } from './repository.ts';

/** Told the duration of every transaction, in seconds. */
export type TransactionObserver = (mode: TransactionMode, seconds: number) => void;

/** `run()`, timed for `observer` when there is one. */
export function observeTransaction<T>(
  observer: TransactionObserver | undefined,
  mode: TransactionMode,
  run: () => Promise<T>,
): Promise<T> {
  if (observer === undefined) return run();
  const started = performance.now();
  const settled = (): void => observer(mode, (performance.now() - started) / 1000);
  const running = run();
  running.then(settled, settled);
  return running;
}

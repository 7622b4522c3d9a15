/**
 * Memoized read results for a store's `memoizedRead`: a result is kept with the data version it was
 * read at and served while the store's version is unchanged. Callers that miss at the same version
 * share one read: after a write, the nodes polling the same key do not each rebuild (and their
 * transports each re-encode) the same value. The store says what a version is (memo-versions.ts:
 * per compute node for a node's reads).
 */
import { isDeepStrictEqual } from 'node:util';

/** What a read gives back: the value, the version it was read at, and whether it may be kept. */
export interface VersionedRead<T> {
  value: T;
  version: string;
  /** False when the value may include writes not committed yet. */
  cacheable: boolean;
}

/** How memoized reads were answered since the memo was made. */
export interface ReadMemoStatistics {
  /** From a kept result. */
  hits: number;
  /** By joining a read of the same key under way. */
  shared: number;
  /** By reading the database. */
  loads: number;
}

export class ReadMemo {
  private readonly entries = new Map<string, { version: string; value: unknown }>();
  /** The reads under way, by key, with the version they were asked at. */
  private readonly pending = new Map<string, { version: string; promise: Promise<unknown> }>();
  private readonly counts: ReadMemoStatistics = { hits: 0, shared: 0, loads: 0 };

  /** @param limit how many results are kept (the oldest is dropped first). */
  constructor(private readonly limit = 1024) {}

  /**
   * The result kept for `key` at `currentVersion`, or the one `load` gives. With `keepEqual`, a
   * loaded result deeply equal to the one kept before is answered with that earlier object, so that
   * what callers derived from it (its encodings) stays valid.
   */
  read<T>(
    key: string,
    currentVersion: string,
    load: () => Promise<VersionedRead<T>>,
    options: { keepEqual?: boolean | undefined } = {},
  ): Promise<T> {
    const cached = this.entries.get(key);
    if (cached && cached.version === currentVersion) {
      this.counts.hits++;
      return Promise.resolve(cached.value as T);
    }
    const pending = this.pending.get(key);
    if (pending && pending.version === currentVersion) {
      this.counts.shared++;
      return pending.promise as Promise<T>;
    }
    this.counts.loads++;
    const promise = load().then(({ value, version, cacheable }) => {
      const kept = this.entries.get(key);
      const answer =
        options.keepEqual && kept && isDeepStrictEqual(kept.value, value) ? (kept.value as T) : value;
      if (cacheable) {
        this.entries.delete(key);
        this.entries.set(key, { version, value: answer });
        if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
      }
      return answer;
    });
    this.pending.set(key, { version: currentVersion, promise });
    const settled = (): void => {
      if (this.pending.get(key)?.promise === promise) this.pending.delete(key);
    };
    promise.then(settled, settled);
    return promise;
  }

  statistics(): ReadMemoStatistics {
    return { ...this.counts };
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * Memoized read results for a store's `memoizedRead`: a result is kept with the data version it was
 * read at and served while the store's version is unchanged. Callers that miss at the same version
 * share one read: after a write, the nodes polling the same key do not each rebuild (and their
 * transports each re-encode) the same value. The store says what a version is; a version never
 * comes back once the store has moved past it, so the results of older versions are dropped as soon
 * as a read sees a new one: a busy master (a write every few milliseconds, thousands of nodes each
 * reading its own key) keeps only what it can still serve, instead of `limit` dead results.
 */

/** What a read gives back: the value, the version it was read at, and whether it may be kept. */
export interface VersionedRead<T> {
  value: T;
  version: string;
  /** False when the value may include writes not committed yet. */
  cacheable: boolean;
}

export class ReadMemo {
  private readonly entries = new Map<string, { version: string; value: unknown }>();
  /** The reads under way, by key, with the version they were asked at. */
  private readonly pending = new Map<string, { version: string; promise: Promise<unknown> }>();
  /** The version of the last read asked: every entry is of it. */
  private latest: string | undefined;

  /** @param limit how many results are kept (the oldest is dropped first). */
  constructor(private readonly limit = 1024) {}

  /** How many results are kept. */
  get size(): number {
    return this.entries.size;
  }

  read<T>(key: string, currentVersion: string, load: () => Promise<VersionedRead<T>>): Promise<T> {
    if (currentVersion !== this.latest) {
      this.entries.clear();
      this.latest = currentVersion;
    }
    const cached = this.entries.get(key);
    if (cached && cached.version === currentVersion) return Promise.resolve(cached.value as T);
    const pending = this.pending.get(key);
    if (pending && pending.version === currentVersion) return pending.promise as Promise<T>;
    const promise = load().then(({ value, version, cacheable }) => {
      // A result of another version than the latest asked could never be served.
      if (cacheable && version === this.latest) {
        this.entries.delete(key);
        this.entries.set(key, { version, value });
        if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
      }
      return value;
    });
    this.pending.set(key, { version: currentVersion, promise });
    const settled = (): void => {
      if (this.pending.get(key)?.promise === promise) this.pending.delete(key);
    };
    promise.then(settled, settled);
    return promise;
  }

  clear(): void {
    this.entries.clear();
  }
}

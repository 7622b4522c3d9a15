/**
 * Memoized read results for a store's `memoizedRead`: a result is kept with the data version it was
 * read at and served while the store's version is unchanged. Callers that miss at the same version
 * share one read: after a write, the nodes polling the same key do not each rebuild (and their
 * transports each re-encode) the same value. The store says what a version is, per scope (a compute
 * node's reads have their node's version, memo-versions.ts); a scope's version never comes back once
 * the store has moved past it, so a scope's results of older versions are dropped as soon as a read
 * sees its new one: a busy master keeps only what it can still serve, instead of `limit` dead results.
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

export interface ReadMemoOptions {
  /** The scope whose version `currentVersion` is (default: one scope for every key). */
  scope?: string | undefined;
  /**
   * A loaded result deeply equal to the one kept before for the key is answered with that earlier
   * object, so that what callers derived from it (its encodings) stays valid.
   */
  keepEqual?: boolean | undefined;
}

export class ReadMemo {
  private readonly entries = new Map<string, { scope: string; version: string; value: unknown }>();
  /** Each scope's version of the last read asked, and the keys it holds (all of that version). */
  private readonly scopes = new Map<string, { latest: string; keys: Set<string> }>();
  /** The reads under way, by key, with the version they were asked at. */
  private readonly pending = new Map<string, { version: string; promise: Promise<unknown> }>();
  private readonly counts: ReadMemoStatistics = { hits: 0, shared: 0, loads: 0 };

  /** @param limit how many results are kept (the oldest is dropped first). */
  constructor(private readonly limit = 1024) {}

  /** How many results are kept. */
  get size(): number {
    return this.entries.size;
  }

  read<T>(
    key: string,
    currentVersion: string,
    load: () => Promise<VersionedRead<T>>,
    options: ReadMemoOptions = {},
  ): Promise<T> {
    const scopeName = options.scope ?? '';
    // Taken before a new version drops it: a result read again may be equal to it (keepEqual).
    const previous = options.keepEqual ? this.entries.get(key)?.value : undefined;
    const scope = this.enter(scopeName, currentVersion);
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
      const answer = previous !== undefined && isDeepStrictEqual(previous, value) ? (previous as T) : value;
      // A result of another version than the latest asked of its scope could never be served.
      if (cacheable && version === this.scopes.get(scopeName)?.latest) {
        this.drop(key);
        this.entries.set(key, { scope: scopeName, version, value: answer });
        (this.scopes.get(scopeName) ?? scope).keys.add(key);
        if (this.entries.size > this.limit) this.drop(this.entries.keys().next().value as string);
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
    this.scopes.clear();
  }

  /** The scope, its older results dropped when `version` is new to it. */
  private enter(name: string, version: string): { latest: string; keys: Set<string> } {
    let scope = this.scopes.get(name);
    if (scope?.latest === version) return scope;
    if (scope) for (const key of scope.keys) this.entries.delete(key);
    scope = { latest: version, keys: new Set() };
    this.scopes.set(name, scope);
    return scope;
  }

  private drop(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.scopes.get(entry.scope)?.keys.delete(key);
  }
}

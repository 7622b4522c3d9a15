/**
 * The results store: the latest result of each promise of a partition, as the original writes it
 * (`<partition>/.slapgrid/promise/result/<title>.status.json`, read by monitoring tools), plus a
 * per-promise cache (`.slapgrid/promise/cache/<title>`) holding when it may run next and its recent
 * outcomes (to tell an anomaly — several failures in a row — from one failed run).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

export const PROMISE_STATE_DIR = join('.slapgrid', 'promise');

/** The original's result file. */
export interface PromiseResultFile {
  readonly title: string;
  readonly name: string;
  readonly path: string;
  /** Seconds. */
  readonly 'execution-time': number;
  readonly result: {
    readonly type: 'Test Result' | 'Anomaly Result';
    readonly failed: boolean;
    /** `YYYY-MM-DDTHH:MM:SS+0000` (UTC). */
    readonly date: string;
    readonly message: string | null;
  };
}

export interface PromiseRun {
  readonly failed: boolean;
  readonly timed_out: boolean;
  /** Epoch seconds. */
  readonly date: number;
}

/** The original's cache keys, plus `history` (ours). */
export interface PromiseCache {
  readonly is_tested: boolean;
  readonly is_anomaly_detected: boolean;
  /** Minutes, as the original. */
  readonly periodicity: number;
  /** Epoch seconds. */
  readonly next_run_after: number;
  readonly timestamp: number;
  readonly module_file: string;
  readonly module_file_mtime: number;
  /** Latest runs, oldest first. */
  readonly history: readonly PromiseRun[];
}

export const HISTORY_LENGTH = 10;

export class PromiseStore {
  readonly resultDir: string;
  readonly cacheDir: string;

  constructor(partitionDir: string) {
    this.resultDir = join(partitionDir, PROMISE_STATE_DIR, 'result');
    this.cacheDir = join(partitionDir, PROMISE_STATE_DIR, 'cache');
  }

  resultPath(title: string): string {
    return join(this.resultDir, `${title}.status.json`);
  }

  /** The stored result; undefined when missing or not shaped like one. */
  async readResult(title: string): Promise<PromiseResultFile | undefined> {
    const stored = await readJson<Partial<PromiseResultFile> | null>(this.resultPath(title));
    const result = stored?.result as Partial<PromiseResultFile['result']> | null | undefined;
    if (typeof result !== 'object' || result === null) return undefined;
    if (typeof result.failed !== 'boolean' || typeof result.date !== 'string') return undefined;
    if (result.message !== null && typeof result.message !== 'string') return undefined;
    return stored as PromiseResultFile;
  }

  async writeResult(result: PromiseResultFile): Promise<void> {
    // The next run of the promise writes it again: not worth waiting for the disk.
    await writeFileAtomic(this.resultPath(result.title), JSON.stringify(result), {
      mode: 0o644,
      durable: false,
    });
  }

  async readCache(title: string): Promise<PromiseCache | undefined> {
    const cache = await readJson<PromiseCache>(join(this.cacheDir, title));
    return cache && Array.isArray(cache.history) ? cache : undefined;
  }

  async writeCache(title: string, cache: PromiseCache): Promise<void> {
    await writeFileAtomic(join(this.cacheDir, title), JSON.stringify(cache), { mode: 0o644, durable: false });
  }
}

/** `2026-01-02T03:04:05+0000`, as the original dates results. */
export function resultDate(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19)}+0000`;
}

/** Epoch ms of a result date (`2026-01-02T03:04:05+0000`), or undefined when it is not one. */
export function parseResultDate(date: string): number | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\+0000$/.exec(date);
  if (!match) return undefined;
  const epochMs = Date.parse(`${match[1]}Z`);
  return Number.isNaN(epochMs) ? undefined : epochMs;
}

/** A missing or unreadable file reads as nothing: the promise then simply runs. */
async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

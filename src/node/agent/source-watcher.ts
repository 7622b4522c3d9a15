/**
 * Watches the sources of local software releases (local-sources.ts) for the agent's
 * `watch_local_software`: `fs.watch` on the directories holding them (debounced: an editor saves in
 * several steps), and a periodic scan as a fallback (file systems without notifications, missed
 * events, a directory created later). When the content of a source changes, `onChange(url, file)`
 * is called once; the changed state becomes the new baseline, so the next edit is seen again even
 * if the rebuild it causes fails. A successful rebuild records new sources: `watch()` again.
 */
import { watch as watchDirectory, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { changedSource, describeSource, readSources, type SourceFile } from '../software/local-sources.ts';

export interface SourceWatcherOptions {
  onChange: (url: string, file: string) => void;
  logger: Logger;
  /** Quiet time after a file system event before the sources are compared (default 200 ms). */
  debounceMs?: number;
  /** Period of the fallback scan (default 5 s). */
  scanIntervalMs?: number;
}

interface Watched {
  sources: SourceFile[];
  directories: Set<string>;
  checking: boolean;
  /** An event arrived during a check: check again after it. */
  again: boolean;
}

export class SourceWatcher {
  private readonly watched = new Map<string, Watched>();
  private readonly directories = new Map<string, { watcher: FSWatcher | undefined; urls: Set<string> }>();
  private readonly debounce = new Map<string, NodeJS.Timeout>();
  private readonly scanTimer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: SourceWatcherOptions) {
    this.scanTimer = setInterval(() => {
      for (const url of this.watched.keys()) this.check(url);
    }, options.scanIntervalMs ?? 5000);
    this.scanTimer.unref();
  }

  /** The software releases watched now. */
  get urls(): string[] {
    return [...this.watched.keys()];
  }

  /**
   * Watches the sources recorded in the software directory of `url` (replacing what was watched
   * for it). Resolves false when nothing is recorded there (not a local release, or built by a
   * version that did not record them).
   */
  async watch(url: string, softwareDirectory: string): Promise<boolean> {
    const sources = await readSources(softwareDirectory);
    if (this.closed) return false;
    this.unwatch(url);
    if (sources === undefined) return false;
    if (sources.length === 0) return true;
    const entry: Watched = { sources, directories: new Set(), checking: false, again: false };
    this.watched.set(url, entry);
    for (const source of sources) {
      const directory = dirname(source.path);
      entry.directories.add(directory);
      this.watchDirectory(directory, url);
    }
    this.options.logger.debug({ software: url, files: sources.length }, 'watching the local sources');
    // A change made while it was (re)built is seen now.
    this.check(url);
    return true;
  }

  unwatch(url: string): void {
    const entry = this.watched.get(url);
    if (!entry) return;
    this.watched.delete(url);
    clearTimeout(this.debounce.get(url));
    this.debounce.delete(url);
    for (const directory of entry.directories) {
      const watching = this.directories.get(directory);
      if (!watching) continue;
      watching.urls.delete(url);
      if (watching.urls.size === 0) {
        watching.watcher?.close();
        this.directories.delete(directory);
      }
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.scanTimer);
    for (const url of [...this.watched.keys()]) this.unwatch(url);
  }

  private watchDirectory(directory: string, url: string): void {
    let watching = this.directories.get(directory);
    if (!watching) {
      let watcher: FSWatcher | undefined;
      try {
        watcher = watchDirectory(directory, { persistent: false }, () => this.directoryChanged(directory));
        watcher.on('error', () => {
          // The directory went away (or cannot be watched): the periodic scan carries on.
          watcher?.close();
          const current = this.directories.get(directory);
          if (current) current.watcher = undefined;
        });
      } catch {
        // Missing directory, no inotify watches left…: the periodic scan covers it.
      }
      watching = { watcher, urls: new Set() };
      this.directories.set(directory, watching);
    }
    watching.urls.add(url);
  }

  private directoryChanged(directory: string): void {
    for (const url of this.directories.get(directory)?.urls ?? []) {
      clearTimeout(this.debounce.get(url));
      const timer = setTimeout(() => {
        this.debounce.delete(url);
        this.check(url);
      }, this.options.debounceMs ?? 200);
      timer.unref();
      this.debounce.set(url, timer);
    }
  }

  private check(url: string): void {
    const entry = this.watched.get(url);
    if (!entry) return;
    if (entry.checking) {
      entry.again = true;
      return;
    }
    entry.checking = true;
    void (async () => {
      try {
        do {
          entry.again = false;
          const file = await changedSource(entry.sources);
          if (file === undefined || this.watched.get(url) !== entry) continue;
          // The new state is the baseline: the next edit is a new change.
          entry.sources = await Promise.all(entry.sources.map((source) => describeSource(source.path)));
          this.options.logger.info({ software: url, file }, 'a local source of a software release changed');
          this.options.onChange(url, file);
        } while (entry.again && this.watched.get(url) === entry);
      } catch (error) {
        this.options.logger.warn({ err: error, software: url }, 'cannot check the local sources');
      } finally {
        entry.checking = false;
      }
    })();
  }
}

/**
 * Buildout progress as text lines, in buildout's words ("Installing x.", "x| build output"): what a
 * node pass writes to a build or partition log, keeps as the tail reported to the master when a run
 * fails, and what the CLI prints.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BuildoutEvent } from '../buildout/progress.ts';

const PART_WORDS: Partial<Record<string, string>> = {
  installing: 'Installing',
  updating: 'Updating',
  uninstalling: 'Uninstalling',
  failed: 'Failed',
};

/** One line for an event, or undefined for events not worth a line (download progress, part ends). */
export function describeBuildoutEvent(event: BuildoutEvent): string | undefined {
  switch (event.type) {
    case 'part': {
      const word = PART_WORDS[event.action];
      if (word === undefined) return undefined;
      const why = event.reason && event.reason !== 'removed' ? ` (${event.reason})` : '';
      return `${word} ${event.part}.${why}`;
    }
    case 'profile':
      return `Fetching profile ${event.url}`;
    case 'download':
      return event.done ? `Downloaded ${event.url} (${event.received} bytes)` : undefined;
    case 'step':
      return `${event.part}: ${event.step}`;
    case 'output':
      return `${event.part}| ${event.line}`;
    case 'warning':
      return `Warning: ${event.part ? `${event.part}: ` : ''}${event.message}`;
  }
}

/** The last `max` lines written. */
export class LineTail {
  private readonly lines: string[] = [];

  constructor(private readonly max = 50) {}

  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** Bytes over which a log is moved to `<log>.1` before a new run appends to it (the original's 20 MiB). */
export const LOG_ROTATE_BYTES = 20 * 1024 * 1024;

/**
 * A log file of one run (a software build, a partition's processing): timestamped lines appended,
 * the previous content kept in `<path>.1` once over `rotateBytes`, plus the tail kept in memory.
 */
export class RunLog {
  readonly tail: LineTail;
  private stream: WriteStream | undefined;

  private constructor(
    readonly path: string,
    tailLines: number,
    private readonly now: () => number,
  ) {
    this.tail = new LineTail(tailLines);
  }

  static async open(
    path: string,
    options: { tailLines?: number; now?: () => number; rotateBytes?: number; truncate?: boolean } = {},
  ): Promise<RunLog> {
    const log = new RunLog(path, options.tailLines ?? 50, options.now ?? Date.now);
    await mkdir(dirname(path), { recursive: true });
    const size = (await stat(path).catch(() => undefined))?.size ?? 0;
    if (size >= (options.rotateBytes ?? LOG_ROTATE_BYTES)) await rename(path, `${path}.1`);
    log.stream = createWriteStream(path, { flags: options.truncate ? 'w' : 'a', mode: 0o640 });
    log.stream.on('error', () => undefined);
    return log;
  }

  /** Writes a line to the file and to the tail. */
  line(text: string): void {
    this.tail.push(text);
    this.stream?.write(`[${new Date(this.now()).toISOString()}] ${text}\n`);
  }

  event(event: BuildoutEvent): void {
    const text = describeBuildoutEvent(event);
    if (text !== undefined) this.line(text);
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
  }
}

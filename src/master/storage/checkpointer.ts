/**
 * WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses the threshold (1000 pages): it copies the WAL into the database and fsyncs twice, for
 * milliseconds during which the master answers nothing (every request of that moment gets that
 * much slower). The background checkpointer does the same from a worker thread with its own
 * connection (checkpoint-worker.ts), in PASSIVE mode, a few times a second while there are new
 * commits; the main connection keeps a much higher automatic threshold as a safety net.
 *
 * Lifecycle: `running` from the start → `closed` after `close()` (idempotent), or `failed` if the
 * worker dies (reported once through `onFailure`, so that the store restores its own checkpoints).
 * A checkpoint that fails (disk full, I/O error) is no death: it is logged once, tried again.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../lib/logger.ts';
import type { CheckpointWorkerData, CheckpointWorkerMessage } from './checkpoint-worker.ts';

export interface BackgroundCheckpointerOptions {
  /** The database file (not ':memory:'). */
  path: string;
  /** How often the worker looks for new commits (default 100 ms). */
  intervalMs?: number;
  logger?: Logger | undefined;
  /** Called once if the worker fails (it checkpoints no more). */
  onFailure?: (error: Error) => void;
  /** Called after each checkpoint with the WAL's size and how much of it is in the database (frames). */
  onCheckpoint?: ((result: { walFrames: number; copiedFrames: number }) => void) | undefined;
}

export type CheckpointerState = 'running' | 'failed' | 'closed';

/** How long `close()` waits for the worker to finish a checkpoint in progress before ending it. */
const CLOSE_GRACE_MS = 5000;

/** Run from source (tsx) the worker is the .ts file; compiled, the .js beside this one. */
function workerUrl(): URL {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./checkpoint-worker.${extension}`, import.meta.url);
}

export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private readonly commits = new Int32Array(new SharedArrayBuffer(4));
  private readonly exited: Promise<void>;
  private currentState: CheckpointerState = 'running';
  private closing: Promise<void> | undefined;
  /** Since when checkpoints fail (disk full…), while they do. */
  private failingSince: number | undefined;

  constructor(private readonly options: BackgroundCheckpointerOptions) {
    const data: CheckpointWorkerData = {
      path: options.path,
      commits: this.commits.buffer,
      intervalMs: options.intervalMs ?? 100,
    };
    this.worker = new Worker(workerUrl(), { workerData: data });
    this.worker.on('message', (message: CheckpointWorkerMessage) => {
      if (message.type === 'checkpointed') {
        if (this.failingSince !== undefined)
          options.logger?.info(
            { failedFor: Date.now() - this.failingSince },
            'background checkpoints work again',
          );
        this.failingSince = undefined;
        options.onCheckpoint?.(message);
      } else if (message.type === 'failed' && this.failingSince === undefined) {
        this.failingSince = Date.now();
        options.logger?.warn(
          { sqlite: message.code },
          'background checkpoint failed; trying again every second',
        );
      }
    });
    this.worker.on('error', (error) => this.fail(error));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        if (this.currentState === 'running') this.fail(new Error(`the checkpoint worker exited (${code})`));
        resolve();
      });
    });
    // It must never keep the process alive by itself (after the listeners, which would ref it again).
    this.worker.unref();
  }

  get state(): CheckpointerState {
    return this.currentState;
  }

  /** Tells the worker that the main connection committed a write (a shared counter: no message). */
  noteCommit(): void {
    Atomics.add(this.commits, 0, 1);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.currentState === 'running') this.currentState = 'closed';
      this.worker.postMessage('close');
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          void this.worker.terminate().finally(resolve);
        }, CLOSE_GRACE_MS);
      });
      try {
        await Promise.race([this.exited, deadline]);
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.closing;
  }

  private fail(error: Error): void {
    if (this.currentState !== 'running') return;
    this.currentState = 'failed';
    this.options.logger?.warn(
      { err: error },
      'background checkpoints stopped; SQLite checkpoints in COMMIT again',
    );
    this.options.onFailure?.(error);
  }
}

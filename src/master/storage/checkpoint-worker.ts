/**
 * The background checkpointer's thread (see checkpointer.ts): its own connection to the database,
 * a PASSIVE checkpoint whenever the main connection committed writes since the last one. A passive
 * checkpoint never waits for (nor blocks) the main connection's readers and writer; its fsyncs
 * happen here, off the event loop that serves requests.
 */
import BetterSqlite3 from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointWorkerData {
  path: string;
  /** Int32 counter of the main connection's write commits (shared memory). */
  commits: SharedArrayBuffer;
  intervalMs: number;
}

/** Messages to the main thread. */
export type CheckpointWorkerMessage =
  | { type: 'ready' }
  | { type: 'checkpointed'; walFrames: number; copiedFrames: number }
  /** A checkpoint failed (its SQLite code); the worker goes on and tries again later. */
  | { type: 'failed'; code: string };

const data = workerData as CheckpointWorkerData;
const port = parentPort;
if (!port) throw new Error('checkpoint-worker runs as a worker thread');

const commits = new Int32Array(data.commits);
const database = new BetterSqlite3(data.path);
database.pragma('synchronous = NORMAL');
let seen = 0;

/** After a failed checkpoint (disk full, I/O error), the next attempt waits this long. */
const RETRY_AFTER_FAILURE_MS = 1000;
let retryAt = 0;

const timer = setInterval(() => {
  const now = Atomics.load(commits, 0);
  if (now === seen || Date.now() < retryAt) return;
  let result: { log: number; checkpointed: number } | undefined;
  try {
    [result] = database.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
  } catch (error) {
    // A condition of the machine, not of this thread: the checkpoint is tried again later.
    retryAt = Date.now() + RETRY_AFTER_FAILURE_MS;
    const code = (error as { code?: unknown }).code;
    port.postMessage({
      type: 'failed',
      code: typeof code === 'string' ? code : 'unknown',
    } satisfies CheckpointWorkerMessage);
    return;
  }
  seen = now;
  port.postMessage({
    type: 'checkpointed',
    walFrames: result?.log ?? 0,
    copiedFrames: result?.checkpointed ?? 0,
  } satisfies CheckpointWorkerMessage);
}, data.intervalMs);

port.on('message', (message: unknown) => {
  if (message !== 'close') return;
  clearInterval(timer);
  database.close();
  port.close();
});
port.postMessage({ type: 'ready' } satisfies CheckpointWorkerMessage);

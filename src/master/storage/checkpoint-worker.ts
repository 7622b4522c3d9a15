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
  { type: 'ready' } | { type: 'checkpointed'; walFrames: number; copiedFrames: number };

const data = workerData as CheckpointWorkerData;
const port = parentPort;
if (!port) throw new Error('checkpoint-worker runs as a worker thread');

const commits = new Int32Array(data.commits);
const database = new BetterSqlite3(data.path);
database.pragma('synchronous = NORMAL');
let seen = 0;

const timer = setInterval(() => {
  const now = Atomics.load(commits, 0);
  if (now === seen) return;
  seen = now;
  const [result] = database.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
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

/**
 * Transactions on one SQLite connection, with group commit.
 *
 * Use cases queue up; the queue runs them one at a time (they never interleave), each inside its
 * own SAVEPOINT of a shared transaction, and commits once for the whole group: the jobs that
 * arrived while the group ran join it, up to `maxGroup`, except that a write never joins a group
 * opened for reading (a group of several writes also waits event-loop turns before its COMMIT,
 * while requests keep arriving). A job that fails is rolled back to its savepoint alone. Every job's promise settles only after the COMMIT that makes its writes
 * durable (or after that COMMIT failed), so callers never see data that could still be lost.
 */

export type JobMode = 'read' | 'write';

/** What the queue needs from the connection. */
export interface TransactionConnection {
  exec(statement: string): void;
  inTransaction(): boolean;
}

interface Job {
  mode: JobMode;
  work: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { job: Job; ok: true; value: unknown } | { job: Job; ok: false; error: unknown };

export class GroupCommitQueue {
  private readonly queue: Job[] = [];
  private running = false;
  /** True while a group runs and one of its jobs has already written. */
  private groupHasWritten = false;

  constructor(
    private readonly connection: TransactionConnection,
    private readonly options: { maxGroup: number; afterCommit: (wrote: boolean) => void },
  ) {}

  /** Whether data read now may include writes of the running group that are not committed yet. */
  get uncommittedWrites(): boolean {
    return this.groupHasWritten;
  }

  run<T>(mode: JobMode, work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ mode, work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        // Start after the requests that arrived together have all been queued: they form one group.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.runGroup();
    } finally {
      this.running = false;
    }
  }

  private async runGroup(): Promise<void> {
    const { connection } = this;
    const first = this.queue[0];
    if (!first) return;
    try {
      connection.exec(first.mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN');
    } catch (error) {
      this.queue.shift();
      first.reject(error);
      return;
    }
    const outcomes: Outcome[] = [];
    let wrote = false;
    this.groupHasWritten = false;
    let aborted: unknown;
    let ranBeforeWait = -1;
    for (;;) {
      if (this.queue.length === 0) {
        // A busy queue (a group of several jobs that wrote) waits an event-loop turn for the
        // requests that arrived meanwhile, as long as some do: they share this commit instead of
        // needing their own.
        if (ranBeforeWait === outcomes.length || !wrote || outcomes.length < 2) break;
        ranBeforeWait = outcomes.length;
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (outcomes.length >= this.options.maxGroup) break;
      // A read transaction cannot take the write lock once another process has committed since it
      // began (SQLITE_BUSY_SNAPSHOT, without waiting): a write ends a group opened for reading and
      // opens its own with BEGIN IMMEDIATE, which waits for the lock instead.
      if (first.mode === 'read' && this.queue[0]?.mode === 'write') break;
      const job = this.queue.shift() as Job;
      try {
        connection.exec('SAVEPOINT job');
        const value = await job.work();
        connection.exec('RELEASE job');
        outcomes.push({ job, ok: true, value });
        if (job.mode === 'write') wrote = this.groupHasWritten = true;
      } catch (error) {
        if (!connection.inTransaction()) {
          // SQLite rolled the whole transaction back (disk full, I/O error…): the group is lost.
          outcomes.push({ job, ok: false, error });
          aborted = error;
          break;
        }
        try {
          connection.exec('ROLLBACK TO job');
          connection.exec('RELEASE job');
        } catch (rollbackError) {
          aborted = rollbackError;
        }
        outcomes.push({ job, ok: false, error });
        if (aborted !== undefined) break;
      }
    }
    this.groupHasWritten = false;
    if (aborted === undefined) {
      try {
        connection.exec('COMMIT');
      } catch (error) {
        aborted = error;
      }
    }
    if (aborted !== undefined && connection.inTransaction()) {
      try {
        connection.exec('ROLLBACK');
      } catch {
        // Nothing more can be done here; the next group's BEGIN reports the state of the connection.
      }
    }
    this.options.afterCommit(wrote || aborted !== undefined);
    for (const outcome of outcomes) {
      if (!outcome.ok) outcome.job.reject(outcome.error);
      else if (aborted !== undefined) outcome.job.reject(aborted);
      else outcome.job.resolve(outcome.value);
    }
  }
}

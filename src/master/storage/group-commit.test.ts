import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommitQueue, type TransactionConnection } from './group-commit.ts';

function fakeConnection(options: { failOn?: string } = {}) {
  const log: string[] = [];
  let open = false;
  const connection: TransactionConnection & { log: string[]; abort(): void } = {
    log,
    exec(statement) {
      log.push(statement);
      if (statement === options.failOn) throw new Error(`${statement} failed`);
      if (statement.startsWith('BEGIN')) open = true;
      if (statement === 'COMMIT' || statement === 'ROLLBACK') open = false;
    },
    inTransaction: () => open,
    abort() {
      open = false;
    },
  };
  return connection;
}

test('jobs queued together run one after the other in one transaction, each in a savepoint', async () => {
  const connection = fakeConnection();
  const commits: boolean[] = [];
  const queue = new GroupCommitQueue(connection, {
    maxGroup: 10,
    afterCommit: (wrote) => commits.push(wrote),
  });
  const order: number[] = [];
  const results = await Promise.allSettled([
    queue.run('write', () => Promise.resolve(order.push(1))),
    queue.run('write', () => Promise.reject(new Error('second fails'))),
    queue.run('read', () => Promise.resolve(order.push(3))),
  ]);
  assert.deepEqual(
    results.map((result) => result.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.deepEqual(order, [1, 3]);
  assert.deepEqual(connection.log, [
    'BEGIN IMMEDIATE',
    'SAVEPOINT job',
    'RELEASE job',
    'SAVEPOINT job',
    'ROLLBACK TO job',
    'RELEASE job',
    'SAVEPOINT job',
    'RELEASE job',
    'COMMIT',
  ]);
  assert.deepEqual(commits, [true]);
});

test('a failed COMMIT fails every job of the group; a lost transaction fails the jobs before it', async () => {
  const failing = fakeConnection({ failOn: 'COMMIT' });
  const queue = new GroupCommitQueue(failing, { maxGroup: 10, afterCommit: () => undefined });
  const results = await Promise.allSettled([
    queue.run('write', () => Promise.resolve(1)),
    queue.run('read', () => Promise.resolve(2)),
  ]);
  assert.deepEqual(
    results.map((result) => result.status),
    ['rejected', 'rejected'],
  );
  assert.equal(failing.log.at(-1), 'ROLLBACK');

  const lost = fakeConnection();
  const lostQueue = new GroupCommitQueue(lost, { maxGroup: 10, afterCommit: () => undefined });
  const outcomes = await Promise.allSettled([
    lostQueue.run('write', () => Promise.resolve('kept?')),
    lostQueue.run('write', () => {
      lost.abort(); // SQLite rolled everything back (e.g. disk full)
      return Promise.reject(new Error('disk full'));
    }),
    lostQueue.run('write', () => Promise.resolve('next group')),
  ]);
  assert.deepEqual(
    outcomes.map((outcome) => outcome.status),
    ['rejected', 'rejected', 'fulfilled'],
  );
  assert.equal(lost.log.filter((statement) => statement === 'BEGIN IMMEDIATE').length, 2);
});

test('groups are at most maxGroup jobs', async () => {
  const connection = fakeConnection();
  const queue = new GroupCommitQueue(connection, { maxGroup: 2, afterCommit: () => undefined });
  await Promise.all([1, 2, 3, 4, 5].map((value) => queue.run('write', () => Promise.resolve(value))));
  assert.equal(connection.log.filter((statement) => statement === 'COMMIT').length, 3);
});

test('a group of several writes waits for the requests that arrive meanwhile; a lone write does not', async () => {
  const connection = fakeConnection();
  const queue = new GroupCommitQueue(connection, { maxGroup: 10, afterCommit: () => undefined });
  const late: Promise<unknown>[] = [];
  // The third write is queued on the next event-loop turn, after the first two ran: it joins them.
  await Promise.all([
    queue.run('write', () => {
      setImmediate(() => late.push(queue.run('write', () => Promise.resolve(3))));
      return Promise.resolve(1);
    }),
    queue.run('write', () => Promise.resolve(2)),
  ]);
  await Promise.all(late);
  assert.equal(late.length, 1);
  assert.equal(connection.log.filter((statement) => statement === 'COMMIT').length, 1);
  assert.equal(connection.log.filter((statement) => statement === 'SAVEPOINT job').length, 3);

  // A write alone commits at once (no latency added when the master is not busy).
  const alone = fakeConnection();
  const quiet = new GroupCommitQueue(alone, { maxGroup: 10, afterCommit: () => undefined });
  const next: Promise<unknown>[] = [];
  await quiet.run('write', () => {
    setImmediate(() => next.push(quiet.run('write', () => Promise.resolve(2))));
    return Promise.resolve(1);
  });
  await new Promise((resolve) => setImmediate(resolve));
  await Promise.all(next);
  assert.equal(alone.log.filter((statement) => statement === 'COMMIT').length, 2);
});

test('a write ends a group opened for reading and opens its own (BEGIN IMMEDIATE)', async () => {
  const connection = fakeConnection();
  const commits: boolean[] = [];
  const queue = new GroupCommitQueue(connection, {
    maxGroup: 10,
    afterCommit: (wrote) => commits.push(wrote),
  });
  await Promise.all([
    queue.run('read', () => Promise.resolve(1)),
    queue.run('read', () => Promise.resolve(2)),
    queue.run('write', () => Promise.resolve(3)),
    queue.run('read', () => Promise.resolve(4)),
  ]);
  assert.deepEqual(
    connection.log.filter((statement) => !/^(SAVEPOINT|RELEASE)/.test(statement)),
    ['BEGIN', 'COMMIT', 'BEGIN IMMEDIATE', 'COMMIT'],
  );
  assert.deepEqual(commits, [false, true]);
});

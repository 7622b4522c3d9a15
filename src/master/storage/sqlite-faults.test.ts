/** SQLite faults: 503 with a title that says what is wrong (never the path), logged by transitions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlapError } from '../../core/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { sqliteFault, sqliteFaultError, SqliteFaultLog } from './sqlite-faults.ts';

function sqliteError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const PRIMARY = {
  SQLITE_BUSY: 'busy',
  SQLITE_LOCKED: 'busy',
  SQLITE_FULL: 'disk-full',
  SQLITE_READONLY: 'read-only',
  SQLITE_IOERR: 'io-error',
  SQLITE_CANTOPEN: 'cannot-open',
} as const;

const EXTENDED = ['', '_WRITE', '_FSYNC', '_SNAPSHOT', '_DIRECTORY', '_ISDIR', '_SHORT_READ', '_RECOVERY'];

test('every primary code and its extended codes: a 503 SLAP_ERR_UNAVAILABLE whose title never carries the cause', () => {
  const random = seededRandom(13);
  for (const [primary, fault] of Object.entries(PRIMARY)) {
    for (const suffix of EXTENDED) {
      const message = `${hostileString(random)} /srv/secret/master.db ${hostileString(random)}`;
      const error = sqliteError(`${primary}${suffix}`, message);
      assert.equal(sqliteFault(error), fault);
      const mapped = sqliteFaultError(error);
      assert.ok(mapped instanceof SlapError);
      assert.equal(mapped.code, 'SLAP_ERR_UNAVAILABLE');
      assert.equal(mapped.status, 503);
      assert.deepEqual(mapped.details, { fault, sqlite: `${primary}${suffix}` });
      assert.equal(mapped.cause, error);
      assert.doesNotMatch(mapped.message, /secret|master\.db/);
      assert.match(mapped.message, /^[ -~]+$/);
    }
  }
});

test('other errors are left alone: constraint violations, corruption, non-SQLite codes, non-errors', () => {
  const random = seededRandom(7);
  const others: unknown[] = [
    sqliteError('SQLITE_CONSTRAINT_UNIQUE', 'x'),
    sqliteError('SQLITE_CORRUPT', 'x'),
    sqliteError('SQLITE_ERROR', 'x'),
    sqliteError('SQLITE_FULLNESS', 'x'),
    sqliteError('ENOSPC', 'x'),
    sqliteError('sqlite_full', 'x'),
    new Error('SQLITE_FULL'),
    'SQLITE_FULL',
    null,
    undefined,
    { code: 5 },
  ];
  for (let index = 0; index < 200; index++) others.push(sqliteError(hostileString(random), 'x'));
  for (const error of others) {
    if (
      typeof (error as { code?: unknown })?.code === 'string' &&
      /^SQLITE_(BUSY|LOCKED|FULL|READONLY|IOERR|CANTOPEN)(_|$)/.test((error as { code: string }).code)
    )
      continue;
    assert.equal(sqliteFault(error), undefined, String((error as { code?: unknown })?.code));
    assert.equal(sqliteFaultError(error), undefined);
  }
});

test('the fault log: one line when a fault starts or changes, one when a write commits again; busy is not logged', () => {
  const records: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const record =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void records.push({ level, fields, message });
  const logger = { error: record('error'), warn: record('warn'), info: record('info') } as unknown as Logger;
  let now = 1000;
  const log = new SqliteFaultLog(logger, () => now);
  log.wrote();
  log.failed(sqliteError('SQLITE_BUSY', 'busy'));
  assert.deepEqual(records, []);
  assert.equal(log.faulty, false);
  log.failed(sqliteError('SQLITE_FULL', 'full'));
  log.failed(sqliteError('SQLITE_FULL', 'full'));
  log.failed(sqliteError('SQLITE_IOERR_WRITE', 'io'));
  assert.equal(log.faulty, true);
  now = 1500;
  log.wrote();
  log.wrote();
  assert.equal(log.faulty, false);
  assert.deepEqual(
    records.map(({ level, fields }) => [level, fields]),
    [
      ['error', { fault: 'disk-full', sqlite: 'SQLITE_FULL' }],
      ['error', { fault: 'io-error', sqlite: 'SQLITE_IOERR_WRITE' }],
      ['info', { fault: 'io-error', durationMs: 500 }],
    ],
  );
});

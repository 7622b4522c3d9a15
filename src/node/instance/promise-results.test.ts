/** The list a node sends: within the master's bounds, a digest that ignores dates, resent daily. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { NodeMaster } from '../pass.ts';
import type { LatestPromiseResult } from '../promise/run-promises.ts';
import {
  MAX_MESSAGE_LENGTH,
  MAX_RESULTS,
  RESEND_AFTER_MS,
  promiseResultList,
  promiseResultsDigest,
  sendPromiseResults,
} from './promise-results.ts';
import { MAX_PROMISE_RESULTS_JSON_BYTES } from '../../api/index.ts';

const AT = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function result(title: string, options: Partial<LatestPromiseResult> = {}): LatestPromiseResult {
  return { title, failed: false, message: 'ok', date: AT, ...options };
}

test('results become {name, status, message, date} with an ISO 8601 date to the second', () => {
  assert.deepEqual(
    promiseResultList([result('apache'), result('backup', { failed: true, message: 'old' })]),
    [
      { name: 'apache', status: 'pass', message: 'ok', date: '2026-01-02T03:04:05Z' },
      { name: 'backup', status: 'fail', message: 'old', date: '2026-01-02T03:04:05Z' },
    ],
  );
});

test('long messages keep their end; NUL and unpaired surrogates are made storable', () => {
  const long = `${'a'.repeat(5000)}THE END`;
  const [cut] = promiseResultList([result('x', { message: long })]);
  assert.equal(cut?.message.length, MAX_MESSAGE_LENGTH);
  assert.ok(cut?.message.startsWith('...'));
  assert.ok(cut?.message.endsWith('THE END'));
  const [clean] = promiseResultList([result('x', { message: 'a\u0000b\uD800c' })]);
  assert.equal(clean?.message, 'ab\uFFFDc');
});

test('at most 200 results, failures first, in their order; names the master refuses are left out', () => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
  const many = Array.from({ length: 250 }, (_, index) =>
    result(`p${String(index).padStart(3, '0')}`, { failed: index >= 240 }),
  );
  const list = promiseResultList([...many, result('bad\nname'), result('')], logger);
  assert.equal(list.length, MAX_RESULTS);
  assert.equal(list.filter((r) => r.status === 'fail').length, 10);
  assert.deepEqual(
    list.map((r) => r.name),
    [...list.map((r) => r.name)].sort(),
  );
  assert.equal(list.at(-1)?.name, 'p249');
  assert.equal(lines.filter((line) => line.includes('its name')).length, 2);
  assert.equal(lines.filter((line) => line.includes('only 200')).length, 1);
});

test("the whole list fits under the master's cap, whatever the messages hold", () => {
  const controls = '\u0001'.repeat(MAX_MESSAGE_LENGTH); // 6 bytes each once escaped in JSON
  const list = promiseResultList(
    Array.from({ length: 200 }, (_, i) => result(`p${i}`, { message: controls })),
  );
  const stored = Buffer.byteLength(JSON.stringify(list));
  assert.ok(stored <= MAX_PROMISE_RESULTS_JSON_BYTES, `${stored} bytes`);
  assert.ok((list[0]?.message.length ?? 0) >= 64, 'messages are cut, not dropped');
});

test('the digest ignores dates, and follows instances, names, statuses and messages', () => {
  const base = promiseResultList([result('a'), result('b')]);
  const digest = promiseResultsDigest('x______0', base);
  assert.equal(
    promiseResultsDigest('x______0', promiseResultList([result('a', { date: AT + 3600_000 }), result('b')])),
    digest,
  );
  for (const other of [
    promiseResultsDigest('y______0', base),
    promiseResultsDigest('x______0', promiseResultList([result('a', { failed: true }), result('b')])),
    promiseResultsDigest('x______0', promiseResultList([result('a', { message: 'ko' }), result('b')])),
    promiseResultsDigest('x______0', promiseResultList([result('a')])),
    promiseResultsDigest('x______0', promiseResultList([result('b'), result('a')])),
  ])
    assert.notEqual(other, digest);
});

test('an unchanged list is not sent again, except once a day', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'promise-results-'));
  try {
    await mkdir(join(dir, '.slapgrid'));
    const sent: unknown[] = [];
    const master = {
      reportPromiseResults: (body: unknown) => {
        sent.push(body);
        return Promise.resolve({ type: 'success', title: 'Updated' });
      },
    } as unknown as NodeMaster;
    let now = AT;
    const send = () =>
      sendPromiseResults(
        { partitionPath: dir, instanceGuid: 'SOFTINST-1', latest: [result('port')] },
        { master, logger: pino({ level: 'silent' }), now: () => now },
      );
    assert.equal(await send(), 'sent');
    now += RESEND_AFTER_MS - 1000;
    assert.equal(await send(), 'unchanged');
    now += 2000;
    assert.equal(await send(), 'sent');
    assert.equal(sent.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

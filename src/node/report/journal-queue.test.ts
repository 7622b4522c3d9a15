import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import type { ActionResult } from '../../client/types.ts';
import { SlapError, type ErrorCode } from '../../core/errors.ts';
import { readUsageSeal, usageDocumentHash, verifyUsageSeal } from '../../core/usage-signature.ts';
import { silentLogger } from '../../lib/logger.ts';
import { selfSignedCertificate } from '../../testing/self-signed.ts';
import { isRefusal, queueJournal, sendQueuedJournals } from './journal-queue.ts';
import { freshJournalState } from './journal-state.ts';

const JOURNAL = (n: number): string =>
  `<?xml version='1.0' encoding='utf-8'?>\n<journal><transaction><stop_date>2026-12-01 00:00:0${n}</stop_date></transaction></journal>\n`;

/** A master that answers each call with the next outcome (undefined: accepted) and records what it got. */
function scriptedMaster(outcomes: (ErrorCode | Error | undefined)[]) {
  const received: string[] = [];
  return {
    received,
    reportComputeNodeUsage(input: { computerGuid: string; usageXml: string }): Promise<ActionResult> {
      received.push(input.usageXml);
      const outcome = outcomes.shift();
      if (outcome === undefined) return Promise.resolve({ type: 'success' } as ActionResult);
      return Promise.reject(
        outcome instanceof Error ? outcome : new SlapError(outcome, `answered ${outcome}`),
      );
    },
  };
}

test('journals queued with a signer are sealed as consecutive links of one chain', async () => {
  const { keyPem, certificatePem } = await selfSignedCertificate('COMP-1');
  const signer = { key: createPrivateKey(keyPem), certificatePem };
  const state = freshJournalState('COMP-1', 'boot');
  const first = queueJournal(state, { xml: JOURNAL(1), source: 'usage' }, signer);
  const second = queueJournal(state, { xml: JOURNAL(2), source: '/srv/var/xml_report/COMP-1/a.xml' }, signer);
  const seals = [first, second].map((document) => readUsageSeal(document));
  assert.deepEqual(
    seals.map((seal) => [seal?.sequence, seal?.previous]),
    [
      [1, ''],
      [2, usageDocumentHash(first)],
    ],
  );
  for (const seal of seals) assert.ok(seal && verifyUsageSeal(seal));
  assert.equal(state.sequence, 2);
  assert.equal(state.previous, usageDocumentHash(second));
  assert.deepEqual(
    state.pending.map((journal) => journal.sequence),
    [1, 2],
  );
});

test('without a signer, journals are queued unsealed and the chain does not move', () => {
  const state = freshJournalState('COMP-1', 'boot');
  assert.equal(queueJournal(state, { xml: JOURNAL(1), source: 'usage' }, undefined), JOURNAL(1));
  assert.equal(readUsageSeal(state.pending[0]?.document ?? ''), undefined);
  assert.deepEqual([state.sequence, state.previous], [0, '']);
});

test('a journal the master cannot take now stays queued, in order; a refused one is dropped', async () => {
  const state = freshJournalState('COMP-1', 'boot');
  for (const n of [1, 2, 3]) queueJournal(state, { xml: JOURNAL(n), source: `j${n}` }, undefined);
  let saved = 0;
  const options = { persist: () => Promise.resolve(void saved++), logger: silentLogger() };

  const down = scriptedMaster(['SLAP_ERR_UNAVAILABLE']);
  const first = await sendQueuedJournals(state, { ...options, master: down });
  assert.deepEqual(
    first.map((d) => [d.source, d.outcome]),
    [
      ['j1', 'pending'],
      ['j2', 'pending'],
      ['j3', 'pending'],
    ],
  );
  assert.deepEqual(down.received, [JOURNAL(1)], 'nothing after the journal that could not be sent');
  assert.equal(first[0]?.error?.code, 'SLAP_ERR_UNAVAILABLE');
  assert.equal(state.pending.length, 3);

  const refusing = scriptedMaster([undefined, 'SLAP_ERR_USAGE_REPORT_INVALID', 'SLAP_ERR_TIMEOUT']);
  const second = await sendQueuedJournals(state, { ...options, master: refusing });
  assert.deepEqual(
    second.map((d) => [d.source, d.outcome]),
    [
      ['j1', 'sent'],
      ['j2', 'refused'],
      ['j3', 'pending'],
    ],
  );
  assert.deepEqual(refusing.received, [JOURNAL(1), JOURNAL(2), JOURNAL(3)], 'sent again exactly as built');
  assert.deepEqual(
    state.pending.map((j) => j.source),
    ['j3'],
  );
  assert.equal(saved, 2, 'saved after each journal leaves the queue');
});

test('which answers are refusals (dropped) and which are sent again', () => {
  const refused: ErrorCode[] = [
    'SLAP_ERR_USAGE_REPORT_INVALID',
    'SLAP_ERR_FORBIDDEN',
    'SLAP_ERR_INVALID_INPUT',
  ];
  for (const code of refused) assert.equal(isRefusal(new SlapError(code, 'x')), true, code);
  const retried: ErrorCode[] = [
    'SLAP_ERR_UNAVAILABLE',
    'SLAP_ERR_TIMEOUT',
    'SLAP_ERR_INTERNAL',
    'SLAP_ERR_UNAUTHENTICATED',
    'SLAP_ERR_NOT_READY',
  ];
  for (const code of retried) assert.equal(isRefusal(new SlapError(code, 'x')), false, code);
  assert.equal(isRefusal(new SlapError('SLAP_ERR_INVALID_INPUT', 'x', { status: 429 })), false);
  assert.equal(isRefusal(new Error('socket hang up')), false);
});

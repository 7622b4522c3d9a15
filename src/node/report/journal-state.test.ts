import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { makeTempDir } from '../../testing/node.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import {
  freshJournalState,
  journalStatePath,
  readJournalState,
  writeJournalState,
  type JournalState,
} from './journal-state.ts';

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

async function root(): Promise<string> {
  const dir = await makeTempDir('slapos-journal-state-');
  roots.push(dir);
  return dir;
}

test('no state before the first report; the state is written 0600 in a 0700 directory', async () => {
  const dir = await root();
  assert.equal(await readJournalState(dir), undefined);
  const state: JournalState = {
    ...freshJournalState('COMP-1', 'boot-a'),
    lastStop: 1_790_000_000,
    counters: { '10:500': { ticks: 30, ppid: 1 } },
    sequence: 2,
    previous: 'ab'.repeat(32),
    pending: [{ document: '<journal/>', source: 'usage', sequence: 2 }],
  };
  await writeJournalState(dir, state);
  assert.deepEqual(await readJournalState(dir), state);
  assert.equal((await stat(journalStatePath(dir))).mode & 0o777, 0o600);
  assert.equal((await stat(dirname(journalStatePath(dir)))).mode & 0o777, 0o700);
});

test('property: pending journals and their sources round-trip exactly, whatever they hold', async () => {
  const dir = await root();
  const random = seededRandom(15);
  for (let round = 0; round < 50; round++) {
    const state: JournalState = {
      ...freshJournalState(hostileString(random), hostileString(random)),
      pending: [
        { document: hostileString(random, 40), source: hostileString(random) },
        { document: `${hostileString(random)}\u2028\0\x85\r`, source: 'usage', sequence: round + 1 },
      ],
    };
    await writeJournalState(dir, state);
    assert.deepEqual(await readJournalState(dir), state);
  }
});

test('a state that cannot be read is an error naming the file, never a fresh start', async () => {
  const dir = await root();
  const path = journalStatePath(dir);
  await mkdir(dirname(path), { recursive: true });
  const valid = { ...freshJournalState('COMP-1', 'b') };
  for (const [content, reason] of [
    ['{', /is not JSON/],
    ['[]', /is not an object/],
    [JSON.stringify({ ...valid, sequence: -1 }), /invalid sequence/],
    [JSON.stringify({ ...valid, sequence: 1 }), /does not match its sequence/],
    [JSON.stringify({ ...valid, previous: 'XYZ' }), /invalid previous hash/],
    [JSON.stringify({ ...valid, lastStop: 1.5 }), /invalid lastStop/],
    [JSON.stringify({ ...valid, counters: { x: { ticks: 1, ppid: 1 } } }), /invalid process counter/],
    [JSON.stringify({ ...valid, pending: [{ document: 1, source: 'usage' }] }), /invalid pending journal/],
    [JSON.stringify({ ...valid, pending: {} }), /no pending list/],
  ] as const) {
    await writeFile(path, content);
    const error = await rejectsWithSlapError(readJournalState(dir), 'SLAP_ERR_USAGE_STATE_INVALID', reason);
    assert.ok(error.message.includes(path));
  }
});

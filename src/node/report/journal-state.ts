/**
 * What the node remembers between two usage reports, in one file written atomically (0600, in a
 * 0700 directory) so that its parts never disagree after a crash:
 * - when the last journal stopped (the next one starts there) and the boot it was measured in;
 * - the CPU counters of the processes measured then (cpu-counters.ts);
 * - the chain of sealed journals: the sequence and hash of the last one (usage-signature.ts);
 * - the journals built but not yet accepted or refused by the master, oldest first: they are sent
 *   again, exactly as built, before anything new.
 * A missing file is a node that never reported. A file that cannot be read is an error, never a
 * fresh start: starting again would restart the chain the master holds.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import type { ProcessCounters } from './cpu-counters.ts';

export const JOURNAL_STATE_DIR = join('var', 'usage-journal');
const STATE_FILE = 'state.json';

export interface PendingJournal {
  /** The document to send, as built (sealed or not). */
  document: string;
  /** `usage` (the node's measure) or the computer-level journal file it was read from. */
  source: string;
  /** Its place in the node's chain; absent when unsealed. */
  sequence?: number;
}

export interface JournalState {
  /** The node the state belongs to: another compute node id starts a new state. */
  computerId: string;
  /** The boot of `counters`' processes (/proc/sys/kernel/random/boot_id). */
  bootId: string;
  /** Whole seconds: the stop of the last journal built; null before the first. */
  lastStop: number | null;
  counters: ProcessCounters;
  /** The last sealed journal's sequence (0: none yet) and hash ('' for none). */
  sequence: number;
  previous: string;
  pending: PendingJournal[];
}

export function journalStatePath(instanceRoot: string): string {
  return join(instanceRoot, JOURNAL_STATE_DIR, STATE_FILE);
}

export function freshJournalState(computerId: string, bootId: string): JournalState {
  return { computerId, bootId, lastStop: null, counters: {}, sequence: 0, previous: '', pending: [] };
}

function invalid(path: string, reason: string): SlapError {
  return new SlapError('SLAP_ERR_USAGE_STATE_INVALID', `the usage journal state ${path} ${reason}`, {
    hint: 'restore the file from a backup; removing it restarts the chain of sealed usage journals',
  });
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The state of `instanceRoot`'s node; undefined when it never reported. */
export async function readJournalState(instanceRoot: string): Promise<JournalState | undefined> {
  const path = journalStatePath(instanceRoot);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(path, `cannot be read: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(path, 'is not JSON');
  }
  const problem = stateProblem(value);
  if (problem !== undefined) throw invalid(path, problem);
  return value as JournalState;
}

function stateProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'is not an object';
  if (typeof value.computerId !== 'string' || typeof value.bootId !== 'string')
    return 'has no computerId or bootId';
  if (value.lastStop !== null && !isCount(value.lastStop)) return 'has an invalid lastStop';
  if (!isCount(value.sequence)) return 'has an invalid sequence';
  if (typeof value.previous !== 'string' || !/^(?:[0-9a-f]{64})?$/.test(value.previous))
    return 'has an invalid previous hash';
  if ((value.sequence === 0) !== (value.previous === ''))
    return 'has a previous hash that does not match its sequence';
  if (!isRecord(value.counters)) return 'has no counters';
  for (const [key, counter] of Object.entries(value.counters))
    if (!/^\d+:\d+$/.test(key) || !isRecord(counter) || !isCount(counter.ticks) || !isCount(counter.ppid))
      return 'has an invalid process counter';
  if (!Array.isArray(value.pending)) return 'has no pending list';
  for (const journal of value.pending as unknown[])
    if (
      !isRecord(journal) ||
      typeof journal.document !== 'string' ||
      typeof journal.source !== 'string' ||
      (journal.sequence !== undefined && !isCount(journal.sequence))
    )
      return 'has an invalid pending journal';
  return undefined;
}

export async function writeJournalState(instanceRoot: string, state: JournalState): Promise<void> {
  const directory = join(instanceRoot, JOURNAL_STATE_DIR);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await writeFileAtomic(journalStatePath(instanceRoot), `${JSON.stringify(state)}\n`, { mode: 0o600 });
}

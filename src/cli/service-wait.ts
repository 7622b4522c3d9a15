/**
 * The `--wait` of `slapos service backup` and `restore`: their options, and polling the master until
 * an answer settles the wait or the deadline passes. A master that cannot answer for a moment
 * (restarting, unreachable, 5xx) does not end the wait; any other failure does.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { SlapError } from '../core/errors.ts';
import type { CliContext } from './context.ts';
import { positiveSeconds } from './service-backup-text.ts';

export interface WaitOptions {
  wait?: boolean;
  timeout: number;
  pollInterval: number;
}

/** How often a wait says it is still waiting. */
const PROGRESS_EVERY_MS = 10_000;

/** `--wait`, `--timeout`, `--poll-interval`: `waitFor` says what --wait waits for. */
export function addWaitOptions(command: Command, waitFor: string): Command {
  return command
    .option('--wait', waitFor)
    .option('--timeout <seconds>', 'with --wait: give up after this long', positiveSeconds, 600)
    .option('--poll-interval <seconds>', 'with --wait: how often to look', positiveSeconds, 2);
}

/**
 * Reads until `settle` makes something of an answer (or throws, which ends the wait), every
 * --poll-interval until --timeout; undefined when nothing settled it in time. `what` names what is
 * awaited in the progress notes.
 */
export async function pollUntil<T, R>(
  ctx: CliContext,
  input: {
    read: () => Promise<T>;
    settle: (answer: T) => R | undefined;
    options: WaitOptions;
    what: string;
  },
): Promise<R | undefined> {
  const timeoutMs = input.options.timeout * 1000;
  const start = performance.now();
  let nextProgress = PROGRESS_EVERY_MS;
  for (;;) {
    const answer = await readOrNothing(ctx, input.read);
    const settled = answer === NOTHING ? undefined : input.settle(answer);
    if (settled !== undefined) return settled;
    const elapsed = performance.now() - start;
    if (elapsed >= timeoutMs) return undefined;
    if (elapsed >= nextProgress) {
      ctx.note(`still waiting for ${input.what} (${Math.round(elapsed / 1000)} s)…`);
      nextProgress += PROGRESS_EVERY_MS;
    }
    await sleep(Math.min(input.options.pollInterval * 1000, timeoutMs - elapsed));
  }
}

const NOTHING = Symbol('no answer');

/** The answer, or nothing while the master cannot answer. */
async function readOrNothing<T>(ctx: CliContext, read: () => Promise<T>): Promise<T | typeof NOTHING> {
  try {
    return await read();
  } catch (error) {
    const transient =
      error instanceof SlapError && error.code === 'SLAP_ERR_UNAVAILABLE' && error.details?.status !== 200;
    if (!transient) throw error;
    ctx.note(`warning: ${error.message}; trying again`);
    return NOTHING;
  }
}

/**
 * Sending a partition's promise results to the master (our extension, docs/promises.md "Sent to the
 * master"): after the promises ran, the latest result of each one, when the list changed since the one
 * last sent for this partition. What was last sent is remembered as a digest in
 * `.slapgrid/promise-results-sent.json`, so that one-shot `slapos node instance` runs do not resend
 * an unchanged list either. Dates are left out of the digest: a result that holds is not resent each
 * time it is checked again, only once a day (so that a master that lost them learns them again). A
 * failure to send never fails the partition: it is logged, and the list is sent again after the next
 * run of its promises.
 */
import { createHash } from 'node:crypto';
import { MAX_PROMISE_RESULTS_JSON_BYTES } from '../../api/index.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PromiseResult } from '../../client/types.ts';
import { TEXT_RULES, textProblem } from '../../core/text-rules.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import type { Logger } from '../../lib/logger.ts';
import type { NodeMaster } from '../pass.ts';
import type { LatestPromiseResult } from '../promise/run-promises.ts';

export const SENT_FILE = join('.slapgrid', 'promise-results-sent.json');

/** The master's bounds (slapos-extensions.json). */
export const MAX_RESULTS = 200;
export const MAX_NAME_LENGTH = 255;
export const MAX_MESSAGE_LENGTH = 4096;
const MIN_MESSAGE_LENGTH = 64;
/** An unchanged list is sent again after this long. */
export const RESEND_AFTER_MS = 24 * 3600 * 1000;

const NUL = /\u0000/g;
const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `...` and the end of a message longer than `max` (the end says why a check failed), made storable. */
function messageOf(text: string, max: number): string {
  const kept = text.length > max ? `...${text.slice(-(max - 3))}` : text;
  return kept.replace(NUL, '').replace(UNPAIRED_SURROGATE, '\uFFFD');
}

function isoDate(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19)}Z`;
}

/**
 * The list the master accepts: at most MAX_RESULTS (failures first when there are more), names it
 * accepts, messages cut to fit MAX_MESSAGE_LENGTH and, all together, MAX_PROMISE_RESULTS_JSON_BYTES.
 */
export function promiseResultList(latest: readonly LatestPromiseResult[], logger?: Logger): PromiseResult[] {
  const named = latest.filter((result) => {
    const problem = textProblem(result.title, TEXT_RULES.name);
    if (problem) logger?.warn({ promise: result.title, problem }, 'promise result not sent: its name');
    return !problem;
  });
  let kept = named;
  if (named.length > MAX_RESULTS) {
    const chosen = new Set(
      [...named.filter((r) => r.failed), ...named.filter((r) => !r.failed)].slice(0, MAX_RESULTS),
    );
    kept = named.filter((result) => chosen.has(result));
    logger?.warn({ left: named.length - kept.length }, `only ${MAX_RESULTS} promise results are sent`);
  }
  let maxMessage = MAX_MESSAGE_LENGTH;
  for (;;) {
    const list = kept.map((result) => ({
      name: result.title,
      status: result.failed ? ('fail' as const) : ('pass' as const),
      message: messageOf(result.message, maxMessage),
      date: isoDate(result.date),
    }));
    if (
      maxMessage <= MIN_MESSAGE_LENGTH ||
      Buffer.byteLength(JSON.stringify(list)) <= MAX_PROMISE_RESULTS_JSON_BYTES
    )
      return list;
    maxMessage = Math.max(MIN_MESSAGE_LENGTH, Math.floor(maxMessage / 2));
  }
}

/** What identifies a list for "did it change": the instance, and each promise's name, status and message. */
export function promiseResultsDigest(instanceGuid: string, list: readonly PromiseResult[]): string {
  const content = JSON.stringify([instanceGuid, list.map((r) => [r.name, r.status, r.message])]);
  return createHash('sha256').update(content).digest('hex');
}

/** The digest of the list last sent and when (epoch ms; 0 when not recorded). */
async function readSent(partitionPath: string): Promise<{ digest: string; sentAt: number } | undefined> {
  try {
    const value = JSON.parse(await readFile(join(partitionPath, SENT_FILE), 'utf8')) as {
      digest?: unknown;
      sent_at?: unknown;
    } | null;
    if (typeof value?.digest !== 'string') return undefined;
    return { digest: value.digest, sentAt: typeof value.sent_at === 'number' ? value.sent_at : 0 };
  } catch {
    return undefined;
  }
}

export type PromiseResultsSending =
  /** Sent and remembered. */
  | 'sent'
  /** The same list was sent last time. */
  | 'unchanged'
  /** The master does not have the extension (404): nothing remembered, nothing more sent by this client. */
  | 'unsupported'
  /** The master could not be told (logged): sent again after the next run. */
  | 'failed';

/**
 * Sends the partition's latest promise results when they changed since the last list sent. Never
 * throws, except when `signal` aborts.
 */
export async function sendPromiseResults(
  input: { partitionPath: string; instanceGuid: string; latest: readonly LatestPromiseResult[] },
  options: {
    master: NodeMaster;
    logger: Logger;
    signal?: AbortSignal | undefined;
    /** Epoch milliseconds (default Date.now). */
    now?: (() => number) | undefined;
  },
): Promise<PromiseResultsSending> {
  const { logger } = options;
  const now = (options.now ?? Date.now)();
  const list = promiseResultList(input.latest, logger);
  const digest = promiseResultsDigest(input.instanceGuid, list);
  const sent = await readSent(input.partitionPath);
  if (sent?.digest === digest && now - sent.sentAt < RESEND_AFTER_MS) return 'unchanged';
  try {
    const answer = await options.master.reportPromiseResults(
      { instanceGuid: input.instanceGuid, results: list },
      options.signal ? { signal: options.signal } : {},
    );
    if (answer === undefined) return 'unsupported';
  } catch (error) {
    if (options.signal?.aborted) throw error;
    logger.warn({ err: error }, 'could not send the promise results to the master');
    return 'failed';
  }
  try {
    await writeFileAtomic(
      join(input.partitionPath, SENT_FILE),
      `${JSON.stringify({ instance_guid: input.instanceGuid, digest, sent_at: now })}\n`,
      // Lost in a crash of the machine, the results are only sent once more.
      { mode: 0o644, durable: false },
    );
  } catch (error) {
    logger.warn({ err: error }, 'could not remember the promise results sent (they will be sent again)');
  }
  logger.debug({ promises: list.length }, 'promise results sent');
  return 'sent';
}

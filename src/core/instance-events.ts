import type { RequestedState } from './states.ts';

/**
 * What happened to an instance, as the master records it for its timeline (docs/master.md,
 * "Instance timeline"): one event per change, never one per report that changes nothing.
 */

export const INSTANCE_EVENT_KINDS = [
  /** The first request. */
  'requested',
  /** A request with other parameters, software type or software release (detail: which of them). */
  'parameters_changed',
  /** Given a partition (detail: `<compute node>/<partition>`). */
  'allocated',
  /** The node reported it started, for the first time after a change. */
  'deployed',
  /** Its connection parameters changed. */
  'published',
  /** The node reported an error (detail: its message, bounded: MAX_EVENT_DETAIL_BYTES). */
  'failed',
  /** The node reported it stopped (after reporting something else). */
  'stopped',
  'start_requested',
  'stop_requested',
  'destroy_requested',
  /** An instance of its tree was destroyed (detail: its title), or a shared instance left its host. */
  'destroyed',
  /** Banged: processed again (detail: the message). */
  'bang',
  /** A clone of its resilient tree took over (detail: from, to and why). */
  'takeover',
  /** A fenced former main stopped and became a clone again. */
  'unfenced',
  /** Its main node restored a backup (detail: the request, the backup, the outcome). */
  'restored',
] as const;
export type InstanceEventKind = (typeof INSTANCE_EVENT_KINDS)[number];

/** The detail an event keeps at most, in UTF-8 bytes: the full message stays on the instance. */
export const MAX_EVENT_DETAIL_BYTES = 4096;

/**
 * The message a promise transition keeps at most, in UTF-8 bytes: the 4096 characters the API admits
 * in a promise's message (src/api/slapos-extensions.json) take at most 4 bytes each, so that a
 * message the API accepted is kept whole; the bound holds for callers past the API too.
 */
export const MAX_PROMISE_MESSAGE_BYTES = 4 * 4096;

/** Events kept per instance: the oldest go as new ones come. */
export const MAX_EVENTS_PER_INSTANCE = 200;

/** Promise transitions kept per instance. */
export const MAX_PROMISE_EVENTS_PER_INSTANCE = 50;

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, at a code point boundary (a surrogate pair is
 * never split); `text` itself when it fits.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  // Every UTF-16 code unit takes at most 3 bytes: short texts need no count.
  if (text.length * 3 <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const character of text) {
    const code = character.codePointAt(0) ?? 0;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) return text.slice(0, end);
    bytes += size;
    end += character.length;
  }
  return text;
}

/** The requested state's event, when a request changes it. */
export function requestedStateEvent(state: RequestedState): InstanceEventKind {
  return state === 'started'
    ? 'start_requested'
    : state === 'stopped'
      ? 'stop_requested'
      : 'destroy_requested';
}

/**
 * A time the master keeps (float seconds since the epoch) as people read it on the panel: ISO 8601
 * UTC text to the second, in a `<time datetime>` element that machines read too.
 */
import { html, type Html } from './html.ts';

/** `2026-12-07T12:05:10Z`, or undefined for a value that is no time. */
export function isoUtc(seconds: number): string | undefined {
  const date = new Date(Math.floor(seconds) * 1000);
  if (!Number.isFinite(seconds) || Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().replace('.000Z', 'Z');
}

/** The `<time>` element of `seconds`; plain "unknown" text when it is no time. */
export function timeElement(seconds: number): Html {
  const text = isoUtc(seconds);
  return text === undefined
    ? html`<span class="muted">unknown time</span>`
    : html`<time datetime="${text}">${text}</time>`;
}

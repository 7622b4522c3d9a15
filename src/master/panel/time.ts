/** Timestamps on panel pages: ISO 8601 UTC text in a `<time datetime>` element. */
import { html, type Html } from './html.ts';

/** A master timestamp (float seconds) as ISO UTC text, to the second. */
export function isoSeconds(seconds: number): string {
  return new Date(Math.floor(seconds) * 1000).toISOString().replace('.000Z', 'Z');
}

export function timeElement(seconds: number): Html {
  const iso = isoSeconds(seconds);
  return html`<time datetime="${iso}">${iso}</time>`;
}

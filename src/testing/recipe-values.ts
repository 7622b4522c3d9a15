/**
 * Hostile option values for the property tests of recipes that write scripts: every piece of
 * `hostileString` that a profile value can carry. `${` becomes `$ {` (a substitution, not a
 * value), and the expected round trip is the text's UTF-8 (lone surrogates become U+FFFD in a file).
 */
import type { Assignment } from '../buildout/loader.ts';
import { hostileString } from './hostile-strings.ts';

export function hostileValue(random: () => number, maxPieces = 12): string {
  return hostileString(random, maxPieces).replaceAll('\0', '').replaceAll('${', '$ {').slice(0, 20_000);
}

/** What a file holding `text` reads back as. */
export function asWritten(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** Assignments `section:option=value` kept as they are (no profile syntax involved). */
export function assign(section: string, values: Record<string, string>): Assignment[] {
  return Object.entries(values).map(([option, value]) => ({ section, option, value }));
}

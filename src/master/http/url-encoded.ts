/**
 * `application/x-www-form-urlencoded` text (a form's body or a query string), decoded strictly: `+`
 * is a space, every `%XX` must be a valid escape and the bytes they give valid UTF-8 (else a 400,
 * never a replacement character), so that every value round-trips exactly.
 */
import { SlapError } from '../../core/errors.ts';

function decodeComponent(text: string, what: () => string): string {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    // Strict: a bad escape, or escaped bytes that are not UTF-8 (surrogates, overlong forms), throw.
    return decodeURIComponent(spaced);
  } catch {
    throw new SlapError('SLAP_ERR_INVALID_INPUT', `${what()} is not valid percent-encoded UTF-8`);
  }
}

/** Shows a hostile field name in a message: quoted, escaped and bounded. */
export function quotedFieldName(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

/** The `[name, value]` pairs of `name=value&…`, in order (empty pairs skipped; names may repeat). */
export function decodeUrlEncoded(text: string, where: string): [string, string][] {
  const pairs: [string, string][] = [];
  if (text === '') return pairs;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const rawName = equals < 0 ? pair : pair.slice(0, equals);
    const name = decodeComponent(rawName, () => `a field name of the ${where}`);
    const value =
      equals < 0 ? '' : decodeComponent(pair.slice(equals + 1), () => `field ${quotedFieldName(name)}`);
    pairs.push([name, value]);
  }
  return pairs;
}

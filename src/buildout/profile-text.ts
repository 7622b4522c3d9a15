/**
 * Writing values into a profile (the node's `[slap-connection]` tail, the software directory's
 * `buildout.cfg`): the text after `key = ` such that a recipe reading the option gets exactly the
 * value — or a clear error when the profile syntax cannot hold it. Unlike the installed-parts
 * record, a profile has no escape for line breaks or for whitespace at the ends of a value, so a
 * value with control characters, line breaks (any Unicode one) or such whitespace is refused; a
 * `${` is written `$${` (read back as `${`), and `$${` itself, which has no escape, is refused
 * (docs/buildout.md, "Values the node writes into profiles"). `profileWord` is for `extends`,
 * read as whitespace-separated words without substitution.
 */
import { SlapError } from '../core/errors.ts';

const UNWRITABLE =
  /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const EDGE_SPACE = /^[\s\x1c-\x1f\x85]|[\s\x1c-\x1f\x85]$/;

function refuse(key: string, reason: string): SlapError {
  return new SlapError('SLAP_ERR_PROFILE', `cannot write ${key} into a profile: the value ${reason}`, {
    details: { option: key },
    hint: 'Profile values are one line, without control characters, whitespace at either end or "$${".',
  });
}

/** The text of `value` on the right of `key = ` (`key` names it in the error). */
export function profileValue(key: string, value: string): string {
  if (UNWRITABLE.test(value))
    throw refuse(key, 'holds a line break, a control character or a lone surrogate');
  if (EDGE_SPACE.test(value)) throw refuse(key, 'starts or ends with whitespace');
  if (value.includes('$${')) throw refuse(key, 'holds "$${", which a profile cannot escape');
  // A function: in a replacement string `$$` would mean one `$`.
  return value.replaceAll('${', () => '$${');
}

/**
 * A word of an option read as a whitespace-separated list without substitution (`extends`): no
 * whitespace or control character at all, written as it is.
 */
export function profileWord(key: string, value: string): string {
  if (value === '' || /[\s\x1c-\x1f\x85]/.test(value) || UNWRITABLE.test(value))
    throw refuse(key, 'is empty or holds whitespace or a control character');
  return value;
}

/** One `key = value` line. */
export function profileOption(key: string, value: string): string {
  return `${key} = ${profileValue(key, value)}`;
}

/** A list option: one (non-empty) item per continuation line, indented by two spaces. */
export function profileListOption(key: string, values: readonly string[]): string {
  if (values.length === 0) return `${key} = `;
  const items = values.map((item) => {
    if (item === '') throw refuse(key, 'has an empty item');
    return `  ${profileValue(key, item)}`;
  });
  return `${key} =\n${items.join('\n')}`;
}

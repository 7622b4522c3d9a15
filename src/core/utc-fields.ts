/** Calendar fields read from text, as a time: only when they name a real UTC date and time. */

/**
 * Milliseconds since the epoch of the UTC date and time `[year, month (1-12), day, hour, minute,
 * second, ms?]` give; undefined when one is missing or out of its range (2026-13-31, 02-30, 24:00,
 * :60): refused rather than rolled over.
 */
export function utcFieldsTime(fields: readonly number[]): number | undefined {
  const [year = NaN, month = NaN, day = NaN, hour = NaN, minute = NaN, second = NaN, ms = 0] = fields;
  const time = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const back = new Date(time);
  if (
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day ||
    back.getUTCHours() !== hour ||
    back.getUTCMinutes() !== minute ||
    back.getUTCSeconds() !== second
  )
    return undefined;
  return time;
}

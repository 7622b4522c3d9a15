/**
 * Text from elsewhere (a title, an error, a log tail) shown to a person on one line or in lines:
 * every line terminator a terminal, Python's splitlines or Unicode honours is recognised, and the
 * other control characters are made visible as `\u001b`-style escapes. The terminal (src/cli), the
 * invoice documents (src/master/invoices) and anything else that prints outside text share it.
 */

/** Every line terminator a terminal, Python's splitlines or Unicode honours. */
export const LINE_BREAK = /\r\n|[\n\r\v\f\u001c-\u001e\u0085\u2028\u2029]/;
const LINE_BREAKS = new RegExp(LINE_BREAK.source, 'g');
/** Control characters left once lines are cut (the tab stays). */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** One line as shown: control characters as `\u001b`-style escapes. */
export function printableLine(text: string): string {
  return text.replace(CONTROL, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A text on one line: line terminators as spaces, the other control characters made visible. */
export function oneLine(text: string): string {
  return printableLine(text.replace(LINE_BREAKS, ' '));
}

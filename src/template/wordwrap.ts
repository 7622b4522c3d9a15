/**
 * Jinja2's `wordwrap` filter: each line of the text wrapped by Python's `textwrap.wrap` (no tab
 * expansion, whitespace kept, whitespace at line ends dropped, hyphenated words split), joined
 * with `wrapstring` (default newline).
 */
import { strLen } from './values.ts';

const WS = '[\\t\\n\\x0b\\x0c\\r ]';
const NWS = '[^\\t\\n\\x0b\\x0c\\r ]';
const WORD = '[\\p{L}\\p{N}\\p{Mn}\\p{Pc}]';
const WORD_PUNCT = `(?:${WORD}|[!"'&.,?])`;
const LETTER = '(?:(?!\\p{Nd})[\\p{L}\\p{N}\\p{Mn}\\p{Pc}])';
const WORDSEP = new RegExp(
  `(${WS}+` +
    `|(?<=${WORD_PUNCT})-{2,}(?=${WORD})` +
    `|${NWS}+?(?:-(?:(?<=${LETTER}{2}-)|(?<=${LETTER}-${LETTER}-))(?=${LETTER}-?${LETTER})` +
    `|(?=${WS}|$)` +
    `|(?<=${WORD_PUNCT})(?=-{2,}${WORD})))`,
  'u',
);
const WORDSEP_SIMPLE = new RegExp(`(${WS}+)`);
const LINE_BREAK = /\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]/;

function isBlank(s: string): boolean {
  return s.trim() === '';
}

function handleLongWord(
  chunks: string[],
  line: string[],
  lineLen: number,
  width: number,
  breakLong: boolean,
  hyphens: boolean,
): void {
  const spaceLeft = width < 1 ? 1 : width - lineLen;
  const chunk = chunks.at(-1)!;
  if (breakLong) {
    const chars = Array.from(chunk);
    let end = spaceLeft;
    if (hyphens && chars.length > spaceLeft) {
      const hyphen = chars.slice(0, spaceLeft).lastIndexOf('-');
      if (hyphen > 0 && chars.slice(0, hyphen).some((c) => c !== '-')) end = hyphen + 1;
    }
    line.push(chars.slice(0, end).join(''));
    chunks[chunks.length - 1] = chars.slice(end).join('');
  } else if (line.length === 0) {
    line.push(chunks.pop()!);
  }
}

/** Python's `textwrap.wrap(text, width, expand_tabs=False, replace_whitespace=False, …)`. */
export function textwrap(text: string, width: number, breakLong: boolean, hyphens: boolean): string[] {
  const chunks = text.split(hyphens ? WORDSEP : WORDSEP_SIMPLE).filter((c) => c !== '' && c !== undefined);
  chunks.reverse();
  const lines: string[] = [];
  while (chunks.length) {
    const line: string[] = [];
    let lineLen = 0;
    if (isBlank(chunks.at(-1)!) && lines.length) chunks.pop();
    while (chunks.length) {
      const l = strLen(chunks.at(-1)!);
      if (lineLen + l > width) break;
      line.push(chunks.pop()!);
      lineLen += l;
    }
    if (chunks.length && strLen(chunks.at(-1)!) > width) {
      handleLongWord(chunks, line, lineLen, width, breakLong, hyphens);
    }
    if (line.length && isBlank(line.at(-1)!)) line.pop();
    if (line.length) lines.push(line.join(''));
  }
  return lines;
}

/** Python's `str.splitlines()`. */
function splitlines(s: string): string[] {
  const lines = s.split(LINE_BREAK);
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return s === '' ? [] : lines;
}

export function wordwrap(
  s: string,
  width: number,
  breakLong: boolean,
  wrapstring: string,
  hyphens: boolean,
): string {
  return splitlines(s)
    .map((line) => textwrap(line, width, breakLong, hyphens).join(wrapstring))
    .join(wrapstring);
}

/**
 * Text from a master or a node (error messages, build log tails, titles) shown in a terminal: cut
 * into lines at every line terminator (not only \n), the other control characters made visible,
 * continuation lines indented under their first line, and tables with a header row whose last
 * column may hold several lines. What comes from elsewhere never changes the shape of the output.
 */

import { LINE_BREAK, oneLine, printableLine } from '../core/printable-text.ts';

export { oneLine, printableLine };

/** The printable lines of a text (a trailing line break does not add an empty line). */
export function textLines(text: string): string[] {
  const lines = text.split(LINE_BREAK).map(printableLine);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** `first` before the first line, `indent` before each of the others. */
export function indentBlock(text: string, first: string, indent: string): string[] {
  return textLines(text).map((line, index) => `${index === 0 ? first : indent}${line}`.trimEnd());
}

/**
 * Rows under a header, columns padded to their widest cell (two spaces apart), each line starting
 * with `indent`. Cells but the last are one line; the last may hold several, the others indented
 * to where it starts.
 */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  options: { indent?: string } = {},
): string[] {
  const indent = options.indent ?? '';
  const last = header.length - 1;
  const cells = [header, ...rows].map((row) =>
    row.map((cell, index) => (index < last ? oneLine(cell) : cell)),
  );
  const widths = header.map((_, index) =>
    index < last ? Math.max(...cells.map((row) => (row[index] ?? '').length)) : 0,
  );
  return cells.flatMap((row) => {
    const lead = row
      .slice(0, last)
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ');
    const start = `${indent}${lead}${last > 0 ? '  ' : ''}`;
    return indentBlock(row[last] ?? '', start, ' '.repeat(start.length));
  });
}

/**
 * Multi-row INSERTs through the store's prepared statements (sql-executor.ts), which are compiled
 * once per key: rows go in batches of a few fixed sizes (MAX_BATCH_ROWS, then powers of two for the
 * rest), so a table needs at most log2(MAX_BATCH_ROWS) + 1 statements whatever the row counts.
 * MAX_BATCH_ROWS × columns stays far below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
 */
import { param } from './query-params.ts';

export const MAX_BATCH_ROWS = 256;

/** The batch sizes `count` rows go in: full batches, then the binary digits of the rest, largest first. */
export function batchSizes(count: number, max = MAX_BATCH_ROWS): number[] {
  const sizes: number[] = [];
  let left = count;
  while (left >= max) {
    sizes.push(max);
    left -= max;
  }
  for (let size = max >> 1; size >= 1; size >>= 1)
    if (left >= size) {
      sizes.push(size);
      left -= size;
    }
  return sizes;
}

/** The placeholder names of row i's columns (`c_i`), made once per column list and row. */
const namesByColumns = new WeakMap<readonly string[], string[][]>();

function rowNames(columns: readonly string[], row: number): string[] {
  let names = namesByColumns.get(columns);
  if (!names) namesByColumns.set(columns, (names = []));
  for (let i = names.length; i <= row; i++) names.push(columns.map((column) => `${column}_${i}`));
  return names[row] as string[];
}

/** Placeholders for `size` rows of `columns`: row i's column c is named `c_i`. */
export function rowPlaceholders<Column extends string>(
  size: number,
  columns: readonly Column[],
): Record<Column, unknown>[] {
  return Array.from({ length: size }, (_, i) => {
    const names = rowNames(columns, i);
    return Object.fromEntries(columns.map((column, c) => [column, param(names[c] as string)])) as Record<
      Column,
      unknown
    >;
  });
}

/** The arguments binding `rowPlaceholders` to `rows` . */
export function rowArguments<Column extends string>(
  rows: readonly Readonly<Record<Column, unknown>>[],
  columns: readonly Column[],
): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  rows.forEach((row, i) => {
    const names = rowNames(columns, i);
    columns.forEach((column, c) => {
      args[names[c] as string] = row[column];
    });
  });
  return args;
}

/** Runs `insert` on consecutive batches of `rows` (sizes from batchSizes); resolves to the sum of its results. */
export async function inBatches<Row>(
  rows: readonly Row[],
  insert: (batch: readonly Row[]) => Promise<number>,
): Promise<number> {
  let offset = 0;
  let total = 0;
  for (const size of batchSizes(rows.length)) {
    total += await insert(rows.slice(offset, offset + size));
    offset += size;
  }
  return total;
}

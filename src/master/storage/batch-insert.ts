/**
 * Multi-row INSERTs through the store's prepared statements (sql-executor.ts), which are compiled
 * once per key: rows go in batches of a few fixed sizes (MAX_BATCH_ROWS, then powers of two for the
 * rest), so a table needs at most log2(MAX_BATCH_ROWS) + 1 statements whatever the row counts.
 * MAX_BATCH_ROWS × columns stays far below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
 */
import { rowParam } from './query-params.ts';

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

/**
 * Placeholders for `size` rows of `columns`: row i's column c reads `args[ROWS][i][c]`
 * (query-params.ts), so a batch's arguments are its rows as they are.
 */
export function rowPlaceholders<Column extends string>(
  size: number,
  columns: readonly Column[],
): Record<Column, unknown>[] {
  return Array.from(
    { length: size },
    (_, i) =>
      Object.fromEntries(columns.map((column) => [column, rowParam(column, i)])) as Record<Column, unknown>,
  );
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

/**
 * The one byte range of a `Range` header a blob download honours (slapos.libnetworkcache resumes
 * a cut download with `Range: bytes=N-`). Several ranges, or another unit, are ignored (the whole
 * blob is sent, as RFC 9110 allows); a range starting past the end is unsatisfiable (416).
 */
export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // The last N bytes.
    const length = Number(last);
    if (length === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}

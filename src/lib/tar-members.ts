/**
 * Lists the members of a tar stream (ustar, GNU long names, pax headers) without extracting
 * anything: name, type and link target of each, so an archive can be judged before GNU tar
 * writes a byte. Data blocks are skipped, never buffered.
 */
import type { Readable } from 'node:stream';

export type TarMemberType =
  'file' | 'hardlink' | 'symlink' | 'directory' | 'char-device' | 'block-device' | 'fifo' | 'other';

export interface TarMember {
  readonly name: string;
  readonly type: TarMemberType;
  /** Raw type flag (for messages about `other`). */
  readonly flag: string;
  /** Hard link or symbolic link target. */
  readonly linkName: string;
}

const BLOCK = 512;

const TYPES: Record<string, TarMemberType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

function numeric(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if ((field[0] ?? 0) & 0x80) {
    // GNU base-256: big-endian with the top bit set.
    let value = (field[0] ?? 0) & 0x7f;
    for (let i = 1; i < field.length; i += 1) value = value * 256 + (field[i] ?? 0);
    return value;
  }
  const text = cString(block, start, length).trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new Error(`bad numeric field ${JSON.stringify(text)} in a tar header`);
  return parseInt(text, 8);
}

function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space === -1) break;
    const length = Number(data.subarray(offset, space).toString('latin1'));
    if (!Number.isSafeInteger(length) || length <= 0 || offset + length > data.length)
      throw new Error('bad pax extended header record');
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    offset += length;
  }
  return records;
}

function isZeroBlock(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

/** Every member of the tar `stream` (already decompressed), in order. */
export async function listTarMembers(
  stream: Readable,
  limits = { maxMembers: 5_000_000 },
): Promise<TarMember[]> {
  const members: TarMember[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0;
  /** Bytes of a pax/long-name header's data still to collect, and what it is for. */
  let collect: { flag: string; size: number; chunks: Buffer[]; got: number } | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  let ended = false;

  const header = (block: Buffer): void => {
    if (isZeroBlock(block)) {
      ended = true;
      return;
    }
    const flag = String.fromCharCode(block[156] ?? 0);
    let size = numeric(block, 124, 12);
    if (pax.has('size')) size = Number(pax.get('size'));
    if (!Number.isSafeInteger(size) || size < 0) throw new Error('bad member size in a tar header');
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x' || flag === 'L' || flag === 'K' || flag === 'g') {
      if (size > 1024 * 1024) throw new Error('tar extended header over 1 MiB');
      collect = { flag, size, chunks: [], got: 0 };
      skip = padded;
      return;
    }
    const magic = block.subarray(257, 263).toString('latin1');
    // POSIX ustar ("ustar\0") has a name prefix there; old GNU ("ustar  ") keeps times in it.
    const prefix = magic === 'ustar\0' ? cString(block, 345, 155) : '';
    const plainName = cString(block, 0, 100);
    const name = pax.get('path') ?? longName ?? (prefix === '' ? plainName : `${prefix}/${plainName}`);
    const linkName = pax.get('linkpath') ?? longLink ?? cString(block, 157, 100);
    members.push({ name, type: TYPES[flag] ?? 'other', flag, linkName });
    if (members.length > limits.maxMembers) throw new Error(`over ${limits.maxMembers} members`);
    longName = undefined;
    longLink = undefined;
    pax = new Map();
    // Hard links, symlinks, directories and devices carry no data whatever their size field says
    // (GNU tar); regular files do.
    skip = TYPES[flag] === 'file' || TYPES[flag] === undefined ? padded : 0;
  };

  const finishCollect = (): void => {
    if (!collect) return;
    const data = Buffer.concat(collect.chunks).subarray(0, collect.size);
    if (collect.flag === 'x') pax = paxRecords(data);
    else if (collect.flag === 'L') longName = cString(data, 0, data.length);
    else if (collect.flag === 'K') longLink = cString(data, 0, data.length);
    collect = undefined;
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (ended) continue;
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (!ended) {
      if (skip > 0) {
        const take = Math.min(skip, pending.length - offset);
        if (take === 0) break;
        if (collect && collect.got < collect.size) {
          collect.chunks.push(pending.subarray(offset, offset + take));
          collect.got += take;
        }
        offset += take;
        skip -= take;
        if (skip === 0) finishCollect();
        continue;
      }
      if (pending.length - offset < BLOCK) break;
      header(pending.subarray(offset, offset + BLOCK));
      offset += BLOCK;
      if (skip === 0) finishCollect();
    }
    pending = Buffer.from(pending.subarray(offset));
  }
  if (!ended) throw new Error('the archive is truncated (no end-of-archive marker)');
  return members;
}

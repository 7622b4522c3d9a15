/**
 * Request bodies: JSON only, at most 1 MiB of UTF-8 (strict: invalid sequences and a byte order
 * mark are refused, not replaced), nesting at most 64 levels, no duplicate keys, no
 * prototype-poisoning keys. The raw text is kept so that handlers can re-read numbers with their
 * Python types.
 *
 * A body over the limit is still read, and thrown away, up to DISCARD_LIMIT_BYTES before the 413 is
 * sent: a server that answers and closes while the client is still sending resets the connection,
 * and the client then often loses the answer (docs/master.md, "Limits").
 */
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { SlapError } from '../../core/errors.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** How much of a body over BODY_LIMIT_BYTES is read and thrown away before the 413 is sent. */
export const DISCARD_LIMIT_BYTES = 8 * 1024 * 1024;
export const MAX_NESTING = 64;
/** Members of one JSON object (parameter dictionaries included): real ones hold tens to hundreds. */
export const MAX_OBJECT_MEMBERS = 1000;
/** Values in one body (object members and array items, at any depth). */
export const MAX_JSON_VALUES = 50_000;

function invalid(message: string): SlapError {
  return new SlapError('SLAP_ERR_INVALID_INPUT', message);
}

/** The 413 of a body over BODY_LIMIT_BYTES. */
export function tooLarge(): SlapError {
  return new SlapError('SLAP_ERR_PAYLOAD_TOO_LARGE', 'Request body is larger than 1 MiB.');
}

/**
 * Reads a request body as the chunks received. Over BODY_LIMIT_BYTES it keeps reading but drops the
 * bytes, and rejects with SLAP_ERR_PAYLOAD_TOO_LARGE once the body has ended; past
 * DISCARD_LIMIT_BYTES (or when the announced length is already past it) it rejects at once and the
 * connection is closed with the answer.
 */
export function readBodyChunks(
  stream: Readable,
  options: { contentLength?: string | undefined },
): Promise<Buffer[]> {
  const announced = options.contentLength === undefined ? undefined : Number(options.contentLength);
  if (announced !== undefined && announced > DISCARD_LIMIT_BYTES) return Promise.reject(tooLarge());
  return new Promise<Buffer[]>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (error: Error | undefined): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (error) reject(error);
      else resolve(chunks);
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > DISCARD_LIMIT_BYTES) finish(tooLarge());
      else if (received <= BODY_LIMIT_BYTES) chunks.push(chunk);
      else chunks.length = 0;
    };
    const onEnd = (): void => finish(received > BODY_LIMIT_BYTES ? tooLarge() : undefined);
    const onError = (error: Error): void =>
      finish(invalid(`The request body could not be read: ${error.message}`));
    const onClose = (): void =>
      finish(invalid('The client closed the connection before sending its whole body.'));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/** readBodyChunks, in one buffer. */
export async function readBody(
  stream: Readable,
  options: { contentLength?: string | undefined },
): Promise<Buffer> {
  return joinChunks(await readBodyChunks(stream, options));
}

export function joinChunks(chunks: readonly Buffer[]): Buffer {
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

const BYTE_ORDER_MARK = 'The request body starts with a byte order mark; send UTF-8 without one.';
const NOT_UTF8 = 'The request body is not valid UTF-8.';

/** The body as text: UTF-8 only, invalid sequences refused (never replaced), no byte order mark. */
export function decodeBody(bytes: Buffer): string {
  if (startsWithByteOrderMark([bytes])) throw invalid(BYTE_ORDER_MARK);
  // isUtf8 (simdutf) then toString: several times faster than a fatal TextDecoder on large bodies.
  if (!isUtf8(bytes)) throw invalid(NOT_UTF8);
  return bytes.toString('utf8');
}

/** Where the last complete UTF-8 sequence of `bytes` ends (a sequence cut by the chunk's end is left out). */
function completeSequencesEnd(bytes: Buffer): number {
  let start = bytes.length - 1;
  while (start > 0 && start > bytes.length - 4 && ((bytes[start] ?? 0) & 0xc0) === 0x80) start--;
  const lead = bytes[start] ?? 0;
  const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - start < length ? start : bytes.length;
}

function startsWithByteOrderMark(chunks: readonly Buffer[]): boolean {
  const mark = [0xef, 0xbb, 0xbf];
  let matched = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length && matched < mark.length; i++, matched++) {
      if (chunk[i] !== mark[matched]) return false;
    }
    if (matched === mark.length) return true;
  }
  return false;
}

/** Bytes decoded per event-loop turn by decodeLargeBody. */
const DECODED_PER_TURN = 256 * 1024;

/**
 * decodeBody of the chunks joined, without joining them, yielding the event loop every
 * DECODED_PER_TURN bytes: each chunk is checked and decoded on its own (a sequence cut between two
 * chunks is carried to the next), and the pieces are concatenated (V8 joins them lazily). For large
 * bodies: no copy of the whole body, no 1 MiB transcoded in one call.
 */
export async function decodeLargeBody(chunks: readonly Buffer[]): Promise<string> {
  if (startsWithByteOrderMark(chunks)) throw invalid(BYTE_ORDER_MARK);
  let text = '';
  let carry: Buffer | undefined;
  let sinceYield = 0;
  for (const chunk of chunks) {
    if (sinceYield >= DECODED_PER_TURN) {
      sinceYield = 0;
      await setImmediate();
    }
    const bytes = carry ? Buffer.concat([carry, chunk]) : chunk;
    const end = completeSequencesEnd(bytes);
    const piece = bytes.subarray(0, end);
    if (!isUtf8(piece)) throw invalid(NOT_UTF8);
    text += piece.toString('utf8');
    sinceYield += end;
    carry = end < bytes.length ? bytes.subarray(end) : undefined;
  }
  if (carry) throw invalid(NOT_UTF8);
  return text;
}

// Per depth: whether the container is an array, and its members (objects) or whether its first item
// was seen (arrays). Shared: the scan is synchronous, and each level is reset when entered.
const SCAN_IS_ARRAY = new Uint8Array(MAX_NESTING + 1);
const SCAN_COUNTS = new Uint32Array(MAX_NESTING + 1);

/**
 * Checks the structure of a JSON text before it is parsed, so that what parsing and everything after
 * it costs stays bounded: nesting (deep values would exhaust the stack later), members per object,
 * values in all. Returns the number of object members (one `:` outside strings each). Linear, no
 * allocation.
 */
function scanStructure(text: string): number {
  let depth = 0;
  let members = 0;
  let values = 0;
  const isArray = SCAN_IS_ARRAY;
  const counts = SCAN_COUNTS;
  isArray[0] = 0;
  counts[0] = 0;
  // Strings are skipped with indexOf (much faster than a loop over their characters); the next quote
  // and backslash are looked up only once passed, so the whole scan stays linear.
  let quote = -2;
  let backslash = -2;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (isArray[depth] === 1 && counts[depth] === 0 && char > 0x20 && char !== 0x5d) {
      counts[depth] = 1; // an array's first item (the others follow a comma)
      values++;
    }
    if (char === 0x22) {
      let at = i + 1;
      for (;;) {
        if (quote !== -1 && quote < at) quote = text.indexOf('"', at);
        if (backslash !== -1 && backslash < at) backslash = text.indexOf('\\', at);
        if (quote === -1) {
          at = text.length; // unterminated: JSON.parse refuses it
          break;
        }
        if (backslash === -1 || backslash > quote) break;
        at = backslash + 2; // an escape: the character after the backslash is not a quote that ends
      }
      i = quote === -1 ? at : quote;
      continue;
    }
    if (char === 0x3a) {
      members++;
      values++;
      const count = (counts[depth] ?? 0) + 1;
      counts[depth] = count;
      if (count > MAX_OBJECT_MEMBERS) {
        throw new SlapError(
          'SLAP_ERR_PAYLOAD_TOO_LARGE',
          `A JSON object in the body has more than ${MAX_OBJECT_MEMBERS} members.`,
        );
      }
    } else if (char === 0x2c) {
      if (isArray[depth] === 1) values++;
    } else if (char === 0x7b || char === 0x5b) {
      if (++depth > MAX_NESTING) throw invalid(`The JSON body is nested deeper than ${MAX_NESTING} levels.`);
      isArray[depth] = char === 0x5b ? 1 : 0;
      counts[depth] = 0;
    } else if ((char === 0x7d || char === 0x5d) && --depth < 0) {
      throw invalid('The request body is not valid JSON: a bracket closes nothing.');
    }
    if (values > MAX_JSON_VALUES) {
      throw new SlapError(
        'SLAP_ERR_PAYLOAD_TOO_LARGE',
        `The JSON body holds more than ${MAX_JSON_VALUES} values.`,
      );
    }
  }
  return members;
}

/**
 * The number of own keys in all the objects of a parsed value; refuses prototype-poisoning keys on
 * the way. Fewer keys than members in the text means a key was repeated (JSON.parse keeps the last).
 */
function countKeys(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (const item of value) count += countKeys(item);
    return count;
  }
  const object = value as Record<string, unknown>;
  // for…in: no array of entries per object (JSON.parse objects inherit nothing enumerable).
  for (const key in object) {
    const item = object[key];
    if (
      key === '__proto__' ||
      (key === 'constructor' && item !== null && typeof item === 'object' && 'prototype' in item)
    ) {
      throw invalid(`The JSON body holds a forbidden key: ${key}`);
    }
    count += 1 + countKeys(item);
  }
  return count;
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalid(
      `The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

function checkKeys(value: unknown, members: number): void {
  if (members > 0 && countKeys(value) !== members) {
    throw invalid('The JSON body repeats a key in an object; each key may appear once.');
  }
}

export function parseJsonBody(text: string): unknown {
  const members = scanStructure(text);
  const value = parseText(text);
  checkKeys(value, members);
  return value;
}

/**
 * Bodies of at least this many bytes (or characters) are handled in steps, the event loop yielded
 * between them (decoding, scanning, parsing, validating, storing, answering), so that no step of one
 * large request holds the other requests for long (docs/master.md, "Limits").
 */
export const LARGE_BODY_BYTES = 64 * 1024;

/** parseJsonBody in three event-loop turns (scan, parse, key check), for large bodies. */
export async function parseLargeJsonBody(text: string): Promise<unknown> {
  const members = scanStructure(text);
  await setImmediate();
  const value = parseText(text);
  await setImmediate();
  checkKeys(value, members);
  return value;
}

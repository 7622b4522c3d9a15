/**
 * Memoized answers (a shared service result encoded once) sent gzip'd to the clients that accept it:
 * compressed once, on the first read that asks, then sent as they are on every later read. Both
 * transports use it (json-api.ts, legacy/legacy-api.ts). Other answers are sent plain: compressing
 * each would cost more CPU than its bytes.
 */
import { gzipSync } from 'node:zlib';
import type { FastifyReply } from 'fastify';
import { acceptsGzip } from './request-context.ts';

/** Below this size a gzip'd answer saves too little to be worth it. */
export const GZIP_MIN_BYTES = 1024;
/**
 * zlib level of the cached gzip bytes. Measured on a 100-instance list (27 KB of JSON): level 1
 * takes half level 6's time for 3% more bytes (2.41 KB against 2.33 KB), and a list is compressed
 * again after every change to it.
 */
const GZIP_LEVEL = 1;
const gzipped = new WeakMap<Buffer, Buffer>();

/** The gzip bytes of a memoized answer's bytes, compressed once. */
function gzipOnce(bytes: Buffer): Buffer {
  let compressed = gzipped.get(bytes);
  if (!compressed) {
    compressed = gzipSync(bytes, { level: GZIP_LEVEL });
    gzipped.set(bytes, compressed);
  }
  return compressed;
}

/**
 * An encoder of memoized service results (shared, unmodified until the next write) for one wire
 * format: each result is encoded once, and every later read of it gets the same bytes.
 */
export function onceEncoder(): (result: object, encode: () => string) => Buffer {
  const encoded = new WeakMap<object, Buffer>();
  return (result, encode) => {
    let bytes = encoded.get(result);
    if (!bytes) {
      bytes = Buffer.from(encode());
      encoded.set(result, bytes);
    }
    return bytes;
  };
}

/** Sends memoized bytes (status and content type already set): gzip'd when large and accepted. */
export function sendMemoized(reply: FastifyReply, bytes: Buffer): FastifyReply {
  if (bytes.length < GZIP_MIN_BYTES) return reply.send(bytes);
  reply.header('vary', 'accept-encoding');
  if (!acceptsGzip(reply.request.headers['accept-encoding'])) return reply.send(bytes);
  return reply.header('content-encoding', 'gzip').send(gzipOnce(bytes));
}

/**
 * The client asks for gzip and decompresses gzip'd answers within maxResponseBytes: a gzip bomb is
 * refused as "too large" without being inflated, a truncated or corrupt gzip body and an unknown
 * Content-Encoding are clear errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { createGzip, gzipSync } from 'node:zlib';
import { startHttpServer } from '../testing/http-server.ts';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';
import { JsonMasterClient } from './master-client.ts';

function sendBytes(response: ServerResponse, bytes: Buffer, encoding: string): void {
  response.writeHead(200, {
    'content-type': 'application/json',
    'content-encoding': encoding,
    'content-length': bytes.length,
  });
  response.end(bytes);
}

async function withAnswer(
  answer: (response: ServerResponse) => void,
  work: (client: JsonMasterClient, acceptEncodings: (string | undefined)[]) => Promise<void>,
  maxResponseBytes?: number,
): Promise<void> {
  const acceptEncodings: (string | undefined)[] = [];
  const server = await startHttpServer((request, response) => {
    acceptEncodings.push(request.headers['accept-encoding']);
    answer(response);
  });
  const client = new JsonMasterClient({
    masterUrl: server.url,
    ...(maxResponseBytes === undefined ? {} : { maxResponseBytes }),
  });
  try {
    await work(client, acceptEncodings);
  } finally {
    await client.close();
    await server.close();
  }
}

const TREES = { result_list: Array.from({ length: 50 }, (_, index) => ({ title: `tree-${index} é\u2028` })) };

test('the client asks for gzip and reads a gzip’d answer as the JSON it holds', async () => {
  const gzipped = gzipSync(JSON.stringify(TREES));
  await withAnswer(
    (response) => sendBytes(response, gzipped, 'gzip'),
    async (client, acceptEncodings) => {
      assert.deepEqual(await client.listInstanceTrees(), TREES.result_list);
      assert.deepEqual(acceptEncodings, ['gzip']);
    },
  );
  // At the limit exactly, the decompressed answer is accepted (as an identity answer is).
  const text = Buffer.from(JSON.stringify(TREES));
  await withAnswer(
    (response) => sendBytes(response, gzipSync(text), 'x-gzip'),
    async (client) => assert.equal((await client.listInstanceTrees()).length, 50),
    text.length,
  );
  await withAnswer(
    (response) => sendBytes(response, text, 'identity'),
    async (client) => assert.equal((await client.listInstanceTrees()).length, 50),
  );
});

/** `size` bytes of zeros gzip'd, compressed piece by piece (the bomb is never whole in memory). */
async function gzipBomb(size: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve) => gzip.once('end', resolve));
  const zeros = Buffer.alloc(1 << 20);
  for (let written = 0; written < size; written += zeros.length) {
    if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await ended;
  return Buffer.concat(chunks);
}

test('a gzip bomb is refused as too large without being inflated', async () => {
  const bomb = await gzipBomb(100 << 20);
  const limit = 1 << 20;
  assert.ok(bomb.length < limit, `the bomb is ${bomb.length} bytes on the wire, under the limit`);
  await withAnswer(
    (response) => sendBytes(response, bomb, 'gzip'),
    async (client) => {
      // The external memory (Buffers) in use, sampled while the answer is read and once it is refused.
      const before = process.memoryUsage().arrayBuffers;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      }, 1);
      try {
        await rejectsWithSlapError(
          client.listInstanceTrees(),
          'SLAP_ERR_UNAVAILABLE',
          new RegExp(`with more than ${limit} bytes`),
        );
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      } finally {
        clearInterval(sampler);
      }
      assert.ok(peak - before < 20 << 20, `${peak - before} bytes of buffers while refusing a 100 MB bomb`);
    },
    limit,
  );
});

test('a truncated or corrupt gzip body, or an unknown encoding, is a clear error', async () => {
  const gzipped = gzipSync(JSON.stringify(TREES));
  const corrupt = Buffer.from(gzipped);
  for (let index = 20; index < 40; index++) corrupt[index] = (corrupt[index] ?? 0) ^ 0x5a;
  const cases: [Buffer, string, RegExp][] = [
    [gzipped.subarray(0, gzipped.length - 20), 'gzip', /with a gzip body that does not decompress/],
    [gzipped.subarray(0, 5), 'gzip', /with a gzip body that does not decompress/],
    [corrupt, 'gzip', /with a gzip body that does not decompress/],
    [Buffer.from(JSON.stringify(TREES)), 'gzip', /with a gzip body that does not decompress/],
    [Buffer.alloc(0), 'gzip', /with a gzip body that does not decompress/],
    [gzipped, 'br', /with an unknown content-encoding "br"/],
    [gzipped, 'gzip, gzip', /with an unknown content-encoding "gzip, gzip"/],
  ];
  for (const [bytes, encoding, message] of cases) {
    await withAnswer(
      (response) => sendBytes(response, bytes, encoding),
      async (client) => {
        const error = await rejectsWithSlapError(client.listInstanceTrees(), 'SLAP_ERR_UNAVAILABLE', message);
        assert.ok(error.hint?.includes('nothing between rewrites its answers'), error.hint);
      },
    );
  }
});

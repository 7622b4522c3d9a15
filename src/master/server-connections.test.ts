/**
 * Connection limits of the master (docs/master.md, "Limits"): slow clients are cut after the headers
 * timeout with a 408, connections over the cap are refused with a 503, both with the API error
 * body; once slots free up, requests are served again. Bounded, loopback only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSlapError } from '../core/errors.ts';
import { apiResponseProblem } from '../testing/api-schema.ts';
import { apiContentTypeProblem, rawResponseHeaders, postJson } from '../testing/master.ts';
import { startMaster, type RunningMaster } from './server.ts';

const PATH = '/slapos.get.v0.hateoas_url';

async function withMaster(
  options: { maxConnections: number; headersTimeoutMs: number },
  work: (master: RunningMaster) => Promise<void>,
): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-connections-'));
  const master = await startMaster({
    port: 0,
    database: { kind: 'sqlite', path: join(directory, 'proxy.db') },
    closeGraceMs: 2_000,
    ...options,
  });
  try {
    await work(master);
  } finally {
    await master.close();
    await rm(directory, { recursive: true, force: true });
  }
}

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * Everything the server sent on `socket` until it closed it (or 10 s passed: then the socket is
 * closed here, and an answer the server did not finish is undefined), parsed as one HTTP answer.
 */
function answerOf(socket: Socket): Promise<RawAnswer | undefined> {
  return new Promise((resolve) => {
    let received = '';
    const deadline = setTimeout(() => {
      received = '';
      socket.destroy();
    }, 10_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(deadline);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) {
        resolve(undefined);
        return;
      }
      const headers = rawResponseHeaders(received.slice(0, end));
      let body: unknown;
      try {
        body = JSON.parse(received.slice(end + 4));
      } catch {
        body = undefined;
      }
      resolve({ status: Number(received.slice(9, 12)), headers, body });
    });
  });
}

function opened(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

function assertApiError(answer: RawAnswer | undefined, status: number, label: string): void {
  assert.ok(answer, `${label}: no answer before the connection closed`);
  assert.equal(answer.status, status, label);
  assert.equal(apiResponseProblem(PATH, status, answer.body), undefined, label);
  assert.equal(apiContentTypeProblem(answer), undefined, label);
  assert.equal(answer.headers.connection, 'close', label);
}

test('slow clients are cut after the headers timeout, connections over the cap are refused, then requests are served again', async () => {
  await withMaster({ maxConnections: 20, headersTimeoutMs: 500 }, async (master) => {
    // 20 slow clients fill every slot: one byte of a request line every 100 ms.
    const slow = await Promise.all(Array.from({ length: 20 }, () => opened(master.port)));
    const slowAnswers = slow.map((socket) => answerOf(socket));
    const request = `POST ${PATH} HTTP/1.1\r\nHost: x\r\n`;
    let sent = 0;
    const trickle = setInterval(() => {
      for (const socket of slow) if (!socket.destroyed) socket.write(request[sent % request.length] ?? 'x');
      sent++;
    }, 100);
    try {
      // Over the cap: a raw request and a fetch both read the 503 and its error body.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const over = await Promise.all(Array.from({ length: 5 }, () => opened(master.port)));
      const overAnswers = over.map((socket) => answerOf(socket));
      for (const socket of over) {
        socket.write(
          `POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
        );
      }
      for (const [index, answer] of (await Promise.all(overAnswers)).entries()) {
        assertApiError(answer, 503, `over the cap #${index}`);
        assert.equal(answer?.headers['retry-after'], '1');
      }
      const refused = await postJson(master.url, PATH, {}, { headers: { connection: 'close' } });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(apiResponseProblem(PATH, 503, refused.body), undefined);

      // The slow ones are answered 408 and closed.
      for (const [index, answer] of (await Promise.all(slowAnswers)).entries()) {
        assertApiError(answer, 408, `slow client #${index}`);
      }
    } finally {
      clearInterval(trickle);
      for (const socket of slow) socket.destroy();
    }
    // Slots are free again.
    const served = await postJson(master.url, PATH, {});
    assert.equal(served.status, 200, served.text);
  });
});

test('a client that connects and sends nothing is cut after the headers timeout', async () => {
  await withMaster({ maxConnections: 2, headersTimeoutMs: 300 }, async (master) => {
    const silent = await opened(master.port);
    const answer = await answerOf(silent);
    assertApiError(answer, 408, 'silent client');
    assert.equal((await postJson(master.url, PATH, {})).status, 200);
  });
});

test('headers too large are a 431 with the API error body', async () => {
  await withMaster({ maxConnections: 4, headersTimeoutMs: 5_000 }, async (master) => {
    const socket = await opened(master.port);
    const answer = answerOf(socket);
    socket.write(`POST ${PATH} HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assertApiError(await answer, 431, 'large headers');
  });
});

test('connection limits must be positive', async () => {
  for (const options of [
    { maxConnections: 0 },
    { maxConnections: 1.5 },
    { headersTimeoutMs: 0 },
    { headersTimeoutMs: 120_000 },
  ]) {
    await assert.rejects(
      startMaster({ port: 0, database: { kind: 'sqlite', path: ':memory:' }, ...options }),
      (error: unknown) => isSlapError(error) && error.code === 'SLAP_ERR_CONFIG',
      JSON.stringify(options),
    );
  }
});

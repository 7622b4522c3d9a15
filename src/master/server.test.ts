import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { pino } from 'pino';
import { Agent } from 'undici';
import { SlapError } from '../core/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { isLoopbackHost, startMaster } from './server.ts';

async function withDirectory(work: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'slapos-server-'));
  try {
    await work(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

test('loopback addresses', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '::ffff:10.0.0.1']) {
    assert.ok(!isLoopbackHost(host), host);
  }
});

/** A logger keeping its records, to see whether the close had to cut connections. */
function recordingLogger(): { logger: Logger; messages: () => string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  return { logger, messages: () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg) };
}

const CUT = 'closing: cutting the connections still open';

test('lifecycle: listening, then closing and closed; close() is idempotent and drops idle keep-alive connections', async () => {
  await withDirectory(async (directory) => {
    const { logger, messages } = recordingLogger();
    const master = await startMaster({
      port: 0,
      database: { kind: 'sqlite', path: join(directory, 'proxy.db') },
      logger,
      closeGraceMs: 30_000,
    });
    assert.equal(master.state, 'listening');
    assert.match(master.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    const response = await agent.request({
      origin: master.url,
      path: '/slapos.get.v0.hateoas_url',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(response.statusCode, 200);
    await response.body.text();
    const first = master.close();
    assert.equal(master.state, 'closing');
    const second = master.close();
    await Promise.all([first, second]);
    assert.equal(master.state, 'closed');
    // The idle keep-alive connection was closed at once: the grace deadline never had to cut it.
    assert.deepEqual(
      messages().filter((message) => message === CUT),
      [],
    );
    assert.ok(messages().includes('master closed'));
    await agent.close();
  });
});

test('close: a connection in the middle of a request is cut at the grace deadline', async () => {
  await withDirectory(async (directory) => {
    const { logger, messages } = recordingLogger();
    const master = await startMaster({
      port: 0,
      database: { kind: 'sqlite', path: join(directory, 'proxy.db') },
      logger,
      closeGraceMs: 50,
    });
    const socket = connect(master.port, '127.0.0.1');
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Headers sent, the body still to come: once the server says "100 Continue" the request is in
    // progress and the connection is not idle.
    const continued = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => chunk.toString('latin1').includes(' 100 ') && resolve()),
    );
    socket.write(
      [
        'POST /slapos.get.v0.hateoas_url HTTP/1.1',
        'Host: 127.0.0.1',
        'Content-Type: application/json',
        'Content-Length: 2',
        'Expect: 100-continue',
        '',
        '',
      ].join('\r\n'),
    );
    await continued;
    await master.close();
    await ended;
    assert.equal(master.state, 'closed');
    assert.ok(messages().includes(CUT), 'the grace deadline cut the connection');
  });
});

test('refusals: a non-loopback address without insecureListen, a port already taken', async () => {
  await withDirectory(async (directory) => {
    await assert.rejects(
      startMaster({ host: '0.0.0.0', port: 0, database: { kind: 'sqlite', path: join(directory, 'a.db') } }),
      (error: unknown) =>
        error instanceof SlapError && error.code === 'SLAP_ERR_INSECURE_LISTEN' && error.exitCode === 5,
    );
    const first = await startMaster({ port: 0, database: { kind: 'sqlite', path: join(directory, 'b.db') } });
    try {
      await assert.rejects(
        startMaster({ port: first.port, database: { kind: 'sqlite', path: join(directory, 'c.db') } }),
        (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_LISTEN_FAILED',
      );
    } finally {
      await first.close();
    }
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { SlapError } from '../core/errors.ts';
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

test('lifecycle: listening, then closing and closed; close() is idempotent and drops idle keep-alive connections', async () => {
  await withDirectory(async (directory) => {
    const master = await startMaster({
      port: 0,
      databasePath: join(directory, 'proxy.db'),
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
    const started = Date.now();
    const first = master.close();
    assert.equal(master.state, 'closing');
    const second = master.close();
    await Promise.all([first, second]);
    assert.equal(master.state, 'closed');
    // The idle keep-alive connection did not hold the close for the grace period.
    assert.ok(Date.now() - started < 20_000);
    await agent.close();
  });
});

test('refusals: a non-loopback address without insecureListen, a port already taken', async () => {
  await withDirectory(async (directory) => {
    await assert.rejects(
      startMaster({ host: '0.0.0.0', port: 0, databasePath: join(directory, 'a.db') }),
      (error: unknown) =>
        error instanceof SlapError && error.code === 'SLAP_ERR_INSECURE_LISTEN' && error.exitCode === 5,
    );
    const first = await startMaster({ port: 0, databasePath: join(directory, 'b.db') });
    try {
      await assert.rejects(
        startMaster({ port: first.port, databasePath: join(directory, 'c.db') }),
        (error: unknown) => error instanceof SlapError && error.code === 'SLAP_ERR_LISTEN_FAILED',
      );
    } finally {
      await first.close();
    }
  });
});

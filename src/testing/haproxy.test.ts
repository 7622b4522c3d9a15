import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXTENSION_SPEC_URL_PATH } from '../api/index.ts';
import { execFile } from '../lib/exec.ts';
import { HAPROXY, haproxyConfig, startHaproxy } from './haproxy.ts';
import { tempDir } from './supervisor.ts';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

test('the configuration is one haproxy accepts (IPv4 and IPv6 servers)', async () => {
  const dir = await tempDir('hap-');
  try {
    const file = join(dir.path, 'haproxy.cfg');
    await writeFile(
      file,
      haproxyConfig({
        bind: { host: '127.0.0.1', port: 8000 },
        servers: [
          { name: 'master0', host: '127.0.0.1', port: 8001 },
          { name: 'master1', host: '::1', port: 8002 },
        ],
        adminSocket: join(dir.path, 'admin.sock'),
      }),
    );
    const check = await execFile(HAPROXY, ['-c', '-f', file], { timeoutMs: 20_000 });
    assert.equal(check.exitCode, 0, check.stderr + check.stdout);
    assert.throws(
      () => haproxyConfig({ bind: { host: '127.0.0.1', port: 8000 }, servers: [] }),
      /at least one/,
    );
  } finally {
    await dir.remove();
  }
});

test('haproxy checks the masters with a HEAD of a static document and sends requests only to those UP', async () => {
  const dir = await tempDir('hap-');
  const checks: string[] = [];
  const up = createServer((request, response) => {
    if (request.method === 'HEAD') checks.push(`${request.method} ${request.url}`);
    response.end(request.method === 'HEAD' ? undefined : 'from up');
  });
  const down = createServer((_request, response) => response.end('from down'));
  const [upPort, downPort] = [await listen(up), await listen(down)];
  try {
    const haproxy = await startHaproxy(dir.path, [
      { name: 'up', host: '127.0.0.1', port: upPort },
      { name: 'down', host: '127.0.0.1', port: downPort },
    ]);
    try {
      assert.deepEqual(await haproxy.serverStates(), { up: 'UP', down: 'UP' });
      assert.ok(checks.includes(`HEAD ${EXTENSION_SPEC_URL_PATH}`), checks.join(', '));
      down.closeAllConnections();
      await new Promise((resolve) => down.close(resolve));
      await haproxy.waitForStates(['down'], 'DOWN');
      for (let call = 0; call < 6; call++) {
        const answer = await fetch(`${haproxy.url}/anything`);
        assert.equal(await answer.text(), 'from up');
      }
    } finally {
      await haproxy.close();
    }
  } finally {
    up.closeAllConnections();
    await new Promise((resolve) => up.close(resolve));
    await dir.remove();
  }
});

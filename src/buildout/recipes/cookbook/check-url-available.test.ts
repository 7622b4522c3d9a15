import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { closedPort, profileRunner, tempDir } from '../../../testing/buildout.ts';
import { seededRandom } from '../../../testing/hostile-strings.ts';
import { asWritten, assign, hostileValue } from '../../../testing/recipe-values.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

const PROFILE = `[buildout]
parts = check
[check]
recipe = slapos.cookbook:check_url_available
path = \${buildout:directory}/bin/check-url
dash_path = /bin/sh
`;

test('check_url_available: the promise passes on the expected status, fails on another or when nothing answers', async () => {
  const dir = await tempDir();
  const server = createServer((req, res) => {
    const status = Number(req.url?.slice(1)) || 200;
    res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const { run } = profileRunner(dir.path);
    const path = join(dir.path, 'bin/check-url');
    const check = async (values: Record<string, string>): Promise<{ code: number | null; err: string }> => {
      await run(PROFILE, { assignments: assign('check', { curl_path: 'curl', ...values }) });
      const result = await execFile(path, []);
      return { code: result.exitCode, err: result.stderr };
    };
    assert.deepEqual(await check({ url: `${base}/200` }), { code: 0, err: '' });
    assert.equal((await stat(path)).mode & 0o777, 0o700);
    assert.deepEqual(await check({ url: `${base}/404` }), {
      code: 2,
      err: `${base}/404 is not available (returned 404, expected 200).\n`,
    });
    assert.equal((await check({ url: `${base}/404`, http_code: '404' })).code, 0);
    assert.equal((await check({ url: `${base}/401` })).code, 2);
    assert.deepEqual(await check({ url: `${base}/401`, 'check-secure': '1' }), {
      code: 0,
      err: `${base}/401 is protected (returned 401).\n`,
    });
    const closed = `http://127.0.0.1:${await closedPort()}/`;
    assert.deepEqual(await check({ url: closed }), {
      code: 1,
      err: `Failed to connect to host: ${closed}.\n`,
    });
    assert.deepEqual(await check({ url: '' }), { code: 3, err: 'No URL specified.\n' });
    // A timeout file holding an integer sets curl's limit; anything else keeps 20 s.
    await writeFile(join(dir.path, 'timeout'), '7\n');
    await check({ url: `${base}/200`, 'timeout-file-path': join(dir.path, 'timeout') });
    assert.match(await readFile(path, 'utf8'), /^#!\/bin\/sh\n/);
    await rejectsWithSlapError(
      run(PROFILE, { assignments: assign('check', { curl_path: 'curl', url: 'x', http_code: '2oo' }) }),
      'SLAP_ERR_PROFILE',
      /check:http_code: expected an integer/,
    );
  } finally {
    server.closeAllConnections();
    server.close();
    await dir.remove();
  }
});

test('check_url_available: hostile values reach curl as single arguments (property)', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    // A stand-in for curl recording its arguments, one per NUL-terminated record.
    const fakeCurl = join(dir.path, 'fake-curl');
    await writeFile(fakeCurl, `#!/bin/sh\nprintf '%s\\0' "$@" > "$0.args"\nprintf 200\n`, { mode: 0o755 });
    const random = seededRandom(3);
    for (let i = 0; i < 25; i++) {
      const url = `x${hostileValue(random)}`;
      const cert = `c${hostileValue(random, 4)}`;
      const timeoutFile = join(dir.path, 'timeout');
      await writeFile(timeoutFile, '9');
      await run(PROFILE, {
        assignments: assign('check', {
          url,
          curl_path: fakeCurl,
          'ca-cert-file': cert,
          'cert-file': cert,
          'key-file': cert,
          'timeout-file-path': timeoutFile,
        }),
      });
      const result = await execFile(join(dir.path, 'bin/check-url'), []);
      assert.equal(result.exitCode, 0, result.stderr);
      const args = (await readFile(`${fakeCurl}.args`, 'utf8')).split('\0').slice(0, -1);
      const c = asWritten(cert);
      assert.deepEqual(args, [
        '-g',
        '-k',
        '-sL',
        '-w',
        '%{http_code}',
        '--max-time',
        '9',
        '-o',
        '/dev/null',
        '--cacert',
        c,
        '--cert',
        c,
        '--key',
        c,
        '--url',
        asWritten(url),
      ]);
    }
    await rejectsWithSlapError(
      run(PROFILE, { assignments: assign('check', { curl_path: 'curl', url: 'http://a\0b' }) }),
      'SLAP_ERR_PROFILE',
      /check:url: a NUL character/,
    );
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closedPort, profileRunner, tempDir } from '../../../testing/buildout.ts';
import { seededRandom } from '../../../testing/hostile-strings.ts';
import { assign, hostileValue } from '../../../testing/recipe-values.ts';
import { selfSignedCertificate } from '../../../testing/self-signed.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

const PROFILE = `[buildout]
parts = server show
[show]
recipe = slapos.recipe.template
output = \${buildout:directory}/address
inline = \${server:address}
[server]
recipe = slapos.cookbook:simplehttpserver
wrapper = \${buildout:directory}/bin/server
log-file = \${buildout:directory}/server.log
`;

/** Starts the wrapper and waits until the server logs that it listens. */
async function start(wrapper: string, log: string): Promise<ChildProcess> {
  const logged = (await readFile(log, 'utf8').catch(() => '')).length;
  const child = spawn(wrapper, [], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (;;) {
    const text = (await readFile(log, 'utf8').catch(() => '')).slice(logged);
    if (text.includes('Starting simple http server at')) return child;
    if (child.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
    await sleep(50);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function call(
  target: { port?: number; socketPath?: string },
  method: string,
  path: string,
  body?: string,
  type?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...(target.socketPath ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }),
        method,
        path,
        headers: type ? { 'content-type': type } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('simplehttpserver: the wrapper serves base-path read-only; writes need allow-write and stay inside', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'www/index.txt': 'hello', 'www/sub/a.json': '{}', 'secret.txt': 'no' });
    const { run } = profileRunner(dir.path);
    const port = await closedPort();
    const profile = `${PROFILE}host = 127.0.0.1\nport = ${port}\nbase-path = \${buildout:directory}/www\n`;
    await run(profile);
    const wrapper = join(dir.path, 'bin/server');
    assert.equal((await stat(wrapper)).mode & 0o777, 0o700);
    assert.match(await readFile(wrapper, 'utf8'), /^#!\/bin\/sh -e\nexec /);
    const log = join(dir.path, 'server.log');
    let child = await start(wrapper, log);
    try {
      const target = { port };
      assert.deepEqual(
        [
          (await call(target, 'GET', '/index.txt')).body,
          (await call(target, 'GET', '/index.txt')).headers['content-type'],
        ],
        ['hello', 'text/plain'],
      );
      assert.equal((await call(target, 'GET', '/../secret.txt')).status, 404, '.. segments are dropped');
      assert.equal((await call(target, 'GET', '/sub')).status, 301);
      const listing = await call(target, 'GET', '/sub/');
      assert.match(listing.body, /<a href="a\.json">a\.json<\/a>/);
      assert.equal((await call(target, 'HEAD', '/index.txt')).body, '');
      const form = 'path=new.txt&content=x&clear=1';
      assert.equal((await call(target, 'POST', '/', form, 'application/x-www-form-urlencoded')).status, 403);
      assert.match(
        await readFile(log, 'utf8'),
        /INFO - 127\.0\.0\.1 - - "GET \/index\.txt HTTP\/1\.1" 200 -\n/,
      );
    } finally {
      await stop(child);
    }

    await run(`${profile}allow-write = true\n`);
    child = await start(wrapper, log);
    try {
      const target = { port };
      const urlencoded = 'application/x-www-form-urlencoded';
      const written = await call(target, 'POST', '/', 'path=d/new.txt&content=a%0Ab&clear=1', urlencoded);
      assert.deepEqual([written.status, written.body], [200, 'Content written to d/new.txt']);
      await call(target, 'POST', '/', 'path=d/new.txt&content=c', urlencoded);
      assert.equal(await readFile(join(dir.path, 'www/d/new.txt'), 'utf8'), 'a\nbc');
      const multipart = new FormData();
      multipart.set('path', 'm.txt');
      multipart.set('content', new Blob(['bytes']));
      multipart.set('clear', '1');
      const encoded = new Response(multipart);
      const type = encoded.headers.get('content-type') as string;
      assert.equal((await call(target, 'POST', '/', await encoded.text(), type)).status, 200);
      assert.equal(await readFile(join(dir.path, 'www/m.txt'), 'utf8'), 'bytes');
      const outside = await call(target, 'POST', '/', 'path=../evil.txt&content=x', urlencoded);
      assert.equal(outside.status, 403);
    } finally {
      await stop(child);
    }
  } finally {
    await dir.remove();
  }
});

test('simplehttpserver: socketpath and abstract sockets; address set during init; exactly one address', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'www/f.txt': 'on a socket' });
    const { run } = profileRunner(dir.path);
    const socketPath = join(dir.path, 's.sock');
    await writeFile(socketPath, ''); // a stale file where the socket goes is replaced
    const base = `${PROFILE}base-path = \${buildout:directory}/www\n`;
    await run(`${base}socketpath = ${socketPath}\n`);
    const child = await start(join(dir.path, 'bin/server'), join(dir.path, 'server.log'));
    try {
      assert.equal((await call({ socketPath }, 'GET', '/f.txt')).body, 'on a socket');
    } finally {
      await stop(child);
    }
    assert.equal(await readFile(join(dir.path, 'address'), 'utf8'), socketPath);
    await run(`${base}host = 127.0.0.1\nport = 8080\n`);
    assert.equal(await readFile(join(dir.path, 'address'), 'utf8'), "!py!('127.0.0.1', 8080)");
    const abstract = `slapos-test-${process.pid}-${Date.now()}`;
    await run(`${base}abstract = ${abstract}\n`);
    assert.equal(await readFile(join(dir.path, 'address'), 'utf8'), `\0${abstract}`);
    const onAbstract = await start(join(dir.path, 'bin/server'), join(dir.path, 'server.log'));
    try {
      assert.equal((await call({ socketPath: `\0${abstract}` }, 'GET', '/f.txt')).body, 'on a socket');
    } finally {
      await stop(onAbstract);
    }

    for (const wrong of [
      '',
      'host = 127.0.0.1\n',
      'host = h\nport = 1\nsocketpath = s\n',
      'abstract = a\nport = 1\n',
    ]) {
      await rejectsWithSlapError(
        run(`${base}${wrong}`),
        'SLAP_ERR_PROFILE',
        /simplehttpserver\): Specify one of \(host, port\) \| socketpath \| abstract/,
      );
    }
  } finally {
    await dir.remove();
  }
});

test('simplehttpserver: hostile directory names reach the server as they are (property)', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const random = seededRandom(17);
    for (let i = 0; i < 6; i++) {
      const name = `w${hostileValue(random, 8)
        .replaceAll('/', '_')
        .replace(/[\ud800-\udfff]/g, 'x')
        .slice(0, 100)}`;
      await mkdir(join(dir.path, name));
      await writeFile(join(dir.path, name, 'f.txt'), name);
      const port = await closedPort();
      await run(`${PROFILE}host = 127.0.0.1\nport = ${port}\n`, {
        assignments: assign('server', { 'base-path': join(dir.path, name) }),
      });
      const child = await start(join(dir.path, 'bin/server'), join(dir.path, 'server.log'));
      try {
        assert.equal((await call({ port }, 'GET', '/f.txt')).body, name);
      } finally {
        await stop(child);
      }
    }
  } finally {
    await dir.remove();
  }
});

test('simplehttpserver: with cert-file (and key-file) it speaks HTTPS', async () => {
  const dir = await tempDir();
  try {
    const { keyPem, certificatePem } = await selfSignedCertificate('127.0.0.1');
    await dir.write({ 'www/f.txt': 'over tls', 'tls/cert.pem': certificatePem, 'tls/key.pem': keyPem });
    const { run } = profileRunner(dir.path);
    const port = await closedPort();
    await run(`${PROFILE}host = 127.0.0.1\nport = ${port}\nbase-path = \${buildout:directory}/www
cert-file = \${buildout:directory}/tls/cert.pem\nkey-file = \${buildout:directory}/tls/key.pem\n`);
    const child = await start(join(dir.path, 'bin/server'), join(dir.path, 'server.log'));
    try {
      const body = await new Promise<string>((resolve, reject) => {
        httpsGet(
          {
            host: '127.0.0.1',
            port,
            path: '/f.txt',
            ca: certificatePem,
            checkServerIdentity: () => undefined,
          },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve(text));
          },
        ).on('error', reject);
      });
      assert.equal(body, 'over tls');
    } finally {
      await stop(child);
    }
  } finally {
    await dir.remove();
  }
});

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, fetch } from 'undici';
import { systemClock } from '../core/clock.ts';
import { readAccessTokenFile } from '../lib/access-token.ts';
import { openTestCertificateAuthority } from '../testing/master-mode-services.ts';
import { hostileString, seededRandom } from '../testing/hostile-strings.ts';
import { CacheIndex } from './cache-index.ts';
import { startCacheServer, type RunningCacheServer } from './cache-server.ts';
import { createUploadToken } from './upload-tokens.ts';

const sha512 = (data: Uint8Array | string): string => createHash('sha512').update(data).digest('hex');

function entryPair(fields: Record<string, unknown>, signature = 'c2lnbmF0dXJl'): string {
  return JSON.stringify([JSON.stringify(fields), signature]);
}

async function blobFiles(server: RunningCacheServer): Promise<string[]> {
  const files: string[] = [];
  for (const prefix of await readdir(server.layout.blobs))
    for (const name of await readdir(join(server.layout.blobs, prefix))) files.push(name);
  return files;
}

/** A request with its path sent as written (fetch would resolve `..` and `%2e%2e` first). */
function rawRequest(
  server: RunningCacheServer,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { host: '127.0.0.1', port: server.port, method, path, headers: options.headers ?? {} },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

function assertRawErrorBody(response: {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}): void {
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = JSON.parse(response.text) as { status: number; type: string; title: string };
  assert.equal(body.status, response.status);
  assert.equal(typeof body.title, 'string');
}

/** Waits (bounded) until `check` holds; the order of events is asserted, never their duration. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail('the condition never held');
}

async function errorBody(response: Response | Awaited<ReturnType<typeof fetch>>): Promise<unknown> {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as { status: number; type: string; title: string };
  assert.equal(body.status, response.status);
  assert.equal(typeof body.type, 'string');
  assert.equal(typeof body.title, 'string');
  return body;
}

describe('cache server over plain HTTP', () => {
  let dir: string;
  let server: RunningCacheServer;
  let token: string;
  let auth: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slapos-cache-'));
    server = await startCacheServer({ dir: join(dir, 'cache'), maxUploadBytes: 64 * 1024 });
    token = await readAccessTokenFile(server.layout.tokenFile);
    auth = { authorization: `Bearer ${token}` };
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the first start makes an upload token into a 0600 file, and keeps only its digest', async () => {
    assert.equal(server.initialTokenCreated, true);
    assert.equal((await stat(server.layout.tokenFile)).mode & 0o777, 0o600);
    assert.equal((await stat(server.layout.dir)).mode & 0o777, 0o700);
    const { readFile } = await import('node:fs/promises');
    const index = await readFile(server.layout.index);
    assert.equal(index.includes(Buffer.from(token)), false);
  });

  test('health answers', async () => {
    const response = await fetch(`${server.url}/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  test('a blob uploaded with the token is answered with its sha512 and downloaded as it was', async () => {
    const data = randomBytes(40_000);
    const response = await fetch(server.shacacheUrl, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: data,
    });
    assert.equal(response.status, 201);
    assert.equal(await response.text(), sha512(data));
    const download = await fetch(`${server.shacacheUrl}/${sha512(data)}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-length'), String(data.length));
    assert.equal(download.headers.get('accept-ranges'), 'bytes');
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), data);
    // Uppercase hex names the same blob.
    const upper = await fetch(`${server.shacacheUrl}/${sha512(data).toUpperCase()}`);
    assert.deepEqual(Buffer.from(await upper.arrayBuffer()), data);
    // The same content again: the same answer, one file.
    const again = await fetch(server.shacacheUrl, { method: 'POST', headers: auth, body: data });
    assert.equal(again.status, 201);
    assert.equal(await again.text(), sha512(data));
    assert.equal((await blobFiles(server)).filter((name) => name === sha512(data)).length, 1);
  });

  test('a body of any content type (or none) is stored as its bytes', async () => {
    const data = Buffer.from('{"not": "parsed"}');
    for (const headers of [{ 'content-type': 'application/json' }, {}]) {
      const response = await fetch(server.shacacheUrl, {
        method: 'POST',
        headers: { ...auth, ...headers },
        body: data,
      });
      assert.equal(response.status, 201);
      assert.equal(await response.text(), sha512(data));
    }
    const empty = await fetch(server.shacacheUrl, { method: 'POST', headers: auth });
    assert.equal(empty.status, 201);
    assert.equal(await empty.text(), sha512(''));
  });

  test('ranges: a resumed download gets the rest, a range past the end is 416, HEAD sends no body', async () => {
    const data = randomBytes(1000);
    await fetch(server.shacacheUrl, { method: 'POST', headers: auth, body: data });
    const url = `${server.shacacheUrl}/${sha512(data)}`;
    const rest = await fetch(url, { headers: { range: 'bytes=600-' } });
    assert.equal(rest.status, 206);
    assert.equal(rest.headers.get('content-range'), 'bytes 600-999/1000');
    assert.deepEqual(Buffer.from(await rest.arrayBuffer()), data.subarray(600));
    const middle = await fetch(url, { headers: { range: 'bytes=10-19' } });
    assert.deepEqual(Buffer.from(await middle.arrayBuffer()), data.subarray(10, 20));
    const tail = await fetch(url, { headers: { range: 'bytes=-5' } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), data.subarray(995));
    const past = await fetch(url, { headers: { range: 'bytes=1000-' } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), 'bytes */1000');
    await errorBody(past);
    const head = await fetch(url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '1000');
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  });

  test('uploads without a valid token are refused with 401, and store nothing', async () => {
    const before = await blobFiles(server);
    const data = randomBytes(2000);
    for (const headers of [
      {},
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: `Bearer ${token}x` },
      { authorization: 'Basic !!!' },
      { authorization: token },
    ]) {
      const response = await fetch(server.shacacheUrl, { method: 'POST', headers, body: data });
      assert.equal(response.status, 401);
      const body = (await errorBody(response)) as { title: string };
      assert.equal(body.title.includes(token), false);
      const put = await fetch(`${server.shadirUrl}/key`, {
        method: 'PUT',
        headers,
        body: entryPair({ sha512: sha512(data) }),
      });
      assert.equal(put.status, 401);
      await errorBody(put);
    }
    assert.deepEqual(await blobFiles(server), before);
    assert.equal((await fetch(`${server.shadirUrl}/key`)).status, 404);
  });

  test('HTTP Basic with the token as password uploads (an upload URL http://user:TOKEN@host/…)', async () => {
    const data = Buffer.from('basic');
    const basic = Buffer.from(`upload:${token}`).toString('base64');
    const response = await fetch(server.shacacheUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}` },
      body: data,
    });
    assert.equal(response.status, 201);
    assert.equal(await response.text(), sha512(data));
  });

  test('a token made later is accepted without a restart', async () => {
    const index = CacheIndex.open(server.layout.index);
    const later = createUploadToken(index, 'later');
    index.close();
    const response = await fetch(server.shacacheUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${later}` },
      body: 'later',
    });
    assert.equal(response.status, 201);
  });

  test('a blob over the size limit is refused with 413 and nothing is left of it', async () => {
    const before = await blobFiles(server);
    // Announced too large.
    const announced = await fetch(server.shacacheUrl, {
      method: 'POST',
      headers: auth,
      body: randomBytes(100_000),
    });
    assert.equal(announced.status, 413);
    await errorBody(announced);
    // Streamed (no length announced), found too large while it arrives.
    const big = randomBytes(100_000);
    const streamed = await fetch(server.shacacheUrl, {
      method: 'POST',
      headers: auth,
      duplex: 'half',
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < big.length; at += 10_000) controller.enqueue(big.subarray(at, at + 10_000));
          controller.close();
        },
      }),
    });
    assert.equal(streamed.status, 413);
    await errorBody(streamed);
    assert.deepEqual(await blobFiles(server), before);
    await eventually(async () => (await readdir(server.layout.incoming)).length === 0);
  });

  test('an upload cut in the middle leaves no blob, and no file behind', async () => {
    const before = await blobFiles(server);
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /shacache HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Length: 50000\r\n\r\n`,
    );
    socket.write(randomBytes(20_000));
    await eventually(async () => (await readdir(server.layout.incoming)).length === 1);
    socket.destroy();
    await eventually(async () => (await readdir(server.layout.incoming)).length === 0);
    assert.deepEqual(await blobFiles(server), before);
    // The server still serves.
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  });

  test('blob names that are not a sha512 are refused with 400; an unknown blob is 404', async () => {
    for (const name of [
      'abc',
      'g'.repeat(128),
      '../../index.sqlite',
      '..%2f..%2findex.sqlite',
      '%2e%2e',
      `${'a'.repeat(128)}/x`,
    ]) {
      const response = await rawRequest(server, 'GET', `/shacache/${name}`);
      assert.equal(response.status, 400, name);
      assertRawErrorBody(response);
    }
    const unknown = await fetch(`${server.shacacheUrl}/${'0'.repeat(128)}`);
    assert.equal(unknown.status, 404);
    await errorBody(unknown);
  });

  test('shadir: entries put under a key are listed as they came, oldest first, each once', async () => {
    const key = createHash('md5').update('https://example.invalid/software.cfg').digest('hex');
    const first = entryPair({
      sha512: sha512('a'),
      software_url: 'https://example.invalid/software.cfg',
      os: ['debian', '12', ''],
    });
    const second = entryPair({ sha512: sha512('b'), multiarch: 'x86_64-linux-gnu' }, '');
    for (const body of [first, second, first]) {
      const response = await fetch(`${server.shadirUrl}/${key}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/json' },
        body,
      });
      assert.equal(response.status, 201);
    }
    const list = await fetch(`${server.shadirUrl}/${key}`);
    assert.equal(list.status, 200);
    assert.match(list.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await list.json(), [JSON.parse(first), JSON.parse(second)]);
    // A source-cache key.
    const sourceKey = `file-urlmd5:${key}`;
    const put = await fetch(`${server.shadirUrl}/${sourceKey}`, {
      method: 'PUT',
      headers: auth,
      body: first,
    });
    assert.equal(put.status, 201);
    assert.deepEqual(await (await fetch(`${server.shadirUrl}/${sourceKey}`)).json(), [JSON.parse(first)]);
    const unknown = await fetch(`${server.shadirUrl}/${'f'.repeat(32)}`);
    assert.equal(unknown.status, 404);
    await errorBody(unknown);
  });

  test('shadir: hostile keys are refused with 400', async () => {
    const body = entryPair({ sha512: sha512('x') });
    for (const key of [
      'a%2Fb',
      'a/b',
      '..',
      '%2e%2e',
      '.hidden',
      'a..b',
      'k'.repeat(256),
      'sp%20ace',
      'nul%00',
      'new%0Aline',
      '%C3%A9',
      '',
    ]) {
      for (const method of ['GET', 'PUT']) {
        const response = await rawRequest(server, method, `/shadir/${key}`, {
          headers: auth,
          ...(method === 'PUT' ? { body } : {}),
        });
        assert.equal(response.status, 400, `${method} ${key}`);
        assertRawErrorBody(response);
      }
    }
  });

  test('shadir: malformed entries are refused with a 4xx that says why, never stored', async () => {
    const key = 'hostile-entries';
    const bodies: [string | Buffer, number][] = [
      ['', 400],
      ['not json', 400],
      ['{"sha512": "x"}', 400],
      ['[]', 400],
      ['["a"]', 400],
      ['["a", "b", "c"]', 400],
      ['[1, "sig"]', 400],
      ['["{}", 1]', 400],
      [JSON.stringify(['not json', '']), 400],
      [JSON.stringify(['[1]', '']), 400],
      [JSON.stringify(['null', '']), 400],
      [entryPair({}), 400],
      [entryPair({ sha512: 'abc' }), 400],
      [entryPair({ sha512: sha512('x').toUpperCase() }), 400],
      [entryPair({ sha512: 12 }), 400],
      [entryPair({ sha512: sha512('x') }, 'not base64!'), 400],
      [JSON.stringify(['{"sha512": "' + sha512('x') + '", "a": "\ud800"}', '']), 400],
      [Buffer.from([0xff, 0xfe, 0x00]), 400],
      [
        Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(entryPair({ sha512: sha512('x') }))]),
        400,
      ],
      [JSON.stringify([JSON.stringify({ sha512: sha512('x'), pad: 'p'.repeat(2 * 1024 * 1024) }), '']), 413],
    ];
    for (const [body, status] of bodies) {
      const response = await fetch(`${server.shadirUrl}/${key}`, {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/json' },
        body,
      });
      assert.equal(response.status, status, String(body).slice(0, 80));
      await errorBody(response);
    }
    assert.equal((await fetch(`${server.shadirUrl}/${key}`)).status, 404);
  });

  test('shadir: entries with any well-formed text round-trip exactly (property)', async () => {
    const random = seededRandom(11);
    const key = 'property';
    const expected: [string, string][] = [];
    for (let i = 0; i < 150; i++) {
      let text = hostileString(random, 10);
      // Lone surrogates are refused (above): keep only well-formed text here.
      text = text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
      const entry = JSON.stringify({ sha512: sha512(String(i)), software_url: text, [text]: i });
      const signature = Buffer.from(text).toString('base64');
      const response = await fetch(`${server.shadirUrl}/${key}`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify([entry, signature]),
      });
      assert.equal(response.status, 201);
      expected.push([entry, signature]);
    }
    assert.deepEqual(await (await fetch(`${server.shadirUrl}/${key}`)).json(), expected);
  });

  test('unknown routes and methods answer 404 with the error body', async () => {
    for (const [method, path] of [
      ['GET', '/'],
      ['DELETE', `/shacache/${'0'.repeat(128)}`],
      ['POST', '/shadir/key'],
      ['GET', '/%zz'],
    ] as const) {
      const response = await fetch(`${server.url}${path}`, { method });
      assert.ok(response.status === 404 || response.status === 400, `${method} ${path}: ${response.status}`);
      await errorBody(response);
    }
  });
});

describe('cache server lifecycle', () => {
  test('a restart keeps blobs, entries and tokens; a second server on the same directory is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slapos-cache-'));
    try {
      const first = await startCacheServer({ dir });
      const token = await readAccessTokenFile(first.layout.tokenFile);
      const auth = { authorization: `Bearer ${token}` };
      await fetch(first.shacacheUrl, { method: 'POST', headers: auth, body: 'kept' });
      await fetch(`${first.shadirUrl}/k`, {
        method: 'PUT',
        headers: auth,
        body: entryPair({ sha512: sha512('kept') }),
      });
      await assert.rejects(startCacheServer({ dir }), { code: 'SLAP_ERR_LOCKED' });
      assert.equal(first.state, 'listening');
      await Promise.all([first.close(), first.close()]);
      assert.equal(first.state, 'closed');

      const second = await startCacheServer({ dir });
      try {
        assert.equal(second.initialTokenCreated, false);
        assert.equal(await readAccessTokenFile(second.layout.tokenFile), token);
        assert.equal(await (await fetch(`${second.shacacheUrl}/${sha512('kept')}`)).text(), 'kept');
        assert.equal(((await (await fetch(`${second.shadirUrl}/k`)).json()) as unknown[]).length, 1);
        const upload = await fetch(second.shacacheUrl, { method: 'POST', headers: auth, body: 'again' });
        assert.equal(upload.status, 201);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('cache server with TLS and a client CA (master mode)', () => {
  test('compute node certificates of the CA upload; other kinds and other CAs do not; downloads need none', async () => {
    const authority = await openTestCertificateAuthority(systemClock);
    const other = await openTestCertificateAuthority(systemClock);
    const dir = await mkdtemp(join(tmpdir(), 'slapos-cache-'));
    const server = await startCacheServer({
      dir,
      tls: {
        key: authority.ca.serverKeyPem,
        cert: authority.ca.serverCertificatePem,
        clientCa: authority.ca.caCertificatePem,
      },
    });
    const agents: Agent[] = [];
    const agent = (material?: { keyPem: string; certificatePem: string }): Agent => {
      const made = new Agent({
        connect: {
          ca: authority.ca.caCertificatePem,
          ...(material === undefined ? {} : { key: material.keyPem, cert: material.certificatePem }),
        },
      });
      agents.push(made);
      return made;
    };
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:/);
      const node = await authority.ca.issueKeyAndCertificate({
        kind: 'compute_node',
        id: 'COMP-1',
        validityDays: 1,
      });
      const instance = await authority.ca.issueKeyAndCertificate({
        kind: 'instance',
        id: 'SOFTINST-1',
        validityDays: 1,
      });
      const stranger = await other.ca.issueKeyAndCertificate({
        kind: 'compute_node',
        id: 'COMP-1',
        validityDays: 1,
      });
      const data = randomBytes(3000);
      const upload = (dispatcher: Agent) =>
        fetch(server.shacacheUrl, { method: 'POST', body: data, dispatcher });
      const byNode = await upload(agent(node));
      assert.equal(byNode.status, 201);
      assert.equal(await byNode.text(), sha512(data));
      const put = await fetch(`${server.shadirUrl}/k`, {
        method: 'PUT',
        body: entryPair({ sha512: sha512(data) }),
        dispatcher: agent(node),
      });
      assert.equal(put.status, 201);
      for (const material of [instance, stranger, undefined]) {
        const refused = await upload(agent(material));
        assert.equal(refused.status, 401);
        await errorBody(refused);
      }
      // Tokens work over TLS too.
      const token = await readAccessTokenFile(server.layout.tokenFile);
      const byToken = await fetch(server.shacacheUrl, {
        method: 'POST',
        body: 'token',
        headers: { authorization: `Bearer ${token}` },
        dispatcher: agent(),
      });
      assert.equal(byToken.status, 201);
      const download = await fetch(`${server.shacacheUrl}/${sha512(data)}`, { dispatcher: agent() });
      assert.deepEqual(Buffer.from(await download.arrayBuffer()), data);
    } finally {
      for (const made of agents) await made.close();
      await server.close();
      await authority.close();
      await other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

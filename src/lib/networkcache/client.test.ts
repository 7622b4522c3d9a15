import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { startHttpServer } from '../../testing/http-server.ts';
import { NetworkcacheClient } from './client.ts';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../client/fixtures/${name}`, import.meta.url.replace('/dist/src/', '/src/')));
const NO_TLS = { caFile: undefined, certFile: undefined, keyFile: undefined };
const BASE = {
  signers: [],
  signatureKey: undefined,
  shacacheTls: NO_TLS,
  shadirTls: NO_TLS,
  uploadToken: undefined,
};

test('https: the cache is trusted through its CA file and sees the client certificate (undici Agent)', async () => {
  const peers: unknown[] = [];
  const server: Server = createServer(
    {
      cert: readFileSync(fixture('master.crt')),
      key: readFileSync(fixture('master.key')),
      ca: readFileSync(fixture('node.crt')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (request, response) => {
      peers.push((request.socket as TLSSocket).getPeerCertificate().subject?.CN);
      response.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const tls = {
      caFile: fixture('master.crt'),
      certFile: fixture('node.crt'),
      keyFile: fixture('node.key'),
    };
    const client = new NetworkcacheClient(
      { cacheUrl: `${url}/cache`, dirUrl: `${url}/dir` },
      { ...BASE, shadirTls: tls },
    );
    assert.deepEqual(await client.entries('abc'), { pairs: [], skipped: [] });
    await client.close();
    assert.equal(peers.length, 1);
    const anonymous = new NetworkcacheClient(
      { cacheUrl: `${url}/cache`, dirUrl: `${url}/dir` },
      { ...BASE, shadirTls: { ...NO_TLS, caFile: fixture('master.crt') } },
    );
    await assert.rejects(
      anonymous.entries('abc'),
      (error: Error & { code?: string }) => error.code === 'SLAP_ERR_DOWNLOAD_FAILED',
    );
    await anonymous.close();
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('credentials: URL userinfo is Basic auth, the token goes on uploads only, neither is ever in a message', async () => {
  const authorizations: [string, string | undefined][] = [];
  const server = await startHttpServer((request, response) => {
    authorizations.push([request.method ?? '', request.headers.authorization]);
    response.writeHead(500).end('no');
  });
  try {
    const host = server.url.replace('http://', '');
    const withUser = new NetworkcacheClient(
      { cacheUrl: `http://user:pa%20ss@${host}/cache`, dirUrl: `http://user:pa%20ss@${host}/dir` },
      BASE,
    );
    const error = await withUser.entries('k').catch((e: Error) => e);
    assert.ok(error instanceof Error);
    assert.equal(error.message.includes('pa%20ss'), false);
    assert.equal(error.message.includes('user'), false);
    assert.deepEqual(authorizations.shift(), [
      'GET',
      `Basic ${Buffer.from('user:pa%20ss').toString('base64')}`,
    ]);

    const withToken = new NetworkcacheClient(
      { cacheUrl: `${server.url}/cache`, dirUrl: `${server.url}/dir` },
      { ...BASE, uploadToken: 'tok-123' },
    );
    const put = await withToken.putEntry('k', '{}').catch((e: Error) => e);
    assert.ok(put instanceof Error);
    assert.equal(put.message.includes('tok-123'), false);
    await withToken.entries('k').catch(() => undefined);
    assert.deepEqual(authorizations, [
      ['PUT', 'Bearer tok-123'],
      ['GET', undefined],
    ]);
  } finally {
    await server.close();
  }
});

/**
 * The client over https (node:https): the master's certificate checked against the given
 * certificate authority, the client certificate presented (mutual TLS), a TLS failure told as one.
 * The certificates in fixtures/ are self-signed test material for 127.0.0.1 (valid 100 years).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { rejectsWithSlapError } from '../testing/slap-error-assert.ts';
import { JsonMasterClient } from './master-client.ts';

const fixture = (name: string): Buffer =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url.replace('/dist/src/', '/src/')));
const MASTER = { cert: fixture('master.crt'), key: fixture('master.key') };
const NODE = { cert: fixture('node.crt'), key: fixture('node.key') };

async function withHttpsMaster(
  work: (url: string, peers: (string | undefined)[]) => Promise<void>,
): Promise<void> {
  const peers: (string | undefined)[] = [];
  const server: Server = createServer(
    { ...MASTER, requestCert: true, rejectUnauthorized: false },
    (request, response) => {
      const peer = (request.socket as TLSSocket).getPeerCertificate();
      const name: unknown = peer.subject?.CN;
      peers.push(typeof name === 'string' ? name : undefined);
      request.resume();
      request.on('end', () => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ result_list: [] }));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await work(`https://127.0.0.1:${(server.address() as AddressInfo).port}`, peers);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('https: the master is trusted through the given CA and sees the client certificate', async () => {
  await withHttpsMaster(async (url, peers) => {
    const client = new JsonMasterClient({ masterUrl: url, tls: { ca: MASTER.cert, ...NODE } });
    try {
      assert.deepEqual(await client.listInstanceTrees(), []);
      assert.deepEqual(await client.listInstanceTrees(), []);
      assert.deepEqual(peers, ['COMP-TLS', 'COMP-TLS']);
    } finally {
      await client.close();
    }
    const anonymous = new JsonMasterClient({ masterUrl: url, tls: { ca: MASTER.cert } });
    try {
      assert.deepEqual(await anonymous.listInstanceTrees(), []);
      assert.equal(peers[2], undefined, 'no client certificate when none is given');
    } finally {
      await anonymous.close();
    }
  });
});

test('https: a master certificate no authority vouches for is a TLS failure, told as one', async () => {
  await withHttpsMaster(async (url, peers) => {
    const client = new JsonMasterClient({ masterUrl: url });
    try {
      const error = await rejectsWithSlapError(client.listInstanceTrees(), 'SLAP_ERR_UNAVAILABLE');
      assert.match(error.message, new RegExp(`cannot reach the master at ${url}`));
      assert.match(error.hint ?? '', /TLS certificates/);
      assert.deepEqual(peers, [], 'no request reached the master');
    } finally {
      await client.close();
    }
  });
});

/**
 * The master authenticator's reading of the peer certificate: once per TLS handshake of a
 * connection (not on every request of a keep-alive connection), and again after a renegotiation,
 * which may present another certificate. The sockets are stand-ins recording their calls; the
 * certificate and node records are in a real (in-memory) store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { fixedClock } from '../../core/clock.ts';
import { openSqliteStore, type SqliteStore } from '../storage/sqlite-store.ts';
import { masterAuthenticator } from './master-authentication.ts';

const NOW = 1_700_000_000;

/** A TLS connection's stand-in: its handshake's Finished message and its peer certificate can change. */
class FakeTlsSocket {
  authorized = true;
  authorizationError: string | undefined = undefined;
  peerCertificateCalls = 0;
  constructor(
    public finished: Buffer,
    public peer: { serialNumber: string; subject: { CN: string; O: string } },
  ) {}
  getFinished(): Buffer {
    return Buffer.from(this.finished);
  }
  getPeerCertificate(): unknown {
    this.peerCertificateCalls++;
    return structuredClone(this.peer);
  }
}

async function nodesWithCertificates(): Promise<SqliteStore> {
  const store = await openSqliteStore({ path: ':memory:' });
  await store.write(async (repository) => {
    await repository.insertUser({ name: 'alice', admin: false, now: 1 });
    for (const [serial, title] of [
      ['0a', 'one'],
      ['0b', 'two'],
    ] as const) {
      const node = await repository.registerComputeNode({ owner: 'alice', title, now: 1 });
      await repository.insertCertificate({
        serial,
        kind: 'compute_node',
        subject: node,
        notAfter: NOW + 1000,
        revokedAt: null,
        createdAt: 1,
      });
    }
  });
  return store;
}

function authenticateOn(store: SqliteStore, socket: FakeTlsSocket) {
  const authenticator = masterAuthenticator({ store, clock: fixedClock(NOW) });
  return () =>
    authenticator.authenticate({ headers: {}, socket: socket as unknown as Socket, ip: '127.0.0.1' });
}

test('the peer certificate is read once per handshake of a keep-alive connection', async () => {
  const store = await nodesWithCertificates();
  try {
    const socket = new FakeTlsSocket(Buffer.from('handshake-1'), {
      serialNumber: '0A',
      subject: { CN: 'COMP-1', O: 'compute_node' },
    });
    const authenticate = authenticateOn(store, socket);
    for (let call = 0; call < 5; call++)
      assert.deepEqual((await authenticate()).caller, { kind: 'compute_node', computeNodeId: 'COMP-1' });
    assert.equal(socket.peerCertificateCalls, 1);
  } finally {
    await store.close();
  }
});

test('a renegotiation that presents another certificate is read again', async () => {
  const store = await nodesWithCertificates();
  try {
    const socket = new FakeTlsSocket(Buffer.from('handshake-1'), {
      serialNumber: '0A',
      subject: { CN: 'COMP-1', O: 'compute_node' },
    });
    const authenticate = authenticateOn(store, socket);
    assert.deepEqual((await authenticate()).caller, { kind: 'compute_node', computeNodeId: 'COMP-1' });
    socket.finished = Buffer.from('handshake-2');
    socket.peer = { serialNumber: '0B', subject: { CN: 'COMP-2', O: 'compute_node' } };
    assert.deepEqual((await authenticate()).caller, { kind: 'compute_node', computeNodeId: 'COMP-2' });
    // A certificate whose subject is not the recorded one is still refused after the first request.
    socket.finished = Buffer.from('handshake-3');
    socket.peer = { serialNumber: '0B', subject: { CN: 'COMP-1', O: 'compute_node' } };
    const forged = await authenticate();
    assert.deepEqual(forged.caller, { kind: 'anonymous' });
    assert.match(forged.refusal ?? '', /subject is not the one this master issued/);
    assert.equal(socket.peerCertificateCalls, 3);
  } finally {
    await store.close();
  }
});

test('each connection is read on its own, and the TLS verdict is checked on every request', async () => {
  const store = await nodesWithCertificates();
  try {
    // Two connections whose handshakes happen to end with equal bytes still get their own reading.
    const one = new FakeTlsSocket(Buffer.from('same'), {
      serialNumber: '0a',
      subject: { CN: 'COMP-1', O: 'compute_node' },
    });
    const two = new FakeTlsSocket(Buffer.from('same'), {
      serialNumber: '0b',
      subject: { CN: 'COMP-2', O: 'compute_node' },
    });
    assert.deepEqual((await authenticateOn(store, one)()).caller, {
      kind: 'compute_node',
      computeNodeId: 'COMP-1',
    });
    assert.deepEqual((await authenticateOn(store, two)()).caller, {
      kind: 'compute_node',
      computeNodeId: 'COMP-2',
    });
    two.authorized = false;
    two.authorizationError = 'CERT_HAS_EXPIRED';
    const refused = await authenticateOn(store, two)();
    assert.deepEqual(refused.caller, { kind: 'anonymous' });
    assert.match(refused.refusal ?? '', /expired/);
  } finally {
    await store.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, chown, mkdtemp, readFile, rm, stat, symlink, writeFile, rename } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { fixedClock, systemClock } from '../../core/clock.ts';
import { createKeyAndCertificateRequest } from '../../lib/certificate-request.ts';
import { EC_P256_SHA256, generateEcKeyPair, privateKeyPem, x509 } from '../../lib/x509.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { openCertificateAuthority, type CertificateAuthority } from './certificate-authority.ts';

const DAY = 86400;

function memoryLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'slapos-ca-'));
  try {
    await run(join(root, 'master'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function open(dir: string, hostNames: string[] = [], clock = fixedClock(systemClock.now())) {
  const { logger, lines } = memoryLogger();
  return openCertificateAuthority({ dir, hostNames, clock, logger }).then((ca) => ({ ca, lines, clock }));
}

function signedByCa(certificatePem: string, ca: CertificateAuthority): boolean {
  const certificate = new X509Certificate(certificatePem);
  const caCertificate = new X509Certificate(ca.caCertificatePem);
  return certificate.checkIssued(caCertificate) && certificate.verify(caCertificate.publicKey);
}

test('first start creates the directory 0700, keys 0600, a 10-year CA and a 2-year server certificate', async () => {
  await withDir(async (dir) => {
    const { ca, lines } = await open(dir, ['master.example.org', '192.0.2.7']);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'ca.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'server.key'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), ca.caCertificatePem);
    assert.equal(await readFile(join(dir, 'server.key'), 'utf8'), ca.serverKeyPem);

    const caCertificate = new X509Certificate(ca.caCertificatePem);
    assert.equal(caCertificate.ca, true);
    const caAsn = new x509.X509Certificate(caCertificate.raw);
    const usage = caAsn.getExtension(x509.KeyUsagesExtension);
    assert.equal(usage?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const caYears = (caAsn.notAfter.getTime() - caAsn.notBefore.getTime()) / (365 * DAY * 1000);
    assert.ok(caYears > 9.9 && caYears < 10.1, `CA validity ${caYears} years`);

    const server = new X509Certificate(ca.serverCertificatePem);
    assert.ok(signedByCa(ca.serverCertificatePem, ca));
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    for (const host of ['master.example.org', 'localhost']) assert.equal(server.checkHost(host), host);
    for (const ip of ['192.0.2.7', '127.0.0.1', '::1']) assert.ok(server.checkIP(ip), ip);
    assert.equal(server.checkHost('other.example.org'), undefined);
    const serverAsn = new x509.X509Certificate(server.raw);
    const serverYears = (serverAsn.notAfter.getTime() - serverAsn.notBefore.getTime()) / (365 * DAY * 1000);
    assert.ok(serverYears > 1.9 && serverYears < 2.1, `server validity ${serverYears} years`);

    assert.deepEqual(
      lines.map((line) => line['msg']),
      ['certificate authority created', 'server certificate issued'],
    );
    const logged = JSON.stringify(lines);
    for (const pem of [ca.serverKeyPem, await readFile(join(dir, 'ca.key'), 'utf8')]) {
      assert.ok(!logged.includes(pem.split('\n')[1] ?? ''), 'no key material in the log');
    }
  });
});

test('a second start loads the same CA and server certificate; new host names get a new server certificate', async () => {
  await withDir(async (dir) => {
    const first = await open(dir, ['master.example.org']);
    const again = await open(dir, ['master.example.org']);
    assert.equal(again.ca.caCertificatePem, first.ca.caCertificatePem);
    assert.equal(again.ca.serverCertificatePem, first.ca.serverCertificatePem);
    assert.equal(again.ca.serverKeyPem, first.ca.serverKeyPem);
    assert.deepEqual(again.lines, []);

    const moved = await open(dir, ['master.example.org', 'new.example.org']);
    assert.equal(moved.ca.caCertificatePem, first.ca.caCertificatePem);
    assert.notEqual(moved.ca.serverCertificatePem, first.ca.serverCertificatePem);
    assert.ok(signedByCa(moved.ca.serverCertificatePem, first.ca));
    assert.equal(
      new X509Certificate(moved.ca.serverCertificatePem).checkHost('new.example.org'),
      'new.example.org',
    );
    assert.deepEqual(
      moved.lines.map((line) => [line['msg'], line['reason']]),
      [['server certificate issued', 'does not cover every host name']],
    );
    // Certificates issued before the server certificate changed are still this CA's.
    const issued = await first.ca.issueKeyAndCertificate({ kind: 'user', id: 'alice', validityDays: 1 });
    assert.equal(moved.ca.inspectPeer(new X509Certificate(issued.certificatePem))?.id, 'alice');
  });
});

test('a server certificate with less than 30 days left is replaced at start', async () => {
  await withDir(async (dir) => {
    const clock = fixedClock(systemClock.now());
    const first = await open(dir, [], clock);
    clock.advance(701 * DAY);
    const later = await open(dir, [], clock);
    assert.notEqual(later.ca.serverCertificatePem, first.ca.serverCertificatePem);
    assert.deepEqual(
      later.lines.map((line) => line['reason']),
      ['expires soon'],
    );
  });
});

test('refuses key files readable by others, owned by another user, symlinked, or a ca.key not matching ca.crt', async () => {
  await withDir(async (dir) => {
    await open(dir);
    const caKey = join(dir, 'ca.key');
    const keyText = await readFile(caKey, 'utf8');
    const keyLine = keyText.split('\n')[1] ?? '';
    const refuses = async (pattern: RegExp): Promise<void> => {
      const error = await rejectsWithSlapError(open(dir), 'SLAP_ERR_CONFIG', pattern);
      assert.ok(!error.message.includes(keyLine));
    };

    await chmod(caKey, 0o640);
    await refuses(/ca\.key.*0600/);
    await chmod(caKey, 0o600);
    await chmod(join(dir, 'server.key'), 0o604);
    await refuses(/server\.key.*0600/);
    await chmod(join(dir, 'server.key'), 0o600);

    if (process.getuid?.() === 0) {
      await chown(caKey, 65534, 65534);
      await refuses(/ca\.key is not owned by the current user/);
      await chown(caKey, 0, 0);
    }

    await rename(caKey, `${caKey}.real`);
    await symlink(`${caKey}.real`, caKey);
    await refuses(/ca\.key is a symbolic link/);
    await rm(caKey);
    await rename(`${caKey}.real`, caKey);

    await withDir(async (otherDir) => {
      await open(otherDir);
      await writeFile(caKey, await readFile(join(otherDir, 'ca.key')), { mode: 0o600 });
    });
    await refuses(/ca\.key .* does not match ca\.crt/);

    await rm(caKey);
    await refuses(/without its ca\.key/);
  });
});

test('refuses a directory writable by others', async () => {
  await withDir(async (dir) => {
    await open(dir);
    await chmod(dir, 0o777);
    await rejectsWithSlapError(open(dir), 'SLAP_ERR_CONFIG', /writable by group or others/);
  });
});

test('refuses host names that are neither DNS names nor IP addresses, before writing anything', async () => {
  await withDir(async (dir) => {
    for (const bad of ['*.example.org', 'a b', 'x,DNS:evil', 'fe80::1%eth0', '', 'a..b', 'é.example']) {
      await rejectsWithSlapError(
        open(dir, [bad]),
        'SLAP_ERR_CONFIG',
        /neither an IP address nor a DNS host name/,
      );
    }
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });
});

test('signRequest issues CN=<id>, O=<kind>, clientAuth, with the serial node prints and the asked validity', async () => {
  await withDir(async (dir) => {
    const { ca, clock } = await open(dir);
    const { csrPem, keyPem } = await createKeyAndCertificateRequest();
    const issued = await ca.signRequest(csrPem, { kind: 'compute_node', id: 'COMP-12', validityDays: 30 });
    const certificate = new X509Certificate(issued.certificatePem);
    assert.equal(certificate.subject, 'CN=COMP-12\nO=compute_node');
    assert.equal(new x509.X509Certificate(certificate.raw).subject, 'CN=COMP-12, O=compute_node');
    assert.deepEqual(certificate.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.equal(certificate.ca, false);
    assert.equal(certificate.subjectAltName, undefined);
    assert.equal(issued.serial, certificate.serialNumber.toLowerCase());
    assert.match(issued.serial, /^[0-9a-f]{32}$/);
    assert.equal(issued.notAfter, Math.floor(clock.now() + 30 * DAY));
    assert.ok(certificate.checkPrivateKey((await import('node:crypto')).createPrivateKey(keyPem)));
    assert.deepEqual(ca.inspectPeer(certificate), {
      kind: 'compute_node',
      id: 'COMP-12',
      serial: issued.serial,
      notAfter: issued.notAfter,
    });

    const again = await ca.signRequest(csrPem, { kind: 'compute_node', id: 'COMP-12', validityDays: 30 });
    assert.notEqual(again.serial, issued.serial);

    const named = await createKeyAndCertificateRequest('COMP-12');
    const renewed = await ca.signRequest(named.csrPem, {
      kind: 'compute_node',
      id: 'COMP-12',
      expectedCommonName: 'COMP-12',
      validityDays: 30,
    });
    assert.equal(ca.inspectPeer(new X509Certificate(renewed.certificatePem))?.id, 'COMP-12');

    await rejectsWithSlapError(
      ca.signRequest(csrPem, { kind: 'admin' as 'user', id: 'COMP-1', validityDays: 1 }),
      'SLAP_ERR_INVALID_INPUT',
    );
    for (const id of ['', 'a,O=user', 'x'.repeat(65), 'a\nb']) {
      await rejectsWithSlapError(
        ca.signRequest(csrPem, { kind: 'user', id, validityDays: 1 }),
        'SLAP_ERR_INVALID_INPUT',
      );
    }
    for (const validityDays of [0, -1, Number.NaN, 3651]) {
      await rejectsWithSlapError(
        ca.issueKeyAndCertificate({ kind: 'user', id: 'bob', validityDays }),
        'SLAP_ERR_INVALID_INPUT',
      );
    }
  });
});

test('inspectPeer gives undefined for the CA itself, the server certificate, another CA and self-signed ones', async () => {
  await withDir(async (dir) => {
    const { ca } = await open(dir);
    assert.equal(ca.inspectPeer(new X509Certificate(ca.caCertificatePem)), undefined);
    assert.equal(ca.inspectPeer(new X509Certificate(ca.serverCertificatePem)), undefined);
    await withDir(async (otherDir) => {
      const other = await open(otherDir);
      const foreign = await other.ca.issueKeyAndCertificate({ kind: 'user', id: 'alice', validityDays: 1 });
      assert.equal(ca.inspectPeer(new X509Certificate(foreign.certificatePem)), undefined);
    });
    const selfSigned = await selfSignedClient();
    assert.equal(ca.inspectPeer(new X509Certificate(selfSigned.certificatePem)), undefined);
    assert.equal(ca.inspectPeer({} as tls.PeerCertificate), undefined);
  });
});

async function selfSignedClient(): Promise<{ keyPem: string; certificatePem: string }> {
  const keys = await generateEcKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: ['COMP-1'] }, { O: ['compute_node'] }],
    keys,
    signingAlgorithm: EC_P256_SHA256,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + DAY * 1000),
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
  });
  return { keyPem: await privateKeyPem(keys.privateKey), certificatePem: certificate.toString('pem') };
}

interface Handshake {
  authorized: boolean;
  authorizationError: string | undefined;
  peer: tls.PeerCertificate;
}

/** One mutual-TLS handshake on 127.0.0.1 against a server using `ca`'s server certificate. */
async function handshake(
  ca: CertificateAuthority,
  client: { keyPem: string; certificatePem: string },
): Promise<Handshake> {
  const server = tls.createServer({
    key: ca.serverKeyPem,
    cert: ca.serverCertificatePem,
    ca: [ca.caCertificatePem],
    requestCert: true,
    rejectUnauthorized: false,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const accepted = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
    const socket = tls.connect({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      ca: [ca.caCertificatePem],
      key: client.keyPem,
      cert: client.certificatePem,
    });
    await once(socket, 'secureConnect');
    assert.equal(socket.authorized, true, 'the client trusts the server certificate for 127.0.0.1');
    const [serverSide] = await accepted;
    const result = {
      authorized: serverSide.authorized,
      authorizationError: serverSide.authorizationError?.toString(),
      peer: serverSide.getPeerCertificate(),
    };
    socket.destroy();
    serverSide.destroy();
    return result;
  } finally {
    server.close();
  }
}

test('mutual TLS on 127.0.0.1: an issued client certificate is authorized; foreign, self-signed and expired ones are not', async () => {
  await withDir(async (dir) => {
    const { ca, clock } = await open(dir);
    const issued = await ca.issueKeyAndCertificate({ kind: 'instance', id: 'SOFTINST-7', validityDays: 365 });
    const ok = await handshake(ca, issued);
    assert.equal(ok.authorized, true, ok.authorizationError);
    assert.deepEqual(ca.inspectPeer(ok.peer), {
      kind: 'instance',
      id: 'SOFTINST-7',
      serial: issued.serial,
      notAfter: issued.notAfter,
    });

    await withDir(async (otherDir) => {
      const other = await open(otherDir);
      const foreign = await other.ca.issueKeyAndCertificate({
        kind: 'instance',
        id: 'SOFTINST-7',
        validityDays: 1,
      });
      const refused = await handshake(ca, foreign);
      assert.equal(refused.authorized, false);
      assert.equal(ca.inspectPeer(refused.peer), undefined);
    });

    const selfSigned = await handshake(ca, await selfSignedClient());
    assert.equal(selfSigned.authorized, false);
    assert.equal(ca.inspectPeer(selfSigned.peer), undefined);

    clock.advance(-10 * DAY);
    const old = await ca.issueKeyAndCertificate({ kind: 'user', id: 'alice', validityDays: 1 });
    clock.advance(10 * DAY);
    const expired = await handshake(ca, old);
    assert.equal(expired.authorized, false);
    assert.equal(expired.authorizationError, 'CERT_HAS_EXPIRED');
  });
});

test('figure: time to issue one certificate from a CSR (printed, not asserted)', async (t) => {
  await withDir(async (dir) => {
    const { ca } = await open(dir);
    const requests = await Promise.all(Array.from({ length: 20 }, () => createKeyAndCertificateRequest()));
    const started = performance.now();
    for (const { csrPem } of requests) {
      await ca.signRequest(csrPem, { kind: 'compute_node', id: 'COMP-1', validityDays: 30 });
    }
    const each = (performance.now() - started) / requests.length;
    t.diagnostic(`signRequest: ${each.toFixed(2)} ms per certificate (${requests.length} requests)`);
  });
});

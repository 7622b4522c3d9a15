/**
 * Master mode's authentication over real TLS on 127.0.0.1: user tokens, user certificates, and
 * every way a credential is refused (wrong, absent, another CA, self-signed, expired, revoked,
 * unknown, disabled user), with the reason in the 401; plain HTTP and TLS 1.1 on the TLS port;
 * the failure limiter; the requester headers of proxy mode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect as netConnect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { systemClock } from '../core/clock.ts';
import { createAccessToken } from '../lib/access-token.ts';
import { createLogger } from '../lib/logger.ts';
import { EC_P256_SHA256, generateEcKeyPair, privateKeyPem, x509 } from '../lib/x509.ts';
import { postTls, startTestMasterMode, type TestMasterMode } from '../testing/master-mode.ts';
import type { JsonResponse } from '../testing/master.ts';
import { HOSTILE_PIECES, seededRandom } from '../testing/hostile-strings.ts';
import { openCertificateAuthority } from './ca/certificate-authority.ts';
import { masterAuthenticator } from './http/master-authentication.ts';

const HATEOAS = '/slapos.get.v0.hateoas_url';
let master: TestMasterMode;
let logDir: string;
let logFile: string;
/** Every secret the tests see: none may appear in the log. */
const secrets: string[] = [];
let alice: { user: string; token: string };

function assertRefused(response: JsonResponse, reason: RegExp): void {
  assert.equal(response.status, 401, response.text);
  const body = response.body as { status: number; type: string; title: string };
  assert.equal(body.status, 401);
  assert.equal(body.type, 'Unauthorized');
  assert.match(body.title, reason);
}

before(async () => {
  logDir = await mkdtemp(join(tmpdir(), 'slapos-master-mode-log-'));
  logFile = join(logDir, 'master.log');
  master = await startTestMasterMode({ logger: createLogger({ level: 'debug', destination: logFile }) });
  alice = await master.admin.addUser({ name: 'alice', admin: false });
  secrets.push(alice.token);
});

after(async () => {
  await master.close();
  await rm(logDir, { recursive: true, force: true });
});

test('a user token is the user; a wrong or absent token is refused with 401 and the reason', async () => {
  const ok = await postTls(master.url, HATEOAS, {}, { ca: master.caPem, token: alice.token });
  assert.equal(ok.status, 200, ok.text);
  const wrong = createAccessToken();
  secrets.push(wrong);
  assertRefused(
    await postTls(master.url, HATEOAS, {}, { ca: master.caPem, token: wrong }),
    /access token is not valid/,
  );
  assertRefused(
    await postTls(master.url, HATEOAS, {}, { ca: master.caPem }),
    /requires a client certificate or the header Authorization/,
  );
  assertRefused(
    await postTls(
      master.url,
      HATEOAS,
      {},
      { ca: master.caPem, headers: { authorization: `Basic ${wrong}` } },
    ),
    /not of the form: Bearer/,
  );
});

test('a user certificate is the user; its revocation refuses it at once', async () => {
  const bob = await master.admin.addUser({ name: 'bob', admin: false });
  secrets.push(bob.token);
  const { keyPem, certificatePem } = await master.admin.issueUserCertificate('bob');
  secrets.push(keyPem);
  const tls = { ca: master.caPem, key: keyPem, cert: certificatePem };
  const ok = await postTls(master.url, HATEOAS, {}, tls);
  assert.equal(ok.status, 200, ok.text);
  await master.master.services.context.store.write((repository) =>
    repository.revokeCertificates({ kind: 'user', subject: 'bob', now: systemClock.now() }),
  );
  assertRefused(await postTls(master.url, HATEOAS, {}, tls), /has been revoked/);
});

test('a disabled user is refused, by token as by certificate', async () => {
  const carol = await master.admin.addUser({ name: 'carol', admin: false });
  secrets.push(carol.token);
  const { keyPem, certificatePem } = await master.admin.issueUserCertificate('carol');
  secrets.push(keyPem);
  // Accepted first (both outcomes memoized), then refused as soon as the user is disabled.
  const asCarol = [
    { ca: master.caPem, token: carol.token },
    { ca: master.caPem, key: keyPem, cert: certificatePem },
  ];
  for (const credentials of asCarol)
    assert.equal((await postTls(master.url, HATEOAS, {}, credentials)).status, 200);
  await master.master.services.context.store.write(async (repository) => {
    await repository.setUserDisabled('carol', true);
  });
  assertRefused(
    await postTls(master.url, HATEOAS, {}, { ca: master.caPem, token: carol.token }),
    /user of this token is disabled/,
  );
  assertRefused(
    await postTls(master.url, HATEOAS, {}, { ca: master.caPem, key: keyPem, cert: certificatePem }),
    /its user is disabled/,
  );
});

test('certificates from another CA, self-signed, expired or unknown to the store are refused with the reason', async () => {
  const otherDir = await mkdtemp(join(tmpdir(), 'slapos-other-ca-'));
  try {
    const other = await openCertificateAuthority({
      dir: join(otherDir, 'ca'),
      hostNames: [],
      clock: systemClock,
      logger: createLogger({ level: 'silent' }),
    });
    const foreign = await other.issueKeyAndCertificate({ kind: 'user', id: 'alice', validityDays: 10 });
    secrets.push(foreign.keyPem);
    assertRefused(
      await postTls(
        master.url,
        HATEOAS,
        {},
        { ca: master.caPem, key: foreign.keyPem, cert: foreign.certificatePem },
      ),
      /not issued by this master/,
    );

    const keys = await generateEcKeyPair();
    const selfSigned = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=alice, O=user',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: EC_P256_SHA256,
    });
    const selfSignedKey = await privateKeyPem(keys.privateKey);
    secrets.push(selfSignedKey);
    assertRefused(
      await postTls(
        master.url,
        HATEOAS,
        {},
        { ca: master.caPem, key: selfSignedKey, cert: selfSigned.toString() },
      ),
      /self-signed/,
    );

    // Signed by this master's CA a year ago, for a day.
    const yearAgo = { now: () => systemClock.now() - 365 * 86_400 };
    const pastCa = await openCertificateAuthority({
      dir: master.dir,
      hostNames: [],
      clock: yearAgo,
      logger: createLogger({ level: 'silent' }),
    });
    const expired = await pastCa.issueKeyAndCertificate({ kind: 'user', id: 'alice', validityDays: 1 });
    secrets.push(expired.keyPem);
    await master.master.services.context.store.write((repository) =>
      repository.insertCertificate({
        serial: expired.serial,
        kind: 'user',
        subject: 'alice',
        notAfter: expired.notAfter,
        revokedAt: null,
        createdAt: yearAgo.now(),
      }),
    );
    assertRefused(
      await postTls(
        master.url,
        HATEOAS,
        {},
        { ca: master.caPem, key: expired.keyPem, cert: expired.certificatePem },
      ),
      /has expired/,
    );

    // Recorded, but for another subject than the one it names.
    const misnamed = await master.master.certificateAuthority.issueKeyAndCertificate({
      kind: 'user',
      id: 'alice',
      validityDays: 10,
    });
    secrets.push(misnamed.keyPem);
    await master.master.services.context.store.write((repository) =>
      repository.insertCertificate({
        serial: misnamed.serial,
        kind: 'user',
        subject: 'bob',
        notAfter: misnamed.notAfter,
        revokedAt: null,
        createdAt: systemClock.now(),
      }),
    );
    assertRefused(
      await postTls(
        master.url,
        HATEOAS,
        {},
        { ca: master.caPem, key: misnamed.keyPem, cert: misnamed.certificatePem },
      ),
      /subject is not the one this master issued/,
    );

    // Signed by this master's CA, but never recorded (not issued through the master).
    const unrecorded = await master.master.certificateAuthority.issueKeyAndCertificate({
      kind: 'user',
      id: 'alice',
      validityDays: 10,
    });
    secrets.push(unrecorded.keyPem);
    assertRefused(
      await postTls(
        master.url,
        HATEOAS,
        {},
        {
          ca: master.caPem,
          key: unrecorded.keyPem,
          cert: unrecorded.certificatePem,
        },
      ),
      /no record of it/,
    );
  } finally {
    await rm(otherDir, { recursive: true, force: true });
  }
});

test('plain HTTP on the TLS port gets a plain 400 saying to use https://', async () => {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port: master.port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.end(
      `POST ${HATEOAS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    );
  });
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 400 /);
  assert.match(head, /content-type: application\/json/i);
  const parsed = JSON.parse(body) as { status: number; title: string };
  assert.equal(parsed.status, 400);
  assert.match(parsed.title, new RegExp(`use https://127\\.0\\.0\\.1:${master.port}`));
});

test('TLS 1.1 is refused; TLS 1.2 is served', async () => {
  const attempt = (maxVersion: 'TLSv1.1' | 'TLSv1.2'): Promise<string> =>
    new Promise((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: master.port,
        ca: master.caPem,
        maxVersion,
        minVersion: 'TLSv1',
      });
      socket.on('secureConnect', () => {
        resolve(`connected ${socket.getProtocol()}`);
        socket.destroy();
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(`refused ${error.code ?? error.message}`));
    });
  assert.match(await attempt('TLSv1.1'), /^refused/);
  assert.equal(await attempt('TLSv1.2'), 'connected TLSv1.2');
});

test('master mode refuses the requester headers of proxy mode', async () => {
  const response = await postTls(
    master.url,
    '/slapos.post.v0.software_instance',
    { title: 'x', software_release_uri: 'https://example.com/sr.cfg', software_type: 'default' },
    {
      ca: master.caPem,
      token: alice.token,
      headers: {
        'x-slapos-requester-computer-guid': 'COMP-1',
        'x-slapos-requester-partition-id': 'slappart0',
      },
    },
  );
  assert.equal(response.status, 400, response.text);
  assert.match((response.body as { title: string }).title, /requests with its own certificate/);
});

test('repeated failures from one address are slowed down while another address is served at once', async () => {
  const wrong = createAccessToken();
  secrets.push(wrong);
  const bad = { ca: master.caPem, token: wrong, localAddress: '127.0.0.3' };
  // The threshold: failures answered without delay.
  for (let index = 0; index < 5; index++)
    assertRefused(await postTls(master.url, HATEOAS, {}, bad), /not valid/);
  const order: string[] = [];
  const slowed = postTls(master.url, HATEOAS, {}, bad).then((response) => {
    order.push('slowed failure');
    return response;
  });
  const other = postTls(
    master.url,
    HATEOAS,
    {},
    { ca: master.caPem, token: alice.token, localAddress: '127.0.0.4' },
  ).then((response) => {
    order.push('other address');
    return response;
  });
  const otherFailure = postTls(master.url, HATEOAS, {}, { ...bad, localAddress: '127.0.0.4' }).then(
    (response) => {
      order.push('other address failure');
      return response;
    },
  );
  const [slowedResponse, otherResponse, otherFailureResponse] = await Promise.all([
    slowed,
    other,
    otherFailure,
  ]);
  assertRefused(slowedResponse, /not valid/);
  assert.equal(otherResponse.status, 200);
  assertRefused(otherFailureResponse, /not valid/);
  assert.equal(order.at(-1), 'slowed failure', order.join(', '));
});

test('the log records failed authentications and never a token or a key', async () => {
  const log = await readFile(logFile, 'utf8');
  const audit = log
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { audit?: boolean; event?: string; reason?: string; address?: string })
    .filter((record) => record.audit === true);
  assert.ok(
    audit.some((record) => record.event === 'authentication.failed' && record.address === '127.0.0.3'),
  );
  assert.ok(audit.some((record) => record.event === 'user.created'));
  for (const secret of secrets) {
    assert.equal(log.includes(secret), false, 'a secret is in the log');
    // PEM keys: their base64 body lines too.
    for (const line of secret.split('\n').filter((text) => text.length > 20 && !text.startsWith('-----')))
      assert.equal(log.includes(line), false, 'a key line is in the log');
  }
});

test('a connection that stays silent, or stops in its TLS handshake, is closed after the headers timeout', async () => {
  const quick = await startTestMasterMode({ headersTimeoutMs: 300 });
  try {
    for (const first of [undefined, Buffer.from([0x16, 0x03, 0x01])]) {
      const closed = await new Promise<string>((resolve) => {
        const socket = netConnect({ host: '127.0.0.1', port: quick.port });
        socket.on('connect', () => {
          if (first) socket.write(first);
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve('closed'));
      });
      assert.equal(closed, 'closed');
    }
  } finally {
    await quick.close();
  }
});

test('hostile Authorization headers: anonymous, with a refusal that never repeats them', async () => {
  const authenticator = masterAuthenticator({
    store: master.master.services.context.store,
    clock: systemClock,
  });
  const random = seededRandom(11);
  for (let run = 0; run < 500; run++) {
    let noise = '';
    const length = 1 + Math.floor(random() * 12);
    for (let index = 0; index < length; index++)
      noise += HOSTILE_PIECES[Math.floor(random() * HOSTILE_PIECES.length)] ?? '';
    for (const header of [
      noise,
      `Bearer ${noise}`,
      `Bearer ${alice.token}${noise}`,
      `${noise}Bearer ${alice.token}`,
    ]) {
      const authentication = await authenticator.authenticate({
        headers: { authorization: header },
        socket: new Socket(),
        ip: '127.0.0.1',
      });
      if (authentication.refusal === undefined) {
        // Only the exact token (blanks around it aside) is the user.
        assert.equal(header.trim().replace(/^Bearer +/i, ''), alice.token, JSON.stringify(header));
        continue;
      }
      assert.equal(authentication.caller.kind, 'anonymous');
      if (noise.trim().length >= 4) assert.equal(authentication.refusal.includes(noise), false);
      assert.equal(authentication.refusal.includes(alice.token), false);
    }
  }
});

/**
 * Master mode's compute node life cycle over real TLS on 127.0.0.1: a user's registration token,
 * used once to register a node (refused when reused or expired, not consumed by a refused request),
 * the node's certificate over mutual TLS, its renewal, its revocation; instance certificates.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../core/clock.ts';
import { createLogger } from '../lib/logger.ts';
import { createKeyAndCertificateRequest } from '../lib/certificate-request.ts';
import { postTls, startTestMasterMode, type TestMasterMode } from '../testing/master-mode.ts';
import type { JsonResponse } from '../testing/master.ts';

const REGISTRATION_TOKEN = '/slapos.post.ext.registration_token';
const REGISTRATION = '/slapos.post.ext.compute_node_registration';
const RENEWAL = '/slapos.post.ext.compute_node_certificate_renewal';
const INSTANCE_CERTIFICATE = '/slapos.get.v0.software_instance_certificate';
const SOFTWARE_LIST = '/slapos.allDocs.v0.compute_node_software_installation_list';

let offset = 0;
const clock = { now: () => systemClock.now() + offset };
let master: TestMasterMode;
let token: string;
let logDir: string;
let logFile: string;
/** Every token and key the tests see: none may appear in the log. */
const secrets: string[] = [];

function titleOf(response: JsonResponse): string {
  return (response.body as { title?: string }).title ?? '';
}

async function registrationToken(expiresInSeconds?: number): Promise<{ token: string; expires: string }> {
  const response = await postTls(
    master.url,
    REGISTRATION_TOKEN,
    expiresInSeconds === undefined ? {} : { expires_in_s: expiresInSeconds },
    { ca: master.caPem, token },
  );
  assert.equal(response.status, 200, response.text);
  const registration = response.body as { token: string; expires: string };
  secrets.push(registration.token);
  return registration;
}

async function register(
  registration: string,
  title: string,
  commonName: string | undefined = title,
): Promise<{ response: JsonResponse; keyPem: string }> {
  const { keyPem, csrPem } = await createKeyAndCertificateRequest(commonName);
  secrets.push(keyPem);
  const response = await postTls(
    master.url,
    REGISTRATION,
    { title, certificate_request: csrPem },
    { ca: master.caPem, token: registration },
  );
  return { response, keyPem };
}

before(async () => {
  logDir = await mkdtemp(join(tmpdir(), 'slapos-registration-log-'));
  logFile = join(logDir, 'master.log');
  master = await startTestMasterMode({
    clock,
    logger: createLogger({ level: 'debug', destination: logFile }),
  });
  ({ token } = await master.admin.addUser({ name: 'alice', admin: false }));
  secrets.push(token);
});

after(async () => {
  await master.close();
  await rm(logDir, { recursive: true, force: true });
});

test('a registration token registers one compute node, owned by its user, which then calls over mutual TLS', async () => {
  const registration = await registrationToken();
  assert.match(registration.token, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(Date.parse(registration.expires) > Date.now());
  const { response, keyPem } = await register(registration.token, 'node one');
  assert.equal(response.status, 200, response.text);
  const node = response.body as { computer_guid: string; certificate: string; ca_certificate: string };
  assert.match(node.computer_guid, /^COMP-\d+$/);
  assert.equal(node.ca_certificate, master.caPem);
  const nodes = await master.admin.listComputeNodes();
  assert.deepEqual(
    nodes.map((entry) => [entry.reference, entry.owner, entry.title]),
    [[node.computer_guid, 'alice', 'node one']],
  );

  const tls = { ca: master.caPem, key: keyPem, cert: node.certificate };
  const listing = await postTls(master.url, SOFTWARE_LIST, { computer_guid: node.computer_guid }, tls);
  assert.equal(listing.status, 200, listing.text);

  const again = await register(registration.token, 'node two');
  assert.equal(again.response.status, 401);
  assert.match(titleOf(again.response), /already been used/);
});

test('a refused certificate request does not consume the token; a forged subject is refused', async () => {
  const registration = await registrationToken();
  const forged = await register(registration.token, 'honest', 'COMP-1');
  assert.equal(forged.response.status, 400, forged.response.text);
  assert.equal((forged.response.body as { type: string }).type, 'Bad Request');
  const broken = await postTls(
    master.url,
    REGISTRATION,
    {
      title: 'x',
      certificate_request: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n',
    },
    { ca: master.caPem, token: registration.token },
  );
  assert.equal(broken.status, 400, broken.text);
  const oversized = await postTls(
    master.url,
    REGISTRATION,
    { title: 'x', certificate_request: 'A'.repeat(20_000) },
    { ca: master.caPem, token: registration.token },
  );
  assert.equal(oversized.status, 400, oversized.text);
  const { response } = await register(registration.token, 'honest');
  assert.equal(response.status, 200, response.text);
});

test('an expired registration token is refused', async () => {
  const registration = await registrationToken(60);
  offset = 61;
  try {
    const { response } = await register(registration.token, 'late');
    assert.equal(response.status, 401);
    assert.match(titleOf(response), /has expired/);
  } finally {
    offset = 0;
  }
});

test('a registration token may only register: it is no user token, and a user cannot register', async () => {
  const registration = await registrationToken();
  const asRegistrant = await postTls(
    master.url,
    REGISTRATION_TOKEN,
    {},
    { ca: master.caPem, token: registration.token },
  );
  assert.equal(asRegistrant.status, 403, asRegistrant.text);
  const { csrPem } = await createKeyAndCertificateRequest('x');
  const asUser = await postTls(
    master.url,
    REGISTRATION,
    { title: 'x', certificate_request: csrPem },
    { ca: master.caPem, token },
  );
  assert.equal(asUser.status, 403, asUser.text);
});

test('a node renews its certificate over mutual TLS; once revoked, its calls are refused', async () => {
  const registration = await registrationToken();
  const { response, keyPem } = await register(registration.token, 'renewing');
  const node = response.body as { computer_guid: string; certificate: string };
  const tls = { ca: master.caPem, key: keyPem, cert: node.certificate };

  const forged = await createKeyAndCertificateRequest('COMP-999');
  const refused = await postTls(
    master.url,
    RENEWAL,
    { computer_guid: node.computer_guid, certificate_request: forged.csrPem },
    tls,
  );
  assert.equal(refused.status, 400, refused.text);

  const fresh = await createKeyAndCertificateRequest(node.computer_guid);
  const renewed = await postTls(
    master.url,
    RENEWAL,
    { computer_guid: node.computer_guid, certificate_request: fresh.csrPem },
    tls,
  );
  assert.equal(renewed.status, 200, renewed.text);
  const { certificate } = renewed.body as { certificate: string };
  assert.notEqual(certificate, node.certificate);
  const renewedTls = { ca: master.caPem, key: fresh.keyPem, cert: certificate };
  const listing = await postTls(master.url, SOFTWARE_LIST, { computer_guid: node.computer_guid }, renewedTls);
  assert.equal(listing.status, 200, listing.text);

  // Revoked through the master's directory (another connection to the database, as `master node revoke`).
  await master.admin.revokeComputeNode(node.computer_guid);
  // Another process's commit is seen by the master within its external check (100 ms): the first
  // call after that is refused.
  let answer: JsonResponse;
  const deadline = Date.now() + 5_000;
  do answer = await postTls(master.url, SOFTWARE_LIST, { computer_guid: node.computer_guid }, renewedTls);
  while (answer.status === 200 && Date.now() < deadline);
  assert.equal(answer.status, 401, answer.text);
  assert.match(titleOf(answer), /revoked/);
  const old = await postTls(master.url, SOFTWARE_LIST, { computer_guid: node.computer_guid }, tls);
  assert.equal(old.status, 401);
});

test('instance certificates: issued to the instance’s compute node, fresh at each call, the earlier ones revoked', async () => {
  const registration = await registrationToken();
  const { response, keyPem } = await register(registration.token, 'hosting');
  const node = response.body as { computer_guid: string; certificate: string };
  const nodeTls = { ca: master.caPem, key: keyPem, cert: node.certificate };
  const userTls = { ca: master.caPem, token };
  const formatted = await postTls(
    master.url,
    '/slapos.put.v0.compute_node_format',
    {
      computer_guid: node.computer_guid,
      compute_partition_list: [
        { partition_id: 'slappart0', ip_list: [{ 'ip-address': '10.0.0.1', 'network-interface': 'lo' }] },
      ],
    },
    nodeTls,
  );
  assert.equal(formatted.status, 200, formatted.text);
  const software = 'https://example.com/software/hello/software.cfg';
  const supplied = await postTls(
    master.url,
    '/slapos.post.v0.software_installation',
    { computer_guid: node.computer_guid, software_release_uri: software },
    userTls,
  );
  assert.equal(supplied.status, 200, supplied.text);
  const requested = await postTls(
    master.url,
    '/slapos.post.v0.software_instance',
    {
      title: 'hello',
      software_release_uri: software,
      software_type: 'default',
      sla_parameters: { computer_guid: node.computer_guid },
    },
    userTls,
  );
  assert.equal(requested.status, 200, requested.text);
  const record = await master.master.services.context.store.read((repository) =>
    repository.findInstance({ owner: 'alice', title: 'hello', requestedBy: '', shared: false }),
  );
  assert.ok(record?.location, 'the instance is allocated');
  const guid = `SOFTINST-${record.id}`;

  const first = await postTls(master.url, INSTANCE_CERTIFICATE, { instance_guid: guid }, nodeTls);
  assert.equal(first.status, 200, first.text);
  const pair = first.body as { key: string; certificate: string };
  secrets.push(pair.key);
  assert.match(pair.key, /^-----BEGIN PRIVATE KEY-----/);
  const instanceTls = { ca: master.caPem, key: pair.key, cert: pair.certificate };
  // The instance itself asks for a new one: its earlier certificate is revoked.
  const second = await postTls(master.url, INSTANCE_CERTIFICATE, { instance_guid: guid }, instanceTls);
  assert.equal(second.status, 200, second.text);
  const renewed = second.body as { key: string; certificate: string };
  assert.notEqual(renewed.certificate, pair.certificate);
  const stale = await postTls(master.url, INSTANCE_CERTIFICATE, { instance_guid: guid }, instanceTls);
  assert.equal(stale.status, 401, stale.text);
  assert.match(titleOf(stale), /revoked/);
  // A user and a missing instance: not found, as if it did not exist.
  const byUser = await postTls(master.url, INSTANCE_CERTIFICATE, { instance_guid: guid }, userTls);
  assert.equal(byUser.status, 403, byUser.text);
  const missing = await postTls(
    master.url,
    INSTANCE_CERTIFICATE,
    { instance_guid: 'SOFTINST-99999' },
    nodeTls,
  );
  assert.equal(missing.status, 403, missing.text);
});

test('the audit log records registrations, renewals and certificates, and the log holds no token or key', async () => {
  const log = await readFile(logFile, 'utf8');
  const events = new Set(
    log
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { audit?: boolean; event?: string })
      .filter((record) => record.audit === true)
      .map((record) => record.event),
  );
  for (const event of [
    'registration_token.created',
    'compute_node.registered',
    'compute_node.certificate_renewed',
    'compute_node.revoked',
    'instance.certificate_issued',
    'authentication.failed',
  ])
    assert.ok(events.has(event), event);
  for (const secret of secrets) {
    assert.equal(log.includes(secret), false, 'a secret is in the log');
    for (const line of secret.split('\n').filter((text) => text.length > 20 && !text.startsWith('-----')))
      assert.equal(log.includes(line), false, 'a key line is in the log');
  }
});

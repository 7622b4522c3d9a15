import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { TlsMaterial } from '../client/json-transport.ts';
import { fixedClock } from '../core/clock.ts';
import { SlapError } from '../core/errors.ts';
import { createKeyAndCertificateRequest } from '../lib/certificate-request.ts';
import { silentLogger } from '../lib/logger.ts';
import { openCertificateAuthority, type CertificateAuthority } from '../master/ca/certificate-authority.ts';
import { completeKeyPairReplacement, replaceKeyPair } from './key-pair-files.ts';
import {
  keepNodeCertificateRenewed,
  renewNodeCertificateIfDue,
  type CertificateRenewer,
} from './node-certificate.ts';

const DAY = 86400;
const START = 1_800_000_000;
let dir: string;
let ca: CertificateAuthority;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slapos-node-cert-'));
  ca = await openCertificateAuthority({
    dir: join(dir, 'master'),
    hostNames: [],
    clock: fixedClock(START),
    logger: silentLogger(),
  });
});
after(() => rm(dir, { recursive: true, force: true }));

/** A node's files holding a certificate issued at START for 30 days. */
async function nodeFiles(
  name: string,
): Promise<{ keyFile: string; certFile: string; keyPem: string; certificatePem: string }> {
  const { keyPem, csrPem } = await createKeyAndCertificateRequest();
  const issued = await ca.signRequest(csrPem, { kind: 'compute_node', id: 'COMP-3', validityDays: 30 });
  const files = { keyFile: join(dir, `${name}.key`), certFile: join(dir, `${name}.crt`) };
  await replaceKeyPair(files, { keyPem, certificatePem: issued.certificatePem });
  return { ...files, keyPem, certificatePem: issued.certificatePem };
}

/** A master that signs renewal requests with the CA (or answers what `answer` makes of them). */
function renewer(answer?: (csrPem: string) => Promise<string>): CertificateRenewer & {
  calls: { computerGuid: string; certificateRequest: string }[];
  tls: TlsMaterial[];
} {
  const calls: { computerGuid: string; certificateRequest: string }[] = [];
  const tls: TlsMaterial[] = [];
  return {
    calls,
    tls,
    async renewComputeNodeCertificate(input) {
      calls.push(input);
      const certificate = answer
        ? await answer(input.certificateRequest)
        : (
            await ca.signRequest(input.certificateRequest, {
              kind: 'compute_node',
              id: input.computerGuid,
              expectedCommonName: input.computerGuid,
              validityDays: 30,
            })
          ).certificatePem;
      return { certificate };
    },
    replaceTls(material) {
      tls.push(material);
    },
  };
}

test('a certificate with more than a third of its validity left is kept: no call', async () => {
  const files = await nodeFiles('fresh');
  const master = renewer();
  const outcome = await renewNodeCertificateIfDue(
    { computerId: 'COMP-3', masterCaFile: undefined, ...files },
    master,
    { now: START + 19 * DAY },
  );
  assert.equal(outcome, 'valid');
  assert.equal(master.calls.length, 0);
  assert.equal(await readFile(files.certFile, 'utf8'), files.certificatePem);
});

test('with less than a third left: a new key and certificate, 0600, given to the client, logged without key material', async () => {
  const files = await nodeFiles('due');
  const caFile = join(dir, 'master-ca.crt');
  await writeFile(caFile, ca.caCertificatePem);
  const master = renewer();
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const outcome = await renewNodeCertificateIfDue(
    { computerId: 'COMP-3', masterCaFile: caFile, ...files },
    master,
    { now: START + 21 * DAY, logger },
  );
  assert.equal(outcome, 'renewed');
  assert.equal(master.calls.length, 1);
  assert.equal(master.calls[0]?.computerGuid, 'COMP-3');
  const key = await readFile(files.keyFile, 'utf8');
  const certificate = await readFile(files.certFile, 'utf8');
  assert.notEqual(key, files.keyPem);
  assert.notEqual(certificate, files.certificatePem);
  for (const file of [files.keyFile, files.certFile]) assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.ok(
    new X509Certificate(certificate).checkPrivateKey((await import('node:crypto')).createPrivateKey(key)),
  );
  assert.deepEqual(master.tls, [{ key, cert: certificate, ca: Buffer.from(ca.caCertificatePem) }]);
  const log = lines.join('');
  assert.match(log, /renewed/);
  assert.ok(
    !log.includes('PRIVATE KEY') && !log.includes(key.split('\n')[1] ?? 'x'),
    'no key material in the log',
  );
});

test("a master's answer for another key or another node is refused; the files are kept", async () => {
  const files = await nodeFiles('refused');
  const stranger = async (): Promise<string> => {
    const other = await createKeyAndCertificateRequest();
    return (await ca.signRequest(other.csrPem, { kind: 'compute_node', id: 'COMP-3', validityDays: 30 }))
      .certificatePem;
  };
  const otherNode = async (csrPem: string): Promise<string> =>
    (await ca.signRequest(csrPem, { kind: 'compute_node', id: 'COMP-4', validityDays: 30 })).certificatePem;
  for (const answer of [stranger, otherNode, () => Promise.resolve('not a certificate')]) {
    const master = renewer(answer);
    await assert.rejects(
      renewNodeCertificateIfDue({ computerId: 'COMP-3', masterCaFile: undefined, ...files }, master, {
        now: START + 25 * DAY,
      }),
      (error) =>
        error instanceof SlapError &&
        error.code === 'SLAP_ERR_UNAVAILABLE' &&
        !error.message.includes('BEGIN'),
    );
    assert.equal(master.tls.length, 0);
    assert.equal(await readFile(files.keyFile, 'utf8'), files.keyPem);
    assert.equal(await readFile(files.certFile, 'utf8'), files.certificatePem);
  }
});

test('without a certificate in the configuration (proxy mode) nothing is done', async () => {
  const master = renewer();
  const outcome = await renewNodeCertificateIfDue(
    { computerId: 'COMP-3', keyFile: undefined, certFile: undefined, masterCaFile: undefined },
    master,
    { now: START },
  );
  assert.equal(outcome, 'no-certificate');
  assert.equal(master.calls.length, 0);
});

test('a replacement interrupted between its two renames is finished before the files are read', async () => {
  const files = await nodeFiles('crash');
  // As after a crash once the key was renamed: the new key in place, the new certificate pending.
  const next = await nodeFiles('next');
  await writeFile(files.keyFile, next.keyPem, { mode: 0o600 });
  await writeFile(`${files.certFile}.new`, next.certificatePem, { mode: 0o600 });
  await completeKeyPairReplacement(files);
  assert.equal(await readFile(files.keyFile, 'utf8'), next.keyPem);
  assert.equal(await readFile(files.certFile, 'utf8'), next.certificatePem);
  // A pending key alone (crash before the certificate was written) is not committed: the pair stays.
  await writeFile(`${files.keyFile}.new`, 'half-written', { mode: 0o600 });
  await completeKeyPairReplacement(files);
  assert.equal(await readFile(files.keyFile, 'utf8'), next.keyPem);
  // Two processes finishing the same replacement at once: both succeed, the pair matches.
  const third = await nodeFiles('third');
  await writeFile(`${files.keyFile}.new`, third.keyPem, { mode: 0o600 });
  await writeFile(`${files.certFile}.new`, third.certificatePem, { mode: 0o600 });
  await Promise.all([completeKeyPairReplacement(files), completeKeyPairReplacement(files)]);
  assert.equal(await readFile(files.keyFile, 'utf8'), third.keyPem);
  assert.equal(await readFile(files.certFile, 'utf8'), third.certificatePem);
});

test('the agent checks at once and on each interval; stop() waits for a check in progress', async () => {
  const files = await nodeFiles('agent');
  const master = renewer();
  const clock = fixedClock(START + DAY);
  const keeper = keepNodeCertificateRenewed(
    { computerId: 'COMP-3', masterCaFile: undefined, ...files },
    master,
    { clock, logger: silentLogger(), intervalMs: 20 },
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(master.calls.length, 0, 'valid: nothing asked');
  clock.set(START + 25 * DAY);
  await waitUntil(() => master.calls.length >= 1);
  await keeper.stop();
  // (The test CA's clock stands still: each new certificate is due again at once.)
  const calls = master.calls.length;
  assert.equal(master.tls.length, calls, 'each renewal handed to the client');
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(master.calls.length, calls, 'nothing after stop()');
});

async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), 'condition not reached in 5 s');
}

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixedClock } from '../../core/clock.ts';
import { SlapError } from '../../core/errors.ts';
import type { CertificateAuthority } from '../../master/ca/certificate-authority.ts';
import { openTestCertificateAuthority } from '../../testing/master-mode-services.ts';
import { certificatePaths, removeCertificate, updateCertificate } from './certificates.ts';

const DAY = 86400;
const START = 1_800_000_000;
let dir: string;
let ca: CertificateAuthority;

let close: () => Promise<void>;

before(async () => {
  ({ ca, dir, close } = await openTestCertificateAuthority(fixedClock(START)));
});
after(() => close());

/** A master issuing a fresh key and certificate at each call, as in master mode (or `answer`). */
function master(answer?: () => Promise<{ key: string; certificate: string }>): {
  calls: string[];
  getInstanceCertificate(guid: string): Promise<{ key: string; certificate: string }>;
} {
  const calls: string[] = [];
  return {
    calls,
    async getInstanceCertificate(guid) {
      calls.push(guid);
      if (answer) return answer();
      const issued = await ca.issueKeyAndCertificate({ kind: 'instance', id: guid, validityDays: 365 });
      return { key: issued.keyPem, certificate: issued.certificatePem };
    },
  };
}

const input = (repository: string, now: number) => ({
  repository,
  partitionId: 'slappart0',
  instanceGuid: 'SOFTINST-5',
  owner: undefined,
  now,
});

test('fetched when the partition has none, kept while valid, fetched again when a third of its validity is left', async () => {
  const repository = join(dir, 'pki-1');
  const paths = certificatePaths(repository, 'slappart0');
  const m = master();
  assert.deepEqual(await updateCertificate(m, input(repository, START)), paths);
  assert.deepEqual(m.calls, ['SOFTINST-5']);
  for (const file of [paths.keyFile, paths.certFile]) assert.equal((await stat(file)).mode & 0o777, 0o600);
  const first = await readFile(paths.certFile, 'utf8');

  assert.deepEqual(await updateCertificate(m, input(repository, START + 200 * DAY)), paths);
  assert.equal(m.calls.length, 1, 'a valid certificate is not asked for again');

  await updateCertificate(m, input(repository, START + 250 * DAY));
  assert.equal(m.calls.length, 2);
  assert.notEqual(await readFile(paths.certFile, 'utf8'), first);
});

test('a missing key or an unreadable certificate: fetched again', async () => {
  const repository = join(dir, 'pki-2');
  const paths = certificatePaths(repository, 'slappart0');
  const m = master();
  await updateCertificate(m, input(repository, START));
  await rm(paths.keyFile);
  await updateCertificate(m, input(repository, START));
  assert.equal(m.calls.length, 2);
  await writeFile(paths.certFile, 'garbage');
  await updateCertificate(m, input(repository, START));
  assert.equal(m.calls.length, 3);
});

test('proxy mode (empty answers): nothing written, the profile gets no certificate', async () => {
  const repository = join(dir, 'pki-3');
  const m = master(() => Promise.resolve({ key: '', certificate: '' }));
  assert.equal(await updateCertificate(m, input(repository, START)), undefined);
  await assert.rejects(stat(certificatePaths(repository, 'slappart0').certFile), { code: 'ENOENT' });
});

test('a certificate for another instance or not matching its key is refused, nothing written', async () => {
  const repository = join(dir, 'pki-4');
  const other = async () => {
    const issued = await ca.issueKeyAndCertificate({ kind: 'instance', id: 'SOFTINST-6', validityDays: 365 });
    return { key: issued.keyPem, certificate: issued.certificatePem };
  };
  const mismatched = async () => {
    const a = await ca.issueKeyAndCertificate({ kind: 'instance', id: 'SOFTINST-5', validityDays: 365 });
    const b = await ca.issueKeyAndCertificate({ kind: 'instance', id: 'SOFTINST-5', validityDays: 365 });
    return { key: b.keyPem, certificate: a.certificatePem };
  };
  for (const answer of [other, mismatched]) {
    await assert.rejects(
      updateCertificate(master(answer), input(repository, START)),
      (error) => error instanceof SlapError && error.code === 'SLAP_ERR_UNAVAILABLE',
    );
    await assert.rejects(stat(certificatePaths(repository, 'slappart0').keyFile), { code: 'ENOENT' });
  }
});

test("system mode: the key and certificate belong to the partition's user (needs root)", async () => {
  const repository = join(dir, 'pki-5');
  const owner = { uid: 65534, gid: 65534 };
  const paths = await updateCertificate(master(), { ...input(repository, START), owner });
  assert.ok(paths);
  for (const file of [paths.keyFile, paths.certFile]) {
    const info = await stat(file);
    assert.deepEqual([info.uid, info.gid, info.mode & 0o777], [owner.uid, owner.gid, 0o600]);
  }
});

test('a replacement interrupted between its two renames is finished before the certificate is judged', async () => {
  const repository = join(dir, 'pki-crash');
  const paths = certificatePaths(repository, 'slappart0');
  const m = master();
  await updateCertificate(m, input(repository, START));
  // As after a crash once the new key was renamed: the old certificate in place, the new one pending.
  const next = await ca.issueKeyAndCertificate({ kind: 'instance', id: 'SOFTINST-5', validityDays: 365 });
  await writeFile(paths.keyFile, next.keyPem, { mode: 0o600 });
  await writeFile(`${paths.certFile}.new`, next.certificatePem, { mode: 0o600 });
  assert.deepEqual(await updateCertificate(m, input(repository, START)), paths);
  assert.equal(m.calls.length, 1, 'the pair is complete and valid: nothing asked');
  assert.equal(await readFile(paths.keyFile, 'utf8'), next.keyPem);
  assert.equal(await readFile(paths.certFile, 'utf8'), next.certificatePem, 'the key and certificate match');
});

test('a destroyed partition leaves no key behind, not even one an interrupted replacement left pending', async () => {
  const repository = join(dir, 'pki-removed');
  const paths = certificatePaths(repository, 'slappart0');
  await updateCertificate(master(), input(repository, START));
  await writeFile(`${paths.keyFile}.new`, 'pending key', { mode: 0o600 });
  await removeCertificate(repository, 'slappart0');
  assert.deepEqual(await readdir(repository), []);
});

test('another instance moved into the partition (a takeover): its own certificate is fetched', async () => {
  const repository = join(dir, 'pki-moved');
  const paths = certificatePaths(repository, 'slappart0');
  const m = master();
  await updateCertificate(m, input(repository, START));
  await updateCertificate(m, { ...input(repository, START + DAY), instanceGuid: 'SOFTINST-9' });
  assert.deepEqual(m.calls, ['SOFTINST-5', 'SOFTINST-9']);
  const { X509Certificate } = await import('node:crypto');
  assert.match(new X509Certificate(await readFile(paths.certFile)).subject, /CN=SOFTINST-9/);
  await updateCertificate(m, { ...input(repository, START + 2 * DAY), instanceGuid: 'SOFTINST-9' });
  assert.equal(m.calls.length, 2, 'kept while it is the right one');
});

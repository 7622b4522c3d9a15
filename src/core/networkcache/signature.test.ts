import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { rsaSigner } from '../../testing/networkcache.ts';
import { selfSignedCertificate } from '../../testing/self-signed.ts';
import { hasCertificateFor, loadCertificateList, signEntry, verifyEntry } from './signature.ts';

test('an entry signed with the key verifies against its certificate, and only its exact text does', async () => {
  const signer = await rsaSigner('signer');
  const other = await rsaSigner('other');
  const key = createPrivateKey(signer.keyPem);
  const { signers, ignored } = loadCertificateList(`${other.certificatePem}\n${signer.certificatePem}`);
  assert.equal(signers.length, 2);
  assert.deepEqual(ignored, []);
  const entry = '{"sha512": "ab", "os": ["debian", "12", ""]}';
  const signature = signEntry(entry, key);
  assert.match(signature, /^[A-Za-z0-9+/]+=*$/);
  assert.equal(verifyEntry(entry, signature, signers)?.subject, 'CN=signer');
  assert.equal(verifyEntry(`${entry} `, signature, signers), undefined, 'tampered entry');
  assert.equal(
    verifyEntry(entry, signature, loadCertificateList(other.certificatePem).signers),
    undefined,
    'unknown signer',
  );
  assert.equal(verifyEntry(entry, '', signers), undefined, 'empty signature');
  assert.equal(verifyEntry(entry, '!!not base64!!', signers), undefined);
  assert.equal(verifyEntry(entry, signature.slice(0, -4), signers), undefined, 'cut signature');
  assert.equal(hasCertificateFor(key, signers), true);
  assert.equal(hasCertificateFor(key, loadCertificateList(other.certificatePem).signers), false);
});

test('the certificate list is split on the BEGIN marker; garbage pieces are ignored, not fatal', async () => {
  const signer = await rsaSigner();
  const ec = await selfSignedCertificate('ec');
  const text = `junk before\n${signer.certificatePem}-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n${ec.certificatePem}`;
  const { signers, ignored } = loadCertificateList(text);
  assert.equal(signers.length, 2);
  assert.equal(ignored.length, 2, 'the junk before the first marker and the broken certificate');
  // An EC certificate cannot verify an RSA signature: no throw, just no match.
  const signature = signEntry('{}', createPrivateKey(signer.keyPem));
  assert.equal(verifyEntry('{}', signature, [signers[1]!]), undefined);
  assert.deepEqual(loadCertificateList('').signers, []);
});

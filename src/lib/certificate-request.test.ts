import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { certificateExpiry, createKeyAndCertificateRequest, needsRenewal } from './certificate-request.ts';
import { EC_P256_SHA256, generateEcKeyPair, x509 } from './x509.ts';
import { throwsSlapError } from '../testing/slap-error-assert.ts';

const DAY = 86400;

test('createKeyAndCertificateRequest: a PKCS#8 P-256 key and a request it signed, with the given CN or none', async () => {
  const { keyPem, csrPem } = await createKeyAndCertificateRequest('COMP-4');
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
  const key = createPrivateKey(keyPem);
  assert.equal(key.asymmetricKeyType, 'ec');
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');

  assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  const request = new x509.Pkcs10CertificateRequest(csrPem);
  assert.equal(request.subject, 'CN=COMP-4');
  assert.equal(await request.verify(), true);
  const requestKey = createPublicKey({
    key: Buffer.from(request.publicKey.rawData),
    format: 'der',
    type: 'spki',
  });
  assert.ok(requestKey.equals(createPublicKey(key)));

  const anonymous = await createKeyAndCertificateRequest();
  assert.equal(new x509.Pkcs10CertificateRequest(anonymous.csrPem).subject, '');
  assert.notEqual(anonymous.keyPem, keyPem);
});

async function certificateValidFor(notBefore: number, notAfter: number): Promise<string> {
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: ['COMP-1'] }],
    keys: await generateEcKeyPair(),
    signingAlgorithm: EC_P256_SHA256,
    notBefore: new Date(notBefore * 1000),
    notAfter: new Date(notAfter * 1000),
  });
  return certificate.toString('pem');
}

test('certificateExpiry and needsRenewal: renew when less than a third (or the given fraction) of the validity is left', async () => {
  const start = 1_800_000_000;
  const pem = await certificateValidFor(start, start + 30 * DAY);
  assert.equal(certificateExpiry(pem), start + 30 * DAY);
  assert.equal(needsRenewal(pem, start), false);
  assert.equal(needsRenewal(pem, start + 19 * DAY), false);
  assert.equal(needsRenewal(pem, start + 20 * DAY - 1), false);
  assert.equal(needsRenewal(pem, start + 20 * DAY + 1), true);
  assert.equal(needsRenewal(pem, start + 40 * DAY), true);
  assert.equal(needsRenewal(pem, start + 10 * DAY, 0.75), true);
  assert.equal(needsRenewal(pem, start + 10 * DAY, 0.5), false);
});

test('certificateExpiry and needsRenewal refuse what is not a PEM certificate without echoing it', () => {
  for (const bad of [
    '',
    'not a certificate',
    '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
  ]) {
    const error = throwsSlapError(() => certificateExpiry(bad), 'SLAP_ERR_INVALID_INPUT');
    if (bad.length > 0) assert.ok(!error.message.includes(bad));
    throwsSlapError(() => needsRenewal(bad, 0), 'SLAP_ERR_INVALID_INPUT');
  }
});

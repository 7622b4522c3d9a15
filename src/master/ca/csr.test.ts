import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, webcrypto } from 'node:crypto';
import { SlapError, type ErrorCode } from '../../core/errors.ts';
import { createKeyAndCertificateRequest } from '../../lib/certificate-request.ts';
import { EC_P256_SHA256, x509 } from '../../lib/x509.ts';
import { seededRandom, hostileString, LINE_TERMINATORS } from '../../testing/hostile-strings.ts';
import { throwsSlapError } from '../../testing/slap-error-assert.ts';
import { MAX_CSR_BYTES, checkCertificateRequest } from './csr.ts';

const CSR_CODES: ReadonlySet<ErrorCode> = new Set([
  'SLAP_ERR_CSR_INVALID',
  'SLAP_ERR_CSR_TOO_LARGE',
  'SLAP_ERR_CSR_KEY',
  'SLAP_ERR_CSR_SIGNATURE',
  'SLAP_ERR_CSR_SUBJECT',
]);

async function requestWith(
  name: x509.JsonName | undefined,
  algorithm: webcrypto.RsaHashedKeyGenParams | (webcrypto.EcKeyGenParams & { hash: string }) = EC_P256_SHA256,
): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    ...(name ? { name } : {}),
    keys,
    signingAlgorithm: algorithm,
  });
  return csr.toString('pem');
}

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
}

function pemOf(der: Uint8Array, label = 'CERTIFICATE REQUEST'): string {
  return x509.PemConverter.encode(der, label);
}

test('accepts an empty subject, or exactly CN=<expected>, with EC P-256, P-384 and RSA 2048 keys; returns the key', async () => {
  const { csrPem } = await createKeyAndCertificateRequest();
  const checked = checkCertificateRequest(csrPem, 'COMP-1');
  assert.equal(checked.publicKey.asymmetricKeyType, 'ec');
  checkCertificateRequest(`\n  ${csrPem.replace(/\n/g, '\r\n')}\r\n`);
  checkCertificateRequest((await createKeyAndCertificateRequest('COMP-1')).csrPem, 'COMP-1');
  // Without an expected name the subject is not looked at: the master writes its own.
  checkCertificateRequest((await createKeyAndCertificateRequest('anything')).csrPem);
  checkCertificateRequest(
    await requestWith(undefined, { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' }),
  );
  const rsa = checkCertificateRequest(
    await requestWith(undefined, {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    }),
  );
  assert.equal(rsa.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(createPublicKey(rsa.publicKey.export({ type: 'spki', format: 'pem' })));
});

test('a subject other than CN=<expected> is refused as forged', async () => {
  for (const name of [
    [{ CN: ['COMP-2'] }],
    [{ CN: ['COMP-1'] }, { O: ['user'] }],
    [{ O: ['compute_node'] }, { CN: ['COMP-1'] }],
    [{ CN: ['COMP-1, O=user'] }],
    [{ CN: ['COMP-1', 'COMP-1'] }],
    [{ O: ['COMP-1'] }],
    [{ CN: ['comp-1'] }],
    [{ CN: ['COMP-1 '] }],
  ]) {
    const forged = await requestWith(name);
    throwsSlapError(() => checkCertificateRequest(forged, 'COMP-1'), 'SLAP_ERR_CSR_SUBJECT');
  }
});

test('oversized, non-text, non-ASCII, malformed and wrongly labelled requests are refused, each with its code', async () => {
  const { csrPem } = await createKeyAndCertificateRequest();
  const der = derOf(csrPem);
  throwsSlapError(
    () => checkCertificateRequest(csrPem + ' '.repeat(MAX_CSR_BYTES)),
    'SLAP_ERR_CSR_TOO_LARGE',
  );
  throwsSlapError(() => checkCertificateRequest('é'.repeat(MAX_CSR_BYTES / 2 + 1)), 'SLAP_ERR_CSR_TOO_LARGE');
  for (const notText of [undefined, null, 42, der, { pem: csrPem }]) {
    throwsSlapError(() => checkCertificateRequest(notText), 'SLAP_ERR_CSR_INVALID', /must be PEM text/);
  }
  throwsSlapError(() => checkCertificateRequest(csrPem.replace('MI', 'MÍ')), 'SLAP_ERR_CSR_INVALID', /ASCII/);
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['certificate label', pemOf(der, 'CERTIFICATE')],
    ['new certificate request label', pemOf(der, 'NEW CERTIFICATE REQUEST')],
    ['two blocks', `${csrPem}\n${csrPem}`],
    ['text before', `subject: evil\n${csrPem}`],
    ['text after', `${csrPem}\nmore`],
    ['bad base64', csrPem.replace(/\n(.)/, '\n*')],
    ['padding inside the base64', csrPem.replace(/\n(....)/, '\n$1=')],
    ['random DER', pemOf(webcrypto.getRandomValues(new Uint8Array(200)))],
    ['truncated DER', pemOf(der.subarray(0, der.length - 10))],
    ['trailing bytes', pemOf(Buffer.concat([der, Buffer.from([0, 0])]))],
    [
      'a certificate in a request block',
      pemOf(Buffer.from(new x509.X509Certificate(await selfSigned()).rawData)),
    ],
  ];
  for (const [what, text] of cases) {
    const error = throwsSlapError(() => checkCertificateRequest(text), 'SLAP_ERR_CSR_INVALID');
    assert.ok(!error.message.includes('MI'), `${what}: the message does not echo the request`);
  }
});

async function selfSigned(): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(EC_P256_SHA256, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: ['x'] }],
    keys,
    signingAlgorithm: EC_P256_SHA256,
  });
  return certificate.toString('pem');
}

test('a tampered request fails its self-signature check', async () => {
  const { csrPem } = await createKeyAndCertificateRequest('COMP-1');
  const der = derOf(csrPem);
  const signatureByte = Buffer.from(der);
  signatureByte[signatureByte.length - 1] = (signatureByte.at(-1) ?? 0) ^ 0x01;
  throwsSlapError(() => checkCertificateRequest(pemOf(signatureByte)), 'SLAP_ERR_CSR_SIGNATURE');
  // The subject changed after signing: the signature no longer covers what is sent.
  const subjectByte = Buffer.from(der);
  const at = subjectByte.indexOf(Buffer.from('COMP-1'));
  assert.ok(at > 0);
  subjectByte[at + 5] = '2'.charCodeAt(0);
  throwsSlapError(() => checkCertificateRequest(pemOf(subjectByte), 'COMP-2'), 'SLAP_ERR_CSR_SIGNATURE');
});

test('weak or unsupported keys are refused: RSA 1024, P-521', async () => {
  const rsa1024 = await requestWith(undefined, {
    name: 'RSASSA-PKCS1-v1_5',
    modulusLength: 1024,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: 'SHA-256',
  });
  throwsSlapError(() => checkCertificateRequest(rsa1024), 'SLAP_ERR_CSR_KEY', /RSA 1024 bits/);
  const p521 = await requestWith(undefined, { name: 'ECDSA', namedCurve: 'P-521', hash: 'SHA-512' });
  throwsSlapError(() => checkCertificateRequest(p521), 'SLAP_ERR_CSR_KEY');
});

test('property: hostile text as a request only ever gives a CSR SlapError that does not echo it', async () => {
  const random = seededRandom(0xc5a);
  const { csrPem } = await createKeyAndCertificateRequest('COMP-1');
  const pieces = [
    '-----BEGIN CERTIFICATE REQUEST-----',
    '-----END CERTIFICATE REQUEST-----',
    'MII',
    '=',
    ...LINE_TERMINATORS,
  ];
  const messages = new Set<string>();
  for (let i = 0; i < 400; i++) {
    let text: string;
    const mode = i % 3;
    if (mode === 0) text = hostileString(random);
    else if (mode === 1) {
      text = `-----BEGIN CERTIFICATE REQUEST-----\n${hostileString(random)}\n-----END CERTIFICATE REQUEST-----`;
    } else {
      // A valid request with hostile text spliced in at a random place.
      const at = Math.floor(random() * csrPem.length);
      const insert =
        random() < 0.5 ? hostileString(random, 3) : (pieces[Math.floor(random() * pieces.length)] ?? '');
      text = csrPem.slice(0, at) + insert + csrPem.slice(at + (random() < 0.5 ? 1 : 0));
    }
    let outcome: unknown;
    try {
      checkCertificateRequest(text, 'COMP-1');
      outcome = 'accepted';
    } catch (error) {
      outcome = error;
    }
    if (outcome === 'accepted') {
      // Only whitespace around the block or a line-ending change can leave a valid request valid.
      assert.equal(text.replace(/\s/g, ''), csrPem.replace(/\s/g, ''), `accepted a changed request #${i}`);
      continue;
    }
    assert.ok(outcome instanceof SlapError, `#${i}: ${String(outcome)}`);
    assert.ok(CSR_CODES.has(outcome.code), `#${i}: ${outcome.code}`);
    if (text.length >= 24)
      assert.ok(!outcome.message.includes(text), `#${i}: the message echoes the request`);
    assert.ok(!outcome.message.includes('MII'), `#${i}: the message contains request text`);
    messages.add(outcome.message);
  }
  assert.ok(messages.size <= 12, `messages come from a fixed set: ${[...messages].join(' | ')}`);
});

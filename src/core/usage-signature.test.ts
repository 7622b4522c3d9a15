import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { SlapError } from './errors.ts';
import { readUsageSeal, sealUsageJournal, usageDocumentHash, verifyUsageSeal } from './usage-signature.ts';
import { parseUsageJournal } from './usage-journal.ts';
import { generateEcKeyPair, privateKeyPem, x509, EC_P256_SHA256 } from '../lib/x509.ts';

async function selfSigned(): Promise<{ keyPem: string; certificatePem: string }> {
  const keys = await generateEcKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=COMP-1',
    notBefore: new Date(Date.UTC(2026, 0, 1)),
    notAfter: new Date(Date.UTC(2030, 0, 1)),
    signingAlgorithm: EC_P256_SHA256,
    keys,
  });
  return { keyPem: await privateKeyPem(keys.privateKey), certificatePem: certificate.toString('pem') };
}

const JOURNAL = `<?xml version='1.0' encoding='utf-8'?>
<journal><transaction><start_date>2026-11-01 00:00:00</start_date><stop_date>2026-11-01 01:00:00</stop_date>
<movement><resource>service_module/cpu_time</resource><reference>slappart0</reference><quantity>12.5</quantity></movement>
</transaction></journal>`;

test('a sealed journal reads back, verifies, parses as before, and chains by hash', async () => {
  const { keyPem, certificatePem } = await selfSigned();
  const key = createPrivateKey(keyPem);
  const first = sealUsageJournal(JOURNAL, { sequence: 1, previous: '', key, certificatePem });
  const second = sealUsageJournal(JOURNAL, {
    sequence: 2,
    previous: usageDocumentHash(first),
    key,
    certificatePem,
  });
  const seal = readUsageSeal(second);
  assert.ok(seal);
  assert.equal(seal.sequence, 2);
  assert.equal(seal.previous, usageDocumentHash(first));
  assert.ok(verifyUsageSeal(seal));
  assert.deepEqual(parseUsageJournal(second), parseUsageJournal(JOURNAL));
  assert.equal(readUsageSeal(JOURNAL), undefined);

  const altered = second.replace('12.5', '1.5');
  const alteredSeal = readUsageSeal(altered);
  assert.ok(alteredSeal);
  assert.equal(verifyUsageSeal(alteredSeal), false);

  const other = await selfSigned();
  const forged = readUsageSeal(second);
  assert.ok(forged);
  assert.equal(verifyUsageSeal({ ...forged, certificatePem: other.certificatePem }), false);
});

test('a chain without signature, or two chains, is refused', async () => {
  const { keyPem, certificatePem } = await selfSigned();
  const sealed = sealUsageJournal(JOURNAL, {
    sequence: 1,
    previous: '',
    key: createPrivateKey(keyPem),
    certificatePem,
  });
  const unsigned = sealed.slice(0, sealed.indexOf('<?slapos-usage-signature'));
  assert.throws(() => readUsageSeal(unsigned), SlapError);
  const twice = sealed.replace('<journal>', '<?slapos-usage-chain sequence="3" previous=""?><journal>');
  assert.throws(() => readUsageSeal(twice), SlapError);
});

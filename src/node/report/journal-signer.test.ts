import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '../../testing/node.ts';
import { selfSignedCertificate } from '../../testing/self-signed.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { loadJournalSigner } from './journal-signer.ts';

const dir = await makeTempDir('slapos-journal-signer-');
after(() => rm(dir, { recursive: true, force: true }));

test("the node's key and certificate seal its journals; none: unsealed; a pair that does not match: an error", async () => {
  const one = await selfSignedCertificate('COMP-1');
  const other = await selfSignedCertificate('COMP-1');
  const keyFile = join(dir, 'computer.key');
  const certFile = join(dir, 'computer.crt');
  await writeFile(keyFile, one.keyPem, { mode: 0o600 });
  await writeFile(certFile, one.certificatePem);
  assert.equal(await loadJournalSigner({ keyFile: undefined, certFile: undefined }), undefined);
  const signer = await loadJournalSigner({ keyFile, certFile });
  assert.equal(signer?.certificatePem, one.certificatePem);

  await writeFile(certFile, other.certificatePem);
  const error = await rejectsWithSlapError(
    loadJournalSigner({ keyFile, certFile }),
    'SLAP_ERR_CONFIG',
    /key_file does not match its cert_file/,
  );
  assert.doesNotMatch(`${error.message} ${error.hint ?? ''}`, /PRIVATE KEY/);
  await writeFile(certFile, 'not a certificate');
  await rejectsWithSlapError(loadJournalSigner({ keyFile, certFile }), 'SLAP_ERR_CONFIG', /cannot read/);
});

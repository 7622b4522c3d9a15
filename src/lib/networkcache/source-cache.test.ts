import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sourceEntryKey } from '../../core/networkcache/entry.ts';
import { profileRunner, serveDirectory, tempDir } from '../../testing/buildout.ts';
import { rsaSigner, sha512Hex, startTestCacheServer } from '../../testing/networkcache.ts';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

test('source cache: a download with an md5sum is stored under file-urlmd5:, then served from it when the origin is gone', async () => {
  const site = await tempDir();
  const dir = await tempDir();
  const cache = await startTestCacheServer();
  await site.write({ 'pkg-1.0.tar.gz': 'the source' });
  const origin = await serveDirectory(site.path);
  try {
    const signer = await rsaSigner();
    await writeFile(join(dir.path, 'signer.key'), signer.keyPem, { mode: 0o600 });
    const url = `${origin.url}/pkg-1.0.tar.gz`;
    const profile = (extra: string): string => `[buildout]
parts = src
networkcache-section = networkcache
[networkcache]
download-cache-url = ${cache.cacheUrl}
download-dir-url = ${cache.dirUrl}
signature-certificate-list =
${signer.certificatePem
  .trim()
  .split('\n')
  .map((line) => `  ${line}`)
  .join('\n')}
${extra}
[src]
recipe = slapos.recipe.build:download
url = ${url}
md5sum = ${md5('the source')}
`;
    const { run } = profileRunner(dir.path);
    await run(
      profile(
        `upload-cache-url = ${cache.cacheUrl}\nupload-dir-url = ${cache.dirUrl}\nsignature-private-key-file = signer.key`,
      ),
    );
    const key = sourceEntryKey(url);
    const [pair] = (cache.dir.get(key) ?? []) as [string, string][];
    assert.ok(pair, `an entry under ${key}`);
    assert.deepEqual(JSON.parse(pair[0]), { sha512: sha512Hex('the source'), url });
    assert.match(pair[0], /^\{"sha512": "[0-9a-f]{128}", "url": /);

    // The origin loses the file: a fresh build gets it from the source cache.
    await rm(join(site.path, 'pkg-1.0.tar.gz'));
    await rm(join(dir.path, 'parts'), { recursive: true, force: true });
    await rm(join(dir.path, '.installed.cfg'), { force: true });
    await run(profile(''));
    assert.equal(await readFile(join(dir.path, 'parts', 'src', 'src'), 'utf8'), 'the source');

    // A cached blob that does not match the md5sum is not used: the origin is asked (and fails here).
    const sha = sha512Hex('the source');
    cache.blobs.set(sha, Buffer.from('tampered'));
    await rm(join(dir.path, 'parts'), { recursive: true, force: true });
    await rm(join(dir.path, '.installed.cfg'), { force: true });
    await assert.rejects(run(profile('')), /Error downloading .*pkg-1\.0\.tar\.gz: HTTP 404/);
  } finally {
    await origin.close();
    await cache.close();
    await site.remove();
    await dir.remove();
  }
});

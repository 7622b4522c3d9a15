import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeProgressEvent } from '../pass.ts';
import {
  COMPUTER_ID,
  helloInstance,
  startNodeHarness,
  writeSoftwareRelease,
} from '../../testing/node-passes.ts';
import { rsaSigner, startTestCacheServer } from '../../testing/networkcache.ts';
import {
  BUILD_LOG_FILE,
  COMPLETED_FILE,
  networkcacheAssignments,
  runSoftwarePass,
  softwareDirectory,
} from './software-pass.ts';

const MACHINE = { multiarch: 'x86_64-linux-gnu', os: ['debian', '12', ''] as const };

test('software pass: a build is uploaded; another software root installs it from the binary cache without building', async () => {
  const h = await startNodeHarness({ supervisor: false });
  const cache = await startTestCacheServer();
  try {
    const signer = await rsaSigner();
    await writeFile(join(h.dir, 'signer.key'), signer.keyPem, { mode: 0o600 });
    const networkcache = {
      'download-binary-cache-url': cache.cacheUrl,
      'download-binary-dir-url': cache.dirUrl,
      'upload-binary-cache-url': cache.cacheUrl,
      'upload-binary-dir-url': cache.dirUrl,
      'signature-certificate-list': signer.certificatePem,
      'signature-private-key-file': join(h.dir, 'signer.key'),
    };
    const url = await writeSoftwareRelease(h.dir, 'hello', { instance: helloInstance() });
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });

    const builder = { ...h.config, networkcache };
    const built = await runSoftwarePass(builder, { master: h.client, binaryCache: { machine: MACHINE } });
    assert.deepEqual(
      built.items.map((i) => [i.outcome, i.installedFrom]),
      [['installed', 'build']],
    );
    const buildLog = await readFile(
      join(softwareDirectory(builder.softwareRoot, url), BUILD_LOG_FILE),
      'utf8',
    );
    assert.match(buildLog, /Binary cache: no entry under [0-9a-f]{32}/);
    assert.match(buildLog, /Uploaded to binary cache \(sha512 [0-9a-f]{128}\)/);

    const secondRoot = join(h.dir, 'second-root');
    await mkdir(secondRoot);
    const second = { ...h.config, softwareRoot: secondRoot, networkcache };
    const events: NodeProgressEvent[] = [];
    const fetched = await runSoftwarePass(second, {
      master: h.client,
      binaryCache: { machine: MACHINE },
      onProgress: (e) => events.push(e),
    });
    assert.deepEqual(
      fetched.items.map((i) => [i.outcome, i.installedFrom]),
      [['installed', 'binary-cache']],
    );
    const directory = softwareDirectory(secondRoot, url);
    assert.ok(existsSync(join(directory, 'instance.cfg')));
    assert.ok(existsSync(join(directory, COMPLETED_FILE)));
    assert.equal(
      events.some((e) => e.type === 'buildout'),
      false,
      'nothing was built',
    );
    assert.deepEqual(
      events.filter((e) => e.type === 'software').map((e) => e.type === 'software' && [e.action, e.message]),
      [
        ['building', undefined],
        ['available', `installed from binary cache ${cache.cacheUrl}`],
      ],
    );
    assert.match(
      await readFile(join(directory, BUILD_LOG_FILE), 'utf8'),
      /Installed from binary cache http:\/\/127\.0\.0\.1:\d+\/shacache/,
    );
  } finally {
    await cache.close();
    await h.close();
  }
});

test('software pass: a release in download-from-binary-cache-force-url-list that is not in the cache fails, never builds', async () => {
  const h = await startNodeHarness({ supervisor: false });
  const cache = await startTestCacheServer();
  try {
    const url = await writeSoftwareRelease(h.dir, 'hello', { instance: helloInstance() });
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    const config = {
      ...h.config,
      networkcache: {
        'download-binary-cache-url': cache.cacheUrl,
        'download-binary-dir-url': cache.dirUrl,
        'download-from-binary-cache-force-url-list': url.slice(0, 5),
      },
    };
    const events: NodeProgressEvent[] = [];
    const result = await runSoftwarePass(config, {
      master: h.client,
      binaryCache: { machine: MACHINE },
      onProgress: (e) => events.push(e),
    });
    assert.equal(result.items[0]?.outcome, 'failed');
    assert.equal(result.items[0]?.error?.code, 'SLAP_ERR_CACHE_FORCED');
    assert.match(result.items[0]?.error?.message ?? '', /Binary cache forced for .* never built here/);
    assert.equal(
      events.some((e) => e.type === 'buildout'),
      false,
      'nothing was built',
    );
    assert.equal(existsSync(join(softwareDirectory(config.softwareRoot, url), 'instance.cfg')), false);
  } finally {
    await cache.close();
    await h.close();
  }
});

test('networkcache options reach the release buildout as slapgrid forwards them', () => {
  assert.deepEqual(networkcacheAssignments({ file: '/etc/opt/slapos/slapos.cfg', networkcache: {} }), []);
  assert.deepEqual(
    networkcacheAssignments({
      file: '/etc/opt/slapos/slapos.cfg',
      networkcache: { 'download-cache-url': 'https://cache', 'shacache-cert-file': 'c.pem' },
    }),
    [],
    'neither a key nor an upload URL: nothing forwarded',
  );
  assert.deepEqual(
    networkcacheAssignments({
      file: '/etc/opt/slapos/slapos.cfg',
      networkcache: {
        signature_private_key_file: 'keys/sign.key',
        'upload-cache-url': 'https://up/shacache',
        'upload-dir-url': 'https://up/shadir\nextra',
        'shacache-cert-file': '/abs/c.pem',
        'download-binary-cache-url': 'https://bin',
      },
    }),
    [
      'buildout:networkcache-section=networkcache',
      'networkcache:signature-private-key-file=/etc/opt/slapos/keys/sign.key',
      'networkcache:upload-cache-url=https://up/shacache',
      'networkcache:shacache-cert-file=/abs/c.pem',
    ],
  );
});

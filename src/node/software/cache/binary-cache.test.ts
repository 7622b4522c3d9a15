import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { binaryEntryJson, binaryEntryKey, type OsTriple } from '../../../core/networkcache/entry.ts';
import { loadPrivateKey, signEntry } from '../../../core/networkcache/signature.ts';
import { createLogger, silentLogger } from '../../../lib/logger.ts';
import { tempDir, type TempDir } from '../../../testing/buildout.ts';
import {
  rsaSigner,
  sha512Hex,
  startTestCacheServer,
  tarGzOf,
  type TarEntrySpec,
  type TestCacheServer,
  type TestSigner,
} from '../../../testing/networkcache.ts';
import { installFromBinaryCache, uploadToBinaryCache, type BinaryCacheContext } from './binary-cache.ts';
import { readNetworkcacheOptions } from '../../../lib/networkcache/options.ts';

const URL = 'https://lab.example/software/hello/software.cfg';
const KEY = binaryEntryKey(URL);
const MACHINE = { multiarch: 'x86_64-linux-gnu', os: ['debian', '12', 'bookworm'] as OsTriple };
const TOKEN = 'sekrit-upload-token-42';

interface World {
  dir: TempDir;
  server: TestCacheServer;
  signer: TestSigner;
  context(root: string, extra?: Record<string, string>): BinaryCacheContext;
  /** Puts `entries` as a blob and a signed entry (signed by `by`, default the trusted signer). */
  publish(
    entries: readonly TarEntrySpec[],
    options?: { by?: TestSigner; entry?: Partial<Parameters<typeof binaryEntryJson>[0]>; blob?: Buffer },
  ): string;
  close(): Promise<void>;
}

async function world(): Promise<World> {
  const dir = await tempDir('binary-cache-');
  const server = await startTestCacheServer();
  const signer = await rsaSigner('trusted');
  await writeFile(join(dir.path, 'signer.key'), signer.keyPem, { mode: 0o600 });
  await writeFile(join(dir.path, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  const cfg = join(dir.path, 'slapos.cfg');
  return {
    dir,
    server,
    signer,
    context(root, extra = {}) {
      const options = readNetworkcacheOptions(
        {
          'download-binary-cache-url': server.cacheUrl,
          'download-binary-dir-url': server.dirUrl,
          'upload-binary-cache-url': server.cacheUrl,
          'upload-binary-dir-url': server.dirUrl,
          'signature-certificate-list': signer.certificatePem,
          'signature-private-key-file': 'signer.key',
          'upload-token-file': 'token',
          ...extra,
        },
        cfg,
      );
      return {
        options,
        url: URL,
        softwareRoot: root,
        directory: join(root, KEY),
        machine: MACHINE,
        logger: silentLogger(),
      };
    },
    publish(entries, options = {}) {
      const blob = options.blob ?? tarGzOf(entries);
      const sha512 = sha512Hex(tarGzOf(entries));
      server.blobs.set(sha512, blob);
      const json = binaryEntryJson({
        sha512,
        softwareUrl: URL,
        softwareRoot: '/srv/slapgrid',
        ...MACHINE,
        ...options.entry,
      });
      const list = server.dir.get(KEY) ?? [];
      list.push([json, signEntry(json, loadPrivateKey((options.by ?? signer).keyPem))]);
      server.dir.set(KEY, list);
      return sha512;
    },
    async close() {
      await server.close();
      await dir.remove();
    },
  };
}

const RELEASE: TarEntrySpec[] = [
  { name: `${KEY}/`, type: '5' },
  { name: `${KEY}/bin/`, type: '5' },
  { name: `${KEY}/bin/tool`, content: 'tool', mode: 0o755 },
  { name: `${KEY}/instance.cfg`, content: '[buildout]\n' },
];

async function refused(w: World, pattern: RegExp): Promise<void> {
  const root = join(w.dir.path, 'root');
  await mkdir(root, { recursive: true });
  const result = await installFromBinaryCache(w.context(root));
  assert.equal(result.installed, false);
  if (!result.installed)
    assert.ok(
      result.reasons.some((r) => pattern.test(r)),
      `${pattern} in ${JSON.stringify(result.reasons)}`,
    );
  assert.equal(existsSync(join(root, KEY)), false, 'no software directory');
  assert.deepEqual(await readdir(root), [], 'no temporary left');
}

test('upload then download: a build uploaded by one software root installs into another', async () => {
  const w = await world();
  try {
    const first = join(w.dir.path, 'first');
    await mkdir(join(first, KEY, 'bin'), { recursive: true });
    await writeFile(join(first, KEY, 'bin', 'tool'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    await writeFile(join(first, KEY, '.completed'), 'done');
    const logFile = join(w.dir.path, 'log.json');
    const logger = createLogger({ destination: logFile, level: 'debug' });
    const upload = await uploadToBinaryCache({ ...w.context(first), logger }, { leaveOut: ['.completed'] });
    assert.equal(upload.uploaded, true);
    assert.equal(w.server.dir.get(KEY)?.length, 1);
    const [entryJson] = w.server.dir.get(KEY)?.[0] as [string, string];
    assert.deepEqual(Object.keys(JSON.parse(entryJson) as object), [
      'sha512',
      'software_url',
      'software_root',
      'multiarch',
      'os',
    ]);
    assert.match(entryJson, /^\{"sha512": "[0-9a-f]{128}", "software_url": /);
    assert.ok(w.server.uploadAuthorizations.length >= 2);
    for (const authorization of w.server.uploadAuthorizations) assert.equal(authorization, `Bearer ${TOKEN}`);

    const second = join(w.dir.path, 'second');
    await mkdir(second);
    const result = await installFromBinaryCache({ ...w.context(second), logger });
    assert.equal(result.installed, true);
    assert.equal(await readFile(join(second, KEY, 'bin', 'tool'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(existsSync(join(second, KEY, '.completed')), false, 'the marker was left out');
    assert.deepEqual(await readdir(second), [KEY], 'no temporary left');
    assert.equal((await readFile(logFile, 'utf8')).includes(TOKEN), false, 'the token is never logged');

    // A second upload of the same content does not send the blob again.
    const posts = () => w.server.server.requests.filter((r) => r.method === 'POST').length;
    const before = posts();
    assert.equal((await uploadToBinaryCache(w.context(first), { leaveOut: ['.completed'] })).uploaded, true);
    assert.equal(posts(), before);
  } finally {
    await w.close();
  }
});

test('refused: an entry whose signature does not verify (tampered entry)', async () => {
  const w = await world();
  try {
    w.publish(RELEASE);
    const pair = w.server.dir.get(KEY)?.[0] as [string, string];
    pair[0] = pair[0].replace('"os": ["debian"', '"os": ["debian" ');
    await refused(w, /signature does not verify/);
  } finally {
    await w.close();
  }
});

test('refused: an entry signed by a key that is not in signature-certificate-list', async () => {
  const w = await world();
  try {
    w.publish(RELEASE, { by: await rsaSigner('stranger') });
    await refused(w, /signature does not verify/);
  } finally {
    await w.close();
  }
});

test('refused: a blob whose sha512 differs from the entry', async () => {
  const w = await world();
  try {
    w.publish(RELEASE, { blob: tarGzOf([...RELEASE, { name: `${KEY}/extra`, content: 'x' }]) });
    await refused(w, /sha512 mismatch/);
  } finally {
    await w.close();
  }
});

test('refused: a truncated download (connection cut, or shorter than Content-Length)', async () => {
  const w = await world();
  try {
    w.publish(RELEASE);
    w.server.blobBehaviour = 'truncate';
    await refused(w, /truncated download/);
    w.server.blobBehaviour = 'wrong-length';
    await refused(w, /truncated download/);
  } finally {
    await w.close();
  }
});

test('refused: archives escaping the software directory or holding devices', async () => {
  const cases: [TarEntrySpec[], RegExp][] = [
    [[...RELEASE, { name: `${KEY}/../evil`, content: 'x' }], /points outside/],
    [[...RELEASE, { name: '/etc/evil', content: 'x' }], /points outside/],
    [[...RELEASE, { name: `${KEY}/link`, type: '2', linkName: '/etc' }], /symbolic link/],
    [[...RELEASE, { name: `${KEY}/link`, type: '2', linkName: '../../x' }], /symbolic link/],
    [[...RELEASE, { name: `${KEY}/hard`, type: '1', linkName: '../etc/passwd' }], /hard link/],
    [[...RELEASE, { name: `${KEY}/null`, type: '3' }], /char-device/],
    [[...RELEASE, { name: 'other/file', content: 'x' }], /is not under/],
  ];
  for (const [entries, pattern] of cases) {
    const w = await world();
    try {
      w.publish(entries);
      await refused(w, pattern);
    } finally {
      await w.close();
    }
  }
});

test('entries for another machine or release are skipped; the first compatible one is installed', async () => {
  const w = await world();
  try {
    w.publish([...RELEASE, { name: `${KEY}/arm`, content: 'arm' }], {
      entry: { multiarch: 'aarch64-linux-gnu' },
    });
    w.publish([...RELEASE, { name: `${KEY}/old`, content: 'old' }], { entry: { os: ['debian', '11', ''] } });
    w.publish([...RELEASE, { name: `${KEY}/alien`, content: 'x' }], {
      entry: { softwareUrl: 'https://other/software.cfg' },
    });
    w.publish([...RELEASE, { name: `${KEY}/good`, content: 'good' }], {
      entry: { os: ['debian', '12.7', ''] },
    });
    const root = join(w.dir.path, 'root');
    await mkdir(join(root, `.binary-cache-${KEY}-left-by-a-crash`), { recursive: true });
    const result = await installFromBinaryCache(w.context(root));
    assert.equal(result.installed, true);
    assert.deepEqual(await readdir(root), [KEY], 'what an interrupted run left is removed');
    assert.equal(await readFile(join(root, KEY, 'good'), 'utf8'), 'good');
    assert.equal(existsSync(join(root, KEY, 'arm')), false);
  } finally {
    await w.close();
  }
});

test('a blacklisted URL is not looked up; nothing in the cache is a plain "not installed"', async () => {
  const w = await world();
  try {
    const root = join(w.dir.path, 'root');
    await mkdir(root);
    const missing = await installFromBinaryCache(w.context(root));
    assert.deepEqual(missing, { installed: false, reasons: [`no entry under ${KEY} in ${w.server.dirUrl}`] });
    w.publish(RELEASE);
    const requests = w.server.server.requests.length;
    const result = await installFromBinaryCache(
      w.context(root, { 'download-from-binary-cache-url-blacklist': 'https://lab.example/' }),
    );
    assert.equal(result.installed, false);
    assert.equal(w.server.server.requests.length, requests, 'no request');
    // The old option name is an alias.
    assert.equal(
      (await installFromBinaryCache(w.context(root, { 'binary-cache-url-blacklist': 'https://lab' })))
        .installed,
      false,
    );
  } finally {
    await w.close();
  }
});

test('an upload failure is retried a bounded number of times and reported, never thrown', async () => {
  const w = await world();
  try {
    const root = join(w.dir.path, 'root');
    await mkdir(join(root, KEY), { recursive: true });
    await writeFile(join(root, KEY, 'file'), 'x');
    w.server.failUploads = 500;
    const sleeps: number[] = [];
    const result = await uploadToBinaryCache(w.context(root), {
      attempts: 3,
      backoffMs: 10,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    });
    assert.equal(result.uploaded, false);
    if (!result.uploaded) assert.match(result.reason, /Upload to shacache .* failed: HTTP 500/);
    assert.deepEqual(sleeps, [10, 20]);
    assert.equal(w.server.server.requests.filter((r) => r.method === 'POST').length, 3);
    // Shared software (.shared) and blacklisted URLs are not uploaded at all.
    await writeFile(join(root, KEY, '.shared'), '');
    assert.deepEqual(await uploadToBinaryCache(w.context(root)), {
      uploaded: false,
      reason: 'the software release uses shared parts (.shared)',
    });
  } finally {
    await w.close();
  }
});

test('configuration: a token file readable by others, a missing file, a key without its certificate are errors', async () => {
  const w = await world();
  try {
    await chmod(join(w.dir.path, 'token'), 0o644);
    assert.throws(
      () => w.context(w.dir.path),
      /upload-token-file: .* must not be readable by group or others/,
    );
    await chmod(join(w.dir.path, 'token'), 0o600);
    assert.throws(
      () => w.context(w.dir.path, { 'shacache-cert-file': 'missing.pem' }),
      /shacache-cert-file: file .*missing\.pem does not exist/,
    );
    const stranger = await rsaSigner('stranger');
    assert.throws(
      () => w.context(w.dir.path, { 'signature-certificate-list': stranger.certificatePem }),
      /no certificate for signature-private-key-file/,
    );
    assert.throws(
      () => w.context(w.dir.path, { 'download-binary-cache-url': 'ftp://x/' }),
      /must be an http\(s\) URL/,
    );
    try {
      w.context(w.dir.path, { 'shacache-cert-file': 'missing.pem' });
    } catch (error) {
      assert.equal((error as Error).message.includes(TOKEN), false);
    }
  } finally {
    await w.close();
  }
});

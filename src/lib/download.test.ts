import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SlapError } from '../core/errors.ts';
import { closedPort, serveDirectory, tempDir } from '../testing/buildout.ts';
import { cacheKey, download, type DownloadProgress } from './download.ts';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

test('downloads over HTTP into the destination, verifying md5 and sha256, with progress', async () => {
  const site = await tempDir();
  const work = await tempDir();
  const content = 'x'.repeat(300_000);
  await site.write({ 'file.bin': content });
  const server = await serveDirectory(site.path);
  try {
    const progress: DownloadProgress[] = [];
    const destination = join(work.path, 'sub', 'out.bin');
    const result = await download(`${server.url}/file.bin`, {
      destination,
      md5sum: md5(content),
      sha256sum: sha256(content).toUpperCase(),
      onProgress: (p) => progress.push(p),
    });
    assert.equal(result.path, destination);
    assert.equal(result.size, content.length);
    assert.equal(await readFile(destination, 'utf8'), content);
    assert.deepEqual(progress.at(-1), {
      url: `${server.url}/file.bin`,
      received: content.length,
      total: content.length,
      done: true,
    });
    assert.deepEqual(await readdir(join(work.path, 'sub')), ['out.bin'], 'no temporary file left');
  } finally {
    await server.close();
    await site.remove();
    await work.remove();
  }
});

test('a checksum mismatch fails and leaves nothing at the destination', async () => {
  const site = await tempDir();
  const work = await tempDir();
  await site.write({ 'file.txt': 'real content' });
  const server = await serveDirectory(site.path);
  try {
    const destination = join(work.path, 'out.txt');
    await assert.rejects(
      download(`${server.url}/file.txt`, { destination, md5sum: md5('other') }),
      (error: unknown) => {
        assert.ok(error instanceof SlapError);
        assert.equal(error.code, 'SLAP_ERR_CHECKSUM_MISMATCH');
        assert.match(
          error.message,
          /MD5 checksum mismatch for download of .*file\.txt: expected [0-9a-f]{32}, got [0-9a-f]{32}/,
        );
        return true;
      },
    );
    assert.equal(existsSync(destination), false);
    assert.deepEqual(await readdir(work.path), []);
    await assert.rejects(
      download(`${server.url}/file.txt`, { destination, sha256sum: sha256('other') }),
      /SHA-256 checksum mismatch/,
    );
  } finally {
    await server.close();
    await site.remove();
    await work.remove();
  }
});

test('the cache keeps files under md5(url) and serves them offline; refresh falls back to it', async () => {
  const site = await tempDir();
  const work = await tempDir();
  await site.write({ 'a.txt': 'version 1' });
  const server = await serveDirectory(site.path);
  const url = `${server.url}/a.txt`;
  try {
    const cacheDir = join(work.path, 'cache');
    const first = await download(url, { cacheDir });
    assert.equal(first.path, join(cacheDir, cacheKey(url)));
    assert.equal(first.fromCache, false);
    const requests = server.requests.length;
    const second = await download(url, { cacheDir, destination: join(work.path, 'copy.txt') });
    assert.equal(second.fromCache, true);
    assert.equal(server.requests.length, requests, 'served from the cache without the network');
    assert.equal(await readFile(join(work.path, 'copy.txt'), 'utf8'), 'version 1');

    await site.write({ 'a.txt': 'version 2' });
    const refreshed = await download(url, { cacheDir, refresh: true });
    assert.equal(await readFile(refreshed.path, 'utf8'), 'version 2');

    await server.close();
    const offline = await download(url, { cacheDir, offline: true });
    assert.equal(await readFile(offline.path, 'utf8'), 'version 2');
    const fallback = await download(url, { cacheDir, refresh: true });
    assert.equal(
      await readFile(fallback.path, 'utf8'),
      'version 2',
      'the cache is the fallback when the server is gone',
    );
    await assert.rejects(
      download(`${server.url}/other.txt`, { offline: true }),
      /Couldn't download .*other\.txt in offline mode/,
    );
    await assert.rejects(
      download(url, { cacheDir, md5sum: md5('version 1') }),
      /MD5 checksum mismatch for cached download/,
    );
  } finally {
    await server.close();
    await site.remove();
    await work.remove();
  }
});

test('local paths and file: URLs are used in place (checked, never copied to the cache)', async () => {
  const work = await tempDir();
  try {
    await work.write({ 'local.txt': 'local' });
    const path = join(work.path, 'local.txt');
    const viaPath = await download(path, {
      md5sum: md5('local'),
      cacheDir: join(work.path, 'cache'),
      offline: true,
    });
    assert.equal(viaPath.path, path);
    const viaUrl = await download(pathToFileURL(path).href, { destination: join(work.path, 'copy.txt') });
    assert.equal(await readFile(viaUrl.path, 'utf8'), 'local');
    assert.equal(existsSync(join(work.path, 'cache')), false);
    await assert.rejects(download(path, { md5sum: md5('x') }), /MD5 checksum mismatch for local resource/);
    await assert.rejects(download(join(work.path, 'missing.txt')), /Cannot read local resource/);
  } finally {
    await work.remove();
  }
});

test('HTTP errors, unreachable hosts and idle servers are download errors', async () => {
  const work = await tempDir();
  const server = await serveDirectory(work.path);
  const { createServer } = await import('node:http');
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const silentPort = (silent.address() as { port: number }).port;
  try {
    await assert.rejects(download(`${server.url}/nope.txt`), (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_DOWNLOAD_FAILED');
      assert.match(error.message, /HTTP 404/);
      return true;
    });
    const port = await closedPort();
    await assert.rejects(download(`http://127.0.0.1:${port}/x`), /ECONNREFUSED/);
    await assert.rejects(
      download(`http://127.0.0.1:${silentPort}/x`, { idleTimeoutMs: 200 }),
      /no data received for too long/,
    );
    const controller = new AbortController();
    const pending = download(`http://127.0.0.1:${silentPort}/y`, { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, /was cancelled/);
  } finally {
    silent.closeAllConnections();
    silent.close();
    await server.close();
    await work.remove();
  }
});

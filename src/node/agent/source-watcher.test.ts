/** The watcher of local software releases' sources: edits seen once each, touches ignored, the scan fallback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../lib/logger.ts';
import { waitFor } from '../../testing/supervisor.ts';
import { recordSources } from '../software/local-sources.ts';
import { SourceWatcher } from './source-watcher.ts';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'watch-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('an edit is reported once with its file; a touch is not; the next edit is seen again', async () => {
  await withDir(async (dir) => {
    const software = join(dir, 'soft');
    await mkdir(software);
    const profile = join(dir, 'release', 'software.cfg');
    const template = join(dir, 'release', 'templates', 'instance.cfg.in');
    await mkdir(join(dir, 'release', 'templates'), { recursive: true });
    await writeFile(profile, '[buildout]\n');
    await writeFile(template, 'one\n');
    await recordSources(software, [profile, template, join(software, 'buildout.cfg')], Date.now() + 60_000);
    const changes: [string, string][] = [];
    const watcher = new SourceWatcher({
      logger: silentLogger(),
      onChange: (url, file) => changes.push([url, file]),
      debounceMs: 20,
      scanIntervalMs: 60_000,
    });
    try {
      assert.equal(await watcher.watch('URL', software), true);
      assert.deepEqual(watcher.urls, ['URL']);
      const now = new Date(Date.now() + 10_000);
      await utimes(template, now, now);
      await sleep(300);
      assert.deepEqual(changes, [], 'a touch without a change is not a change');
      await writeFile(template, 'two\n');
      await waitFor('the edit', () => changes.length === 1 || undefined);
      assert.deepEqual(changes, [['URL', template]]);
      await sleep(300);
      assert.equal(changes.length, 1, 'reported once');
      await writeFile(profile, '[buildout]\nparts =\n');
      await waitFor('the second edit', () => changes.length === 2 || undefined);
      assert.deepEqual(changes[1], ['URL', profile]);
      watcher.unwatch('URL');
      await writeFile(profile, '[buildout]\n');
      await sleep(300);
      assert.equal(changes.length, 2, 'nothing once unwatched');
    } finally {
      watcher.close();
    }
  });
});

test('without a notification (a directory created later), the periodic scan sees the change', async () => {
  await withDir(async (dir) => {
    const software = join(dir, 'soft');
    await mkdir(software);
    const later = join(dir, 'later', 'extra.cfg');
    await recordSources(software, [later], Date.now() + 60_000);
    const changes: string[] = [];
    const watcher = new SourceWatcher({
      logger: silentLogger(),
      onChange: (_url, file) => changes.push(file),
      scanIntervalMs: 50,
    });
    try {
      assert.equal(await watcher.watch('URL', software), true);
      await mkdir(join(dir, 'later'));
      await writeFile(later, 'now it exists\n');
      await waitFor('the scan', () => changes.length > 0 || undefined);
      assert.deepEqual(changes, [later]);
      assert.equal(await watcher.watch('OTHER', join(dir, 'nothing-recorded')), false);
    } finally {
      watcher.close();
    }
  });
});

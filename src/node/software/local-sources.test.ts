/** The record of a local software release's sources: any file name round-trips; a bad record is no record. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  changedSource,
  isLocalSoftwareUrl,
  readSources,
  recordSources,
  SOURCES_FILE,
} from './local-sources.ts';
import { LINE_TERMINATORS } from '../../testing/hostile-strings.ts';

const AWKWARD = [...LINE_TERMINATORS, '\x07', ' ', '"', '\\', 'é', '𝄞'];

test('file names with any character (but / and NUL) round-trip through the record', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sources-'));
  try {
    const software = join(dir, 'soft');
    await mkdir(software);
    const files: string[] = [];
    for (let i = 0; i < AWKWARD.length; i++) {
      const name = `f${i}${AWKWARD[i]}${AWKWARD[(i * 7) % AWKWARD.length]}.cfg`;
      const path = join(dir, name);
      await writeFile(path, `content ${i}`);
      files.push(path);
    }
    const recorded = await recordSources(
      software,
      [...files, join(software, 'buildout.cfg'), 'relative.cfg'],
      Date.now() + 60_000,
    );
    const read = await readSources(software);
    assert.deepEqual(read, recorded);
    assert.deepEqual(
      read?.map((source) => source.path),
      [...files].sort(),
      'absolute files outside the software directory only',
    );
    assert.equal(await changedSource(read ?? []), undefined);
    await writeFile(files[3] ?? '', 'changed');
    assert.equal(await changedSource(read ?? []), files[3]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a source modified after the build started is recorded as changed: the next look rebuilds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sources-'));
  try {
    const software = join(dir, 'soft');
    await mkdir(software);
    const before = join(dir, 'before.cfg');
    const during = join(dir, 'during.cfg');
    await writeFile(before, 'read by the build');
    await writeFile(during, 'edited while the build ran');
    const buildStartedMs = 1_800_000_000_000;
    await utimes(before, new Date(buildStartedMs - 1_000), new Date(buildStartedMs - 1_000));
    await utimes(during, new Date(buildStartedMs + 1_000), new Date(buildStartedMs + 1_000));
    const recorded = await recordSources(software, [before, during], buildStartedMs);
    assert.equal(await changedSource(recorded.filter((source) => source.path === before)), undefined);
    assert.equal(await changedSource((await readSources(software)) ?? []), during);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a corrupt or foreign record reads as no record, never an exception', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sources-'));
  try {
    assert.equal(await readSources(dir), undefined, 'missing');
    for (const text of [
      '',
      'not json',
      '{}',
      'null',
      '[1]',
      '[{"path": "relative", "size": 1, "mtimeMs": 1, "sha256": "x"}]',
      '[{"path": "/abs", "size": "1", "mtimeMs": 1, "sha256": "x"}]',
      '[{"path": "/abs", "size": 1, "mtimeMs": 1}]',
      '\u2028[]',
    ]) {
      await writeFile(join(dir, SOURCES_FILE), text);
      const read = await readSources(dir);
      assert.ok(read === undefined || (Array.isArray(read) && read.length === 0), JSON.stringify(text));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('local software release URLs: paths and file: URLs, not network URLs', () => {
  assert.equal(isLocalSoftwareUrl('/home/me/sr/software.cfg'), true);
  assert.equal(isLocalSoftwareUrl('file:///home/me/sr/software.cfg'), true);
  assert.equal(isLocalSoftwareUrl('https://lab.nexedi.com/nexedi/slapos/raw/1.0/software.cfg'), false);
  assert.equal(isLocalSoftwareUrl('http://127.0.0.1:8080/software.cfg'), false);
});

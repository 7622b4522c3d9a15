import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../testing/buildout.ts';
import { detectArchiveFormat, extractArchive, stripTopLevelDirectory } from './archive.ts';
import { execFile } from './exec.ts';

async function sh(cwd: string, script: string): Promise<void> {
  const run = await execFile('/bin/sh', ['-c', script], { cwd, timeoutMs: 60_000 });
  assert.equal(run.exitCode, 0, run.stderr);
}

test('tar.gz, tar.bz2, tar.xz and zip archives are unpacked; the top directory can be stripped', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'src/pkg-1.0/README': 'readme', 'src/pkg-1.0/bin/tool': '#!/bin/sh\n' });
    await sh(
      dir.path,
      'chmod 755 src/pkg-1.0/bin/tool && cd src && tar -czf ../a.tar.gz pkg-1.0 && tar -cjf ../a.tar.bz2 pkg-1.0 && tar -cJf ../a.tar.xz pkg-1.0 && tar -cf ../a.tar pkg-1.0',
    );
    await sh(dir.path, 'cd src && zip -qr ../a.zip pkg-1.0');
    for (const name of ['a.tar.gz', 'a.tar.bz2', 'a.tar.xz', 'a.tar', 'a.zip']) {
      const out = join(dir.path, `out-${name}`);
      await mkdir(out);
      assert.equal(await detectArchiveFormat(join(dir.path, name)), name.endsWith('.zip') ? 'zip' : 'tar');
      await extractArchive(join(dir.path, name), out);
      assert.equal(await stripTopLevelDirectory(out), true, name);
      assert.deepEqual((await readdir(out)).sort(), ['README', 'bin'], name);
      assert.equal(await readFile(join(out, 'README'), 'utf8'), 'readme');
      assert.equal(await stripTopLevelDirectory(out), false, 'two entries: nothing to strip');
    }
  } finally {
    await dir.remove();
  }
});

test('archives with members outside the destination are refused before anything is written', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'inner/evil.txt': 'x', 'inner/sub/ok.txt': 'ok' });
    await sh(dir.path, 'cd inner/sub && tar -cPf ../../evil.tar ../evil.txt ok.txt');
    const out = join(dir.path, 'out');
    await mkdir(out);
    await assert.rejects(
      extractArchive(join(dir.path, 'evil.tar'), out),
      /Refusing to unpack .*evil\.tar: member "\.\.\/evil\.txt" points outside/,
    );
    assert.deepEqual(await readdir(out), []);
    assert.equal(existsSync(join(dir.path, 'evil.txt')), false);
  } finally {
    await dir.remove();
  }
});

test('a file that is no archive is a clear error', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'plain.txt': 'just text' });
    await assert.rejects(detectArchiveFormat(join(dir.path, 'plain.txt')), /Not a supported archive/);
  } finally {
    await dir.remove();
  }
});

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

test('tar members that would leave the destination, or are devices, are refused before anything is written', async () => {
  const { tarGzOf, tarOf } = await import('../testing/networkcache.ts');
  const { writeFile } = await import('node:fs/promises');
  const dir = await tempDir();
  try {
    const top = 'c0ffee';
    const ok = { name: `${top}/`, type: '5' as const };
    const cases: [string, Parameters<typeof tarOf>[0], ExtractOptionsLike, RegExp][] = [
      ['dotdot', [ok, { name: `${top}/../x`, content: 'x' }], {}, /points outside/],
      ['absolute', [{ name: '/tmp/evil', content: 'x' }], {}, /points outside/],
      ['pax path', [ok, { name: `${top}/../../pax`, content: 'x', pax: true }], {}, /points outside/],
      [
        'symlink up',
        [ok, { name: `${top}/link`, type: '2', linkName: '../../etc' }],
        {},
        /symbolic link to "..\/..\/etc"/,
      ],
      [
        'symlink absolute',
        [ok, { name: `${top}/link`, type: '2', linkName: '/etc/passwd' }],
        {},
        /symbolic link to "\/etc\/passwd"/,
      ],
      [
        'symlink absolute outside the root',
        [ok, { name: `${top}/link`, type: '2', linkName: '/srv/other/x' }],
        { absoluteRoot: '/srv/slapgrid/c0ffee' },
        /symbolic link/,
      ],
      [
        'symlink out of top',
        [ok, { name: `${top}/link`, type: '2', linkName: '../other' }],
        { topDirectory: top },
        /symbolic link/,
      ],
      ['hardlink out', [ok, { name: `${top}/hard`, type: '1', linkName: '../etc/passwd' }], {}, /hard link/],
      [
        'hardlink absolute',
        [ok, { name: `${top}/hard`, type: '1', linkName: '/etc/passwd' }],
        {},
        /hard link/,
      ],
      [
        'through a symlink',
        [ok, { name: `${top}/dir`, type: '2', linkName: 'sub' }, { name: `${top}/dir/file`, content: 'x' }],
        {},
        /lies under the symbolic link "c0ffee\/dir"/,
      ],
      ['char device', [ok, { name: `${top}/null`, type: '3' }], {}, /is a char-device/],
      ['block device', [ok, { name: `${top}/sda`, type: '4' }], {}, /is a block-device/],
      ['fifo', [ok, { name: `${top}/fifo`, type: '6' }], {}, /is a fifo/],
      [
        'not under top',
        [ok, { name: 'elsewhere/file', content: 'x' }],
        { topDirectory: top },
        /is not under "c0ffee"/,
      ],
    ];
    for (const [label, entries, options, message] of cases) {
      for (const [suffix, data] of [
        ['tar', tarOf(entries)],
        ['tar.gz', tarGzOf(entries)],
      ] as const) {
        const archive = join(dir.path, `${label.replace(/ /g, '-')}.${suffix}`);
        await writeFile(archive, data);
        const out = join(dir.path, `out-${label.replace(/ /g, '-')}-${suffix}`);
        await mkdir(out);
        await assert.rejects(extractArchive(archive, out, options), message, `${label} (${suffix})`);
        assert.deepEqual(await readdir(out), [], `${label}: nothing written`);
      }
    }
    assert.equal(existsSync('/tmp/evil'), false);
  } finally {
    await dir.remove();
  }
});

type ExtractOptionsLike = { topDirectory?: string; absoluteRoot?: string };

test('links that stay inside are unpacked, absolute ones inside absoluteRoot too', async () => {
  const { tarGzOf } = await import('../testing/networkcache.ts');
  const { readlink, writeFile } = await import('node:fs/promises');
  const dir = await tempDir();
  try {
    const top = 'c0ffee';
    const archive = join(dir.path, 'ok.tar.gz');
    await writeFile(
      archive,
      tarGzOf([
        { name: `${top}/`, type: '5' },
        { name: `${top}/bin/`, type: '5' },
        { name: `${top}/bin/tool`, content: 'tool', mode: 0o755 },
        { name: `${top}/bin/alias`, type: '2', linkName: 'tool' },
        { name: `${top}/up`, type: '2', linkName: 'bin/../bin/tool' },
        { name: `${top}/abs`, type: '2', linkName: '/srv/slapgrid/c0ffee/bin/tool' },
        { name: `${top}/hard`, type: '1', linkName: `${top}/bin/tool` },
        { name: `${top}/${'long-name-'.repeat(20)}`, content: 'long', pax: true },
      ]),
    );
    const out = join(dir.path, 'out');
    await mkdir(out);
    await extractArchive(archive, out, { topDirectory: top, absoluteRoot: '/srv/slapgrid/c0ffee' });
    assert.equal(await readFile(join(out, top, 'hard'), 'utf8'), 'tool');
    assert.equal(await readlink(join(out, top, 'abs')), '/srv/slapgrid/c0ffee/bin/tool');
    assert.equal(await readFile(join(out, top, 'long-name-'.repeat(20)), 'utf8'), 'long');
    // Without absoluteRoot, the absolute link is refused.
    const again = join(dir.path, 'again');
    await mkdir(again);
    await assert.rejects(extractArchive(archive, again), /symbolic link to "\/srv\/slapgrid/);
  } finally {
    await dir.remove();
  }
});

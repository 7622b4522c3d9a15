import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../testing/buildout.ts';
import { tarOf } from '../testing/networkcache.ts';
import { execFile } from './exec.ts';
import { listTarMembers } from './tar-members.ts';

test('members are listed as GNU tar lists them, in the gnu, ustar and pax formats', async () => {
  const dir = await tempDir();
  try {
    const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(60)}`;
    await dir.write({ [`top/${deep}/file`]: 'x', 'top/plain': 'y', 'top/é ü\tname': 'z' });
    const script = `cd top && ln -s plain link && ln plain hard && ln -s ${'t'.repeat(120)} longlink && cd .. && for f in gnu ustar pax; do tar --format=$f -cf $f.tar top; done`;
    const made = await execFile('/bin/sh', ['-c', script], { cwd: dir.path });
    assert.equal(made.exitCode, 0, made.stderr);
    for (const format of ['gnu', 'ustar', 'pax']) {
      const archive = join(dir.path, `${format}.tar`);
      const listed = await execFile('tar', ['--quoting-style=literal', '-tf', archive]);
      const members = await listTarMembers(createReadStream(archive));
      assert.deepEqual(
        members.map((m) => m.name),
        listed.stdout.split('\n').filter((l) => l !== ''),
        format,
      );
      const byName = new Map(members.map((m) => [m.name.replace(/\/$/, ''), m]));
      assert.equal(byName.get('top/link')?.type, 'symlink');
      assert.equal(byName.get('top/link')?.linkName, 'plain');
      // Whichever of the two names comes second is the hard link to the first.
      const pair = [byName.get('top/plain'), byName.get('top/hard')];
      assert.deepEqual(pair.map((m) => m?.type).sort(), ['file', 'hardlink'], format);
      const link = pair.find((m) => m?.type === 'hardlink');
      assert.ok(['top/plain', 'top/hard'].includes(link?.linkName ?? ''));
      assert.equal(byName.get(`top/${deep}/file`)?.type, 'file');
      if (format !== 'ustar') assert.equal(byName.get('top/longlink')?.linkName, 't'.repeat(120));
    }
  } finally {
    await dir.remove();
  }
});

test('a truncated or corrupt tar is an error, not a short listing', async () => {
  const whole = tarOf([{ name: 'a', content: 'x'.repeat(2000) }]);
  await assert.rejects(listTarMembers(Readable.from([whole.subarray(0, 1024)])), /truncated/);
  const corrupt = Buffer.from(whole);
  corrupt.write('zz', 124, 'latin1');
  await assert.rejects(listTarMembers(Readable.from([corrupt])), /bad numeric field/);
  // Split at every awkward offset: the same listing.
  const archive = tarOf([
    { name: 'a', content: 'x'.repeat(700) },
    { name: `${'long/'.repeat(40)}b`, content: 'y', pax: true },
    { name: 'c', type: '2', linkName: 'a' },
  ]);
  for (const size of [1, 7, 511, 512, 513, 4096]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < archive.length; i += size) chunks.push(archive.subarray(i, i + size));
    const members = await listTarMembers(Readable.from(chunks));
    assert.deepEqual(
      members.map((m) => [m.name, m.type, m.linkName]),
      [
        ['a', 'file', ''],
        [`${'long/'.repeat(40)}b`, 'file', ''],
        ['c', 'symlink', 'a'],
      ],
      `chunks of ${size}`,
    );
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveProfile } from '../../engine.ts';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { formatIni, parseIni, pyStrip } from './zero-knowledge.ts';

const writeProfile = (extra: string): string => `[buildout]
parts = zk
[zk]
recipe = slapos.cookbook:zero-knowledge.write
filename = knowledge.cfg
Admin-User = admin
token = abc
${extra}`;

test('zero-knowledge.write keeps values edited in the file; .read sets them on its part', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const file = join(dir.path, 'knowledge.cfg');
    await run(writeProfile(''));
    assert.equal(await readFile(file, 'utf8'), '[zk]\nadmin-user = admin\ntoken = abc\n\n');

    // A value edited by hand survives; a new option is added.
    await writeFile(file, '[other]\nkeep = me\n\n[zk]\nadmin-user = root\ntoken = abc\n\n');
    await run(writeProfile('port = 8080\n'));
    assert.equal(
      await readFile(file, 'utf8'),
      '[other]\nkeep = me\n\n[zk]\nadmin-user = root\ntoken = abc\nport = 8080\n\n',
    );

    // read: every option of every section, interpolated, lower-cased keys.
    await writeFile(
      file,
      '[zk]\nadmin-user = root\npath = %(home)s/x\nhome = /srv\nlong = a\n\tb\nrate = 5%%\n',
    );
    await writeFile(
      join(dir.path, 'buildout.cfg'),
      `[buildout]\nparts =\n[r]\nrecipe = slapos.cookbook:zero-knowledge.read\nfile-path = ${file}\n`,
    );
    const resolved = await resolveProfile({ configFile: join(dir.path, 'buildout.cfg') });
    const r = resolved.sections.r as Record<string, string>;
    assert.equal(r['admin-user'], 'root');
    assert.equal(r.path, '/srv/x');
    assert.equal(r.long, 'a\nb');
    assert.equal(r.rate, '5%');

    await rejectsWithSlapError(
      run(writeProfile('bad = 100%\n')),
      'SLAP_ERR_PROFILE',
      /invalid interpolation syntax/,
    );
    await rejectsWithSlapError(
      run('[buildout]\nparts = zk\n[zk]\nrecipe = slapos.cookbook:zero-knowledge.read\n'),
      'SLAP_ERR_PROFILE',
      /either "filename" or "file-path"/,
    );
  } finally {
    await dir.remove();
  }
});

test('zero-knowledge: hostile values never add a section or a key', () => {
  const random = seededRandom(5);
  for (let i = 0; i < 1000; i++) {
    const value = hostileString(random);
    const ini = new Map([
      [
        'zk',
        new Map([
          ['a', value],
          ['b', 'fixed'],
        ]),
      ],
    ]);
    const back = parseIni(formatIni(ini));
    assert.deepEqual([...back.keys()], ['zk']);
    assert.deepEqual([...(back.get('zk')?.keys() ?? [])], ['a', 'b']);
    assert.equal(back.get('zk')?.get('b'), 'fixed');
    // Values without line breaks or edge whitespace come back exactly.
    if (!/[\r\n]/.test(value) && pyStrip(value) === value) assert.equal(back.get('zk')?.get('a'), value);
  }
});

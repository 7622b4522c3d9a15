import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { logrotateEntry } from './logrotate.ts';

const profile = (extra = ''): string => `[buildout]
parts = rotate
[rotate]
recipe = slapos.cookbook:logrotate.d
logrotate-entries = \${buildout:directory}/etc/logrotate.d
backup = /srv/backup/logrotate
name = apache
log = /var/log/a.log /var/log/b.log
${extra}`;

test('logrotate.d writes the entry of the original', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await run(profile('post = kill -USR1 $(cat /run/apache.pid)\n'));
    const file = join(dir.path, 'etc/logrotate.d/apache');
    assert.equal(
      await readFile(file, 'utf8'),
      '/var/log/a.log /var/log/b.log {\ndaily\ndateext\nrotate 3650\ncompress\ndelaycompress\nnotifempty\nsharedscripts\ncreate\nolddir /srv/backup/logrotate\npostrotate\nkill -USR1 $(cat /run/apache.pid)\nendscript\n}\n',
    );
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await rejectsWithSlapError(
      run(profile('pre =\n  echo\n  endscript\n  rotate 1\n')),
      'SLAP_ERR_PROFILE',
      /endscript/,
    );
    await rejectsWithSlapError(
      run(profile().replace('name = apache', 'name = ../x')),
      'SLAP_ERR_PROFILE',
      /plain file name/,
    );
  } finally {
    await dir.remove();
  }
});

test('logrotate.d: a hostile script keeps the entry one block with its directives', () => {
  const random = seededRandom(17);
  for (let i = 0; i < 300; i++) {
    const post = hostileString(random)
      .split(/\r\n|\r|\n/)
      .filter((l) => l.trim() !== 'endscript')
      .join('\n');
    const text = logrotateEntry({ log: '/l', backup: '/b', post });
    const lines = text.split('\n');
    assert.equal(lines[0], '/l {');
    const start = lines.indexOf('postrotate');
    const end = lines.lastIndexOf('endscript');
    assert.deepEqual(lines.slice(1, start), [
      'daily',
      'dateext',
      'rotate 3650',
      'compress',
      'delaycompress',
      'notifempty',
      'sharedscripts',
      'create',
      'olddir /b',
    ]);
    assert.equal(lines.slice(start + 1, end).filter((l) => l.trim() === 'endscript').length, 0);
    assert.deepEqual(lines.slice(end), ['endscript', '}', '']);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDeclaration } from '../../../core/backup-declaration.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

function profile(options: string): string {
  return `[buildout]
parts = kv-backup

[kv-backup]
recipe = slapos.cookbook:backup
${options}
`;
}

test('backup writes <partition>/.slapos-backup/<section>.json (0644) and owns it', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'bin/kv-dump': '#!/bin/sh\n', 'bin/kv-check': '#!/bin/sh\n' });
    await chmod(join(dir.path, 'bin/kv-dump'), 0o755);
    await chmod(join(dir.path, 'bin/kv-check'), 0o755);
    const { run } = profileRunner(dir.path);
    const result = await run(
      profile(`paths =
  \${buildout:directory}/srv/kv-backup/
  var//data
  srv/kv-backup
exclude = *.tmp
backup-command = \${buildout:directory}/bin/kv-dump
check-command = bin/kv-check
period = 5m
keep-hourly = 48`),
    );
    assert.deepEqual(result.installed, ['kv-backup']);
    const file = join(dir.path, '.slapos-backup/kv-backup.json');
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    assert.deepEqual(parseDeclaration(await readFile(file, 'utf8'), file), {
      name: 'kv-backup',
      paths: ['srv/kv-backup', 'var/data'],
      exclude: ['*.tmp'],
      backupCommand: join(dir.path, 'bin/kv-dump'),
      restoreCommand: null,
      checkCommand: join(dir.path, 'bin/kv-check'),
      periodSeconds: 300,
      keep: { last: 10, hourly: 48, daily: 7 },
    });
    const defaults = await run(profile('paths = srv'));
    assert.deepEqual(defaults.installed, ['kv-backup']);
    const declared = parseDeclaration(await readFile(file, 'utf8'), file);
    assert.equal(declared.periodSeconds, 3600);
    assert.deepEqual(declared.keep, { last: 10, hourly: 24, daily: 7 });

    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(file), false);
  } finally {
    await dir.remove();
  }
});

test('backup refuses bad options with an error naming the section and the option', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'bin/not-executable': 'x' });
    const { run } = profileRunner(dir.path);
    const cases: [string, RegExp][] = [
      ['exclude = x', /kv-backup.*paths.*at least one path/s],
      ['paths = ../other', /paths.*contains "\.\."/s],
      ['paths = /etc', /paths.*not inside the partition/s],
      ['paths = ${buildout:directory}', /paths.*whole partition/s],
      ['paths = srv/a\u000bb', /paths.*line terminator/s],
      ['paths = srv/a\u2028b', /paths.*line terminator/s],
      ['paths = srv\nexclude = /etc/x', /exclude.*not inside the partition/s],
      ['paths = srv\nperiod = 0', /period.*expected seconds/s],
      ['paths = srv\nperiod = 32d', /period/],
      ['paths = srv\nperiod = 1w', /period/],
      ['paths = srv\nkeep-last = 0', /keep-last.*from 1/s],
      ['paths = srv\nkeep-daily = -1', /keep-daily/],
      ['paths = srv\nbackup-command = bin/missing', /backup-command.*not an executable file/s],
      ['paths = srv\nrestore-command = bin/not-executable', /restore-command.*not an executable/s],
      ['paths = srv\ncheck-command = /bin/../bin/sh', /check-command.*"\.\."/s],
    ];
    for (const [options, message] of cases) {
      const error = await rejectsWithSlapError(run(profile(options)), 'SLAP_ERR_PROFILE', message);
      assert.match(error.message, /kv-backup/);
    }
    await rejectsWithSlapError(
      run('[buildout]\nparts = .hidden\n[.hidden]\nrecipe = slapos.cookbook:backup\npaths = srv\n'),
      'SLAP_ERR_PROFILE',
      /section name ".hidden" starts with "\."/,
    );
    assert.equal(existsSync(join(dir.path, '.slapos-backup')), false);
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { systemdToCron } from './cron.ts';

test('systemd calendar specs convert to crontab specs as the original does', () => {
  const cases: [string, string][] = [
    ['daily', '0 0 * * *'],
    ['hourly', '0 * * * *'],
    ['weekly', '0 0 * * 0'],
    ['*:0/15', '0-45/15 * * * *'],
    ['4:30', '30 4 * * *'],
    ['Mon,Wed-Fri 9:00', '00 9 * * 1,3-5'],
    ['*-*-1 2:03', '03 2 1 * *'],
    ['*-6-* 1:2:00', '2 1 * 6 *'],
    ['sat *-*-* 23:59', '59 23 * * 6'],
  ];
  for (const [spec, cron] of cases) assert.equal(systemdToCron(spec), cron, spec);
  for (const bad of ['', '2024-01-01 0:0', '1:2:3', 'Mon *-*-1 0:0', '25:00', 'x y z', '*:0/0', '*/5:0'])
    assert.throws(() => systemdToCron(bad), Error, bad);
});

test('cron.d writes <cron-entries>/<name>; once-a-day keeps its random time across runs', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const profile = `[buildout]
parts = a b c
[a]
recipe = slapos.cookbook:cron.d
cron-entries = \${buildout:directory}/etc/cron.d
name = backup
frequency = 0 3 * * *
command = \${buildout:directory}/bin/backup --all
[b]
<= a
name = rotate
frequency =
time = daily
[c]
<= a
name = once
frequency =
once-a-day = true
`;
    await run(profile);
    const entries = join(dir.path, 'etc/cron.d');
    assert.equal(await readFile(join(entries, 'backup'), 'utf8'), `0 3 * * * ${dir.path}/bin/backup --all\n`);
    assert.equal(await readFile(join(entries, 'rotate'), 'utf8'), `0 0 * * * ${dir.path}/bin/backup --all\n`);
    const once = await readFile(join(entries, 'once'), 'utf8');
    assert.match(once, /^\d{1,2} \d{1,2} \* \* \* /);
    const again = await run(profile);
    assert.deepEqual(again.installed, [], 'the random time is kept: nothing changes');
    assert.equal(await readFile(join(entries, 'once'), 'utf8'), once);
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(entries, 'backup')), false);

    const bad = (body: string): Promise<unknown> =>
      run(
        `[buildout]\nparts = x\n[x]\nrecipe = slapos.cookbook:cron.d\ncron-entries = e\nname = n\ncommand = true\n${body}`,
      );
    await rejectsWithSlapError(
      bad('time = every now and then'),
      'SLAP_ERR_PROFILE',
      /Invalid systemd calendar spec/,
    );
    await rejectsWithSlapError(
      bad(''),
      'SLAP_ERR_PROFILE',
      /Missing one of 'frequency', 'once-a-day' or 'time'/,
    );
  } finally {
    await dir.remove();
  }
});

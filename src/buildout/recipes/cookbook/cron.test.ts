import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { seededRandom } from '../../../testing/hostile-strings.ts';
import { asWritten, assign, hostileValue } from '../../../testing/recipe-values.ts';
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

test('cron (dcron): the wrapper execs dcrond with the original options, hostile paths as single arguments', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const fakeCrond = join(dir.path, 'dcrond');
    await writeFile(fakeCrond, `#!/bin/sh\nprintf '%s\\0' "$@" > "$0.args"\n`, { mode: 0o755 });
    const profile = `[buildout]
parts = crond
[crond]
recipe = slapos.cookbook:cron
binary = \${buildout:directory}/etc/service/crond
dcrond-binary = ${fakeCrond}
cron-entries = \${buildout:directory}/etc/cron.d
crontabs = \${buildout:directory}/etc/crontabs
cronstamps = \${buildout:directory}/etc/cronstamps
catcher = \${buildout:directory}/bin/sendmail
log-file = \${buildout:directory}/var/log/crond.log
`;
    await run(profile);
    const wrapper = join(dir.path, 'etc/service/crond');
    assert.equal((await stat(wrapper)).mode & 0o777, 0o700);
    assert.match(await readFile(wrapper, 'utf8'), /^#!\/bin\/sh -e\nexec \S+dcrond -s \\\n\t/);
    assert.equal((await execFile(wrapper, ['extra'])).exitCode, 0);
    const d = dir.path;
    assert.deepEqual((await readFile(`${fakeCrond}.args`, 'utf8')).split('\0').slice(0, -1), [
      '-s',
      `${d}/etc/cron.d`,
      '-c',
      `${d}/etc/crontabs`,
      '-t',
      `${d}/etc/cronstamps`,
      '-f',
      '-l',
      '5',
      '-M',
      `${d}/bin/sendmail`,
      '-L',
      `${d}/var/log/crond.log`,
      'extra',
    ]);

    const random = seededRandom(9);
    for (let i = 0; i < 20; i++) {
      const values = Object.fromEntries(
        ['cron-entries', 'crontabs', 'cronstamps', 'catcher', 'log-file'].map((k) => [
          k,
          `${k}${hostileValue(random)}`,
        ]),
      );
      await run(profile, { assignments: assign('crond', values) });
      assert.equal((await execFile(wrapper, [])).exitCode, 0);
      const args = (await readFile(`${fakeCrond}.args`, 'utf8')).split('\0').slice(0, -1);
      assert.deepEqual(
        [args[1], args[3], args[5], args[10], args[12]],
        ['cron-entries', 'crontabs', 'cronstamps', 'catcher', 'log-file'].map((k) =>
          asWritten(values[k] as string),
        ),
      );
    }
    await rejectsWithSlapError(
      run(profile, { assignments: assign('crond', { catcher: 'a\0b' }) }),
      'SLAP_ERR_PROFILE',
      /crond:catcher: a NUL character/,
    );
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { seededRandom } from '../../../testing/hostile-strings.ts';
import { asWritten, assign, hostileValue } from '../../../testing/recipe-values.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

const PROFILE = `[buildout]
parts = logger
[logger]
recipe = slapos.cookbook:simplelogger
wrapper = \${buildout:directory}/bin/logger
`;

const PREFIX = /^\d{4}-\d\d-\d\d\.\d\d:\d\d\.\d+: /;

test('simplelogger: the wrapper appends its input to the log, each line prefixed, then a separator', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await run(`${PROFILE}log = \${buildout:directory}/var/log/my.log\n`);
    const wrapper = join(dir.path, 'bin/logger');
    assert.equal((await stat(wrapper)).mode & 0o777, 0o755);
    await execFile('/bin/mkdir', ['-p', join(dir.path, 'var/log')]);
    const before = Math.floor(Date.now() / 1000);
    assert.equal((await execFile(wrapper, [], { input: 'first\nsecond line\n' })).exitCode, 0);
    assert.equal((await execFile(wrapper, [], { input: 'third\n' })).exitCode, 0);
    const lines = (await readFile(join(dir.path, 'var/log/my.log'), 'utf8')).split('\n');
    assert.deepEqual(
      lines.map((line) => line.replace(PREFIX, '')),
      ['first', 'second line', '------------------------', 'third', '------------------------', ''],
    );
    const epoch = Number(/\.(\d+): /.exec(lines[0] as string)?.[1]);
    assert.ok(epoch >= before - 1, 'the %s field is the epoch seconds');
  } finally {
    await dir.remove();
  }
});

test('simplelogger: a hostile log path keeps the script whole (property); NUL is refused', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const random = seededRandom(5);
    for (let i = 0; i < 20; i++) {
      const name = `log-${hostileValue(random, 6).replaceAll('/', '_').slice(0, 200)}`;
      await run(PROFILE, { assignments: assign('logger', { log: join(dir.path, name) }) });
      const input = `${hostileValue(random)}\n`;
      const result = await execFile(join(dir.path, 'bin/logger'), [], { input });
      assert.equal(result.exitCode, 0, result.stderr);
      const logged = await readFile(join(dir.path, asWritten(name)), 'utf8');
      const [body] = logged.split(/\S+ -{24}\n$/);
      assert.equal(
        (body as string).replace(new RegExp(PREFIX.source, 'gm'), ''),
        asWritten(input),
        JSON.stringify(name),
      );
    }
    await rejectsWithSlapError(
      run(PROFILE, { assignments: assign('logger', { log: 'a\0b' }) }),
      'SLAP_ERR_PROFILE',
      /logger:log: a NUL character/,
    );
  } finally {
    await dir.remove();
  }
});

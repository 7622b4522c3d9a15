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
parts = check
[check]
recipe = slapos.cookbook:check_parameter
path = \${buildout:directory}/bin/check
`;

test('check_parameter: the promise passes on the expected value, fails (127) otherwise or on the unwanted one', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const path = join(dir.path, 'bin/check');
    const check = async (values: Record<string, string>): Promise<{ code: number | null; out: string }> => {
      await run(PROFILE, { assignments: assign('check', values) });
      const result = await execFile(path, []);
      return { code: result.exitCode, out: result.stdout };
    };
    assert.deepEqual(await check({ value: 'on', 'expected-value': 'on' }), { code: 0, out: '' });
    assert.equal((await stat(path)).mode & 0o777, 0o700);
    assert.match(
      await readFile(path, 'utf8'),
      /^#!\/bin\/sh\n# BEWARE: This file is operated by slapos node\n/,
    );
    assert.deepEqual(await check({ value: 'off', 'expected-value': 'on' }), {
      code: 127,
      out: 'FAIL: off != on\n',
    });
    assert.deepEqual(await check({ value: 'x', 'expected-not-value': 'x' }), {
      code: 127,
      out: 'FAIL: x == x\n',
    });
    assert.deepEqual(await check({ value: 'x', 'expected-not-value': 'y' }), { code: 0, out: '' });
    assert.deepEqual(await check({ value: 'anything' }), { code: 0, out: '' }, 'nothing expected: passes');
    for (const [type, value, code] of [
      ['ipv4', '10.0.0.1', 0],
      ['ipv4', '010.0.0.1', 127],
      ['ipv4', '::1', 127],
      ['ipv6', '2001:db8::1', 0],
      ['ipv6', '::ffff:1.2.3.4', 0],
      ['ipv6', 'fe80::1%eth0', 127],
      ['ipv6', '10.0.0.1', 127],
    ] as const) {
      assert.equal((await check({ value, 'expected-type': type })).code, code, `${type} ${value}`);
    }
  } finally {
    await dir.remove();
  }
});

test('check_parameter: hostile values keep the script whole and compare exactly (property)', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const path = join(dir.path, 'bin/check');
    const random = seededRandom(11);
    for (let i = 0; i < 25; i++) {
      const value = hostileValue(random);
      const other = `${value}${hostileValue(random, 3)}x`;
      await run(PROFILE, { assignments: assign('check', { value, 'expected-value': other }) });
      const failed = await execFile(path, []);
      assert.equal(failed.exitCode, 127, JSON.stringify(value));
      assert.equal(failed.stdout, asWritten(`FAIL: ${value} != ${other}\n`));
      await run(PROFILE, { assignments: assign('check', { value, 'expected-value': value }) });
      const passed = await execFile(path, []);
      assert.equal(passed.exitCode, 0, JSON.stringify(value));
      assert.equal(passed.stdout, '');
    }
    await rejectsWithSlapError(
      run(PROFILE, { assignments: assign('check', { value: 'a\0b' }) }),
      'SLAP_ERR_PROFILE',
      /check:value: a NUL character cannot be written here/,
    );
  } finally {
    await dir.remove();
  }
});

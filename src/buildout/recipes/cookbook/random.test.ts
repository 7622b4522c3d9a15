import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveProfile } from '../../engine.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

async function resolveSections(dir: string, text: string): Promise<Record<string, Record<string, string>>> {
  await writeFile(join(dir, 'buildout.cfg'), text);
  const resolved = await resolveProfile({ configFile: join(dir, 'buildout.cfg') });
  return resolved.sections;
}

test('random.integer draws in [minimum, maximum] (text or !py! ints) unless value is given', async () => {
  const dir = await tempDir();
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const sections = await resolveSections(
        dir.path,
        `[buildout]\nparts =\n[gen]\nrecipe = slapos.cookbook:random.integer\nminimum = !py!1\nmaximum = 3\n`,
      );
      const value = sections.gen?.value as string;
      assert.match(value, /^!py![123]$/);
      seen.add(value);
    }
    assert.equal(seen.size, 3, 'every value of the range is drawn');

    const big = await resolveSections(
      dir.path,
      `[buildout]\nparts =\n[gen]\nrecipe = slapos.cookbook:random.integer\nminimum = 100000000000000000000\nmaximum = 100000000000000000001\n`,
    );
    assert.match(big.gen?.value as string, /^!py!10000000000000000000[01]$/);

    const given = await resolveSections(
      dir.path,
      `[buildout]\nparts =\n[gen]\nrecipe = slapos.cookbook:random.integer\nminimum = 1\nmaximum = 2\nvalue = 42\n`,
    );
    assert.equal(given.gen?.value, '42');

    const { run } = profileRunner(dir.path);
    const bad = (min: string, max: string): string =>
      `[buildout]\nparts = gen\n[gen]\nrecipe = slapos.cookbook:random.integer\nminimum = ${min}\nmaximum = ${max}\n`;
    await rejectsWithSlapError(run(bad('1', 'x')), 'SLAP_ERR_PROFILE', /invalid literal for int/);
    await rejectsWithSlapError(run(bad('5', '1')), 'SLAP_ERR_PROFILE', /empty range/);
    await rejectsWithSlapError(
      run('[buildout]\nparts = gen\n[gen]\nrecipe = slapos.cookbook:random.integer\nmaximum = 1\n'),
      'SLAP_ERR_PROFILE',
      /"minimum" is required/,
    );
    // Install and update do nothing, and own nothing.
    const result = await run(bad('1', '1'));
    assert.deepEqual(result.installed, ['gen']);
  } finally {
    await dir.remove();
  }
});

test('random.time draws H:MM unless time is given', async () => {
  const dir = await tempDir();
  try {
    for (let i = 0; i < 30; i++) {
      const sections = await resolveSections(
        dir.path,
        `[buildout]\nparts =\n[t]\nrecipe = slapos.cookbook:random.time\n`,
      );
      const match = /^([0-9]{1,2}):([0-9]{2})$/.exec(sections.t?.time as string);
      assert.ok(match, sections.t?.time);
      assert.ok(Number(match[1]) < 24 && Number(match[2]) < 60);
    }
    const given = await resolveSections(
      dir.path,
      `[buildout]\nparts =\n[t]\nrecipe = slapos.cookbook:random.time\ntime = 3:07\n`,
    );
    assert.equal(given.t?.time, '3:07');
  } finally {
    await dir.remove();
  }
});

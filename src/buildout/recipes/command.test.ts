import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlapError } from '../../core/errors.ts';
import { profileRunner, tempDir } from '../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';

test('plone.recipe.command runs command at install, update-command at update, owns location', async () => {
  const dir = await tempDir();
  try {
    const { run, spawned, events } = profileRunner(dir.path);
    const text = (update: string): string =>
      `[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand =\n  mkdir -p out\n  echo installed >> out/log\nlocation = \${buildout:directory}/out\n${update}`;
    await run(text(''));
    assert.equal(await readFile(join(dir.path, 'out/log'), 'utf8'), 'installed\n');
    assert.equal(spawned.length, 1);
    assert.ok(events.some((e) => e.type === 'step' && e.step === 'command'));
    await run(text(''));
    assert.equal(spawned.length, 1, 'no update-command: nothing runs on update');
    await run(text('update-command = echo updated >> out/log\n'));
    assert.equal(spawned.length, 2, 'changed options: uninstalled (out/ removed) and installed again');
    await run(text('update-command = echo updated >> out/log\n'));
    assert.equal(spawned.length, 3, 'unchanged: update-command runs');
    assert.equal(await readFile(join(dir.path, 'out/log'), 'utf8'), 'installed\nupdated\n');
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'out')), false, 'location removed at uninstall');
  } finally {
    await dir.remove();
  }
});

test('plone.recipe.command: stop-on-error fails with the exit status and the output tail; otherwise a warning', async () => {
  const dir = await tempDir();
  try {
    const { run, events } = profileRunner(dir.path);
    const failing = (stop: string): string =>
      `[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = echo first line; echo oops >&2; exit 3\nstop-on-error = ${stop}\n`;
    await assert.rejects(run(failing('yes')), (error: unknown) => {
      assert.ok(error instanceof SlapError);
      assert.equal(error.code, 'SLAP_ERR_RECIPE_FAILED');
      assert.match(
        error.message,
        /^Installing part cmd \(plone\.recipe\.command\): cmd:command: command exited with 3; last output:\n {2}first line\n {2}oops$/,
      );
      return true;
    });
    assert.equal(existsSync(join(dir.path, '.installed.cfg')), false, 'nothing recorded');
    const result = await run(failing('false'));
    assert.deepEqual(result.installed, ['cmd']);
    assert.ok(events.some((e) => e.type === 'warning' && /command exited with 3/.test(e.message)));
    assert.ok(events.some((e) => e.type === 'output' && e.stream === 'stderr' && e.line === 'oops'));
  } finally {
    await dir.remove();
  }
});

test('plone.recipe.command: stop-on-error takes only the original words; commands see the run environment', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const profile = (stop: string, command = 'exit 3'): string =>
      `[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = ${command}\nstop-on-error = ${stop}\n`;
    // `y` and `1` are not words of plone.recipe.command: an error before anything runs.
    for (const stop of ['y', '1', 'maybe'])
      await rejectsWithSlapError(
        run(profile(stop)),
        'SLAP_ERR_PROFILE',
        /invalid value .* for "stop-on-error"/,
      );
    await rejectsWithSlapError(run(profile('ON')), 'SLAP_ERR_RECIPE_FAILED', /command exited with 3/);
    await rejectsWithSlapError(
      run('[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand =\n'),
      'SLAP_ERR_PROFILE',
      /No command specified/,
    );
    // The run's environment (what the node or `slapos buildout` passes), not only PATH/HOME/LANG.
    const result = await run(profile('true', 'echo "$GREETING $HOME" > env.txt'), {
      env: { PATH: process.env.PATH, GREETING: 'hello', HOME: '/partition/home' },
    });
    assert.deepEqual(result.installed, ['cmd']);
    assert.equal(await readFile(join(dir.path, 'env.txt'), 'utf8'), 'hello /partition/home\n');
  } finally {
    await dir.remove();
  }
});

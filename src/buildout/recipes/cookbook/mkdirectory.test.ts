import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';

test('mkdirectory creates every path option (mode honoured), owns nothing, recreates missing ones on update', async () => {
  const dir = await tempDir();
  try {
    const { run, spawned } = profileRunner(dir.path);
    const profile = `[buildout]\nparts = directory\n[directory]\nrecipe = slapos.cookbook:mkdirectory\netc = \${buildout:directory}/etc\nservice = \${:etc}/service\nlog = var/log\nempty =\nmode = 0750\n`;
    const first = await run(profile);
    assert.deepEqual(first.installed, ['directory']);
    for (const path of ['etc', 'etc/service', 'var/log']) {
      const info = await stat(join(dir.path, path));
      assert.ok(info.isDirectory(), path);
      assert.equal(info.mode & 0o777, 0o750 & ~process.umask());
    }
    const record = await readFile(join(dir.path, '.installed.cfg'), 'utf8');
    assert.match(record, /__buildout_installed__ =\s*\n/, 'directories are never owned (never removed)');

    await rm(join(dir.path, 'var'), { recursive: true });
    const second = await run(profile);
    assert.deepEqual(second.updated, ['directory']);
    assert.ok((await stat(join(dir.path, 'var/log'))).isDirectory());
    assert.deepEqual(spawned, []);

    // Removing the part leaves the directories (they hold data).
    await run('[buildout]\nparts =\n');
    assert.ok((await stat(join(dir.path, 'etc/service'))).isDirectory());

    await writeFile(join(dir.path, 'afile'), 'x');
    await rejectsWithSlapError(
      run(`[buildout]\nparts = d\n[d]\nrecipe = slapos.cookbook:mkdirectory\nx = afile\n`),
      'SLAP_ERR_RECIPE_FAILED',
      /afile exists but is not a directory/,
    );
    await rejectsWithSlapError(
      run(`[buildout]\nparts = d\n[d]\nrecipe = slapos.cookbook:mkdirectory\nx = y\nmode = rwx\n`),
      'SLAP_ERR_PROFILE',
      /d:mode: not an octal file mode/,
    );
  } finally {
    await dir.remove();
  }
});

test('cookbook recipes that need Python are refused, naming the section and the recipe', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await rejectsWithSlapError(
      run('[buildout]\nparts = ca\n[ca]\nrecipe = slapos.cookbook:zabbixagent\n'),
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      /\[ca\] recipe = slapos\.cookbook:zabbixagent: unsupported recipe: this slapos\.cookbook recipe is not implemented/,
    );
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { profileRunner, tempDir } from '../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';

test('cns.recipe.symlink: "source = link" lines as upstream profiles write them', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'var/log/nginx/access.log': '', 'srv/.keep': '', 'results/.keep': '' });
    const { run, events } = profileRunner(dir.path);
    const profile = `[buildout]
parts = links
[links]
recipe = cns.recipe.symlink
symlink =
  \${buildout:directory}/var/log/nginx = \${buildout:directory}/srv/logs
  \${buildout:directory}/results  =  \${buildout:directory}/public/promise
  \${buildout:directory}/missing = \${buildout:directory}/srv/missing
autocreate = true
`;
    await mkdir(join(dir.path, 'public'));
    await run(profile);
    assert.equal(await readlink(join(dir.path, 'srv/logs')), join(dir.path, 'var/log/nginx'));
    assert.equal(await readlink(join(dir.path, 'public/promise')), join(dir.path, 'results'));
    assert.equal(existsSync(join(dir.path, 'srv/missing')), false, 'a missing source is skipped');
    assert.ok(events.some((e) => e.type === 'warning' && /Symlink source not found!/.test(e.message)));
    // Re-run: existing links are kept; uninstall removes the links, never what they point to.
    await run(profile);
    assert.equal((await lstat(join(dir.path, 'srv/logs'))).isSymbolicLink(), true);
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'srv/logs')), false);
    assert.equal(existsSync(join(dir.path, 'var/log/nginx/access.log')), true);
  } finally {
    await dir.remove();
  }
});

test('cns.recipe.symlink: symlink_base, symlink_target with autocreate; bulk modes refused', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'work/a/x': '', 'work/b/y': '', 'existing/file': '' });
    const { run } = profileRunner(dir.path);
    const base = `[buildout]
parts = links
[links]
recipe = cns.recipe.symlink
`;
    await run(`${base}symlink =\n  a\n  b=\n  \${buildout:directory}/existing/file = \${buildout:directory}/f
symlink_base = \${buildout:directory}/work
symlink_target = \${buildout:directory}/products
autocreate = yes
`);
    assert.equal(await readlink(join(dir.path, 'products/a')), join(dir.path, 'work/a'));
    assert.equal(await readlink(join(dir.path, 'products/b')), join(dir.path, 'work/b'));
    assert.equal(await readlink(join(dir.path, 'f')), join(dir.path, 'existing/file'));

    await rejectsWithSlapError(
      run(`${base}symlink = a=\nsymlink_target = \${buildout:directory}/nowhere\n`),
      'SLAP_ERR_PROFILE',
      /links:symlink_target: Target directory .*nowhere does not exist/,
    );
    await rejectsWithSlapError(
      run(`${base}symlink = a = b = c\n`),
      'SLAP_ERR_PROFILE',
      /links:symlink: expected "source = link"/,
    );
    await rejectsWithSlapError(
      run(`${base}symlink_target = \${buildout:directory}/products\neggs = true\n`),
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      /links:eggs: "eggs" \(bulk linking\) is not supported/,
    );
    await rejectsWithSlapError(
      run(`${base}symlink = \${buildout:directory}/work/a\n`),
      'SLAP_ERR_PROFILE',
      /names no link and there is no symlink_target/,
    );
  } finally {
    await dir.remove();
  }
});

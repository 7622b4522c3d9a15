import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

test('symbolic.link links each path of link-binary into target-directory, replacing its own links', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'sw/bin/python': '', 'sw/bin/tool': '' });
    await mkdir(join(dir.path, 'bin'));
    const { run } = profileRunner(dir.path);
    const profile = (links: string): string => `[buildout]
parts = links
[links]
recipe = slapos.cookbook:symbolic.link
target-directory = \${buildout:directory}/bin
link-binary =${links}
`;
    const result = await run(profile(`\n  ${dir.path}/sw/bin/python\n  ${dir.path}/sw/bin/tool`));
    assert.deepEqual(result.installed, ['links']);
    assert.equal(await readlink(join(dir.path, 'bin/python')), `${dir.path}/sw/bin/python`);
    assert.equal(await readlink(join(dir.path, 'bin/tool')), `${dir.path}/sw/bin/tool`);
    // Update links again (an existing link is replaced); a link dropped from the list is removed.
    await run(profile(`\n  ${dir.path}/sw/bin/python\n  ${dir.path}/sw/bin/tool`));
    assert.equal(await readlink(join(dir.path, 'bin/tool')), `${dir.path}/sw/bin/tool`);
    await run(profile(` ${dir.path}/sw/bin/python`));
    assert.equal(existsSync(join(dir.path, 'bin/tool')), false);
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'bin/python')), false);
    assert.equal(existsSync(join(dir.path, 'sw/bin/python')), true, 'the linked file stays');

    await writeFile(join(dir.path, 'bin/tool'), 'mine');
    await rejectsWithSlapError(
      run(profile(` ${dir.path}/sw/bin/tool`)),
      'SLAP_ERR_PROFILE',
      /links:link-binary: Target ".*\/bin\/tool" already exists but is not a link/,
    );
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

test('copyfilelist copies each file with its mode, replaces existing copies, owns them', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'src/a.sh': '#!/bin/sh\necho a\n', 'src/sub/b.txt': 'b', 'target/b.txt': 'old' });
    const { chmod } = await import('node:fs/promises');
    await chmod(join(dir.path, 'src/a.sh'), 0o751);
    const { run } = profileRunner(dir.path);
    const profile = (files: string): string => `[buildout]
parts = copy
[copy]
recipe = slapos.cookbook:copyfilelist
target-directory = \${buildout:directory}/target
file-list = ${files}
`;
    await run(profile('${buildout:directory}/src/a.sh\n  src/sub/b.txt'));
    assert.equal(await readFile(join(dir.path, 'target/a.sh'), 'utf8'), '#!/bin/sh\necho a\n');
    assert.equal((await stat(join(dir.path, 'target/a.sh'))).mode & 0o777, 0o751);
    assert.equal(await readFile(join(dir.path, 'target/b.txt'), 'utf8'), 'b');

    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'target/a.sh')), false);
    assert.equal(existsSync(join(dir.path, 'target/b.txt')), false);

    await rejectsWithSlapError(
      run(profile('src/missing')),
      'SLAP_ERR_RECIPE_FAILED',
      /cannot copy .*missing/,
    );
  } finally {
    await dir.remove();
  }
});

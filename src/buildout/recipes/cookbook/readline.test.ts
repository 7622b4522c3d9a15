import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveProfile } from '../../engine.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { firstLine } from './readline.ts';

test('readline: the first line of storage-path, when-absent, or a failed install', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'stored.txt': 'first line\nsecond\n' });
    const profile = (extra: string, path = 'stored.txt'): string =>
      `[buildout]\nparts = r\n[r]\nrecipe = slapos.cookbook:readline\nstorage-path = \${buildout:directory}/${path}\n${extra}`;
    await writeFile(join(dir.path, 'buildout.cfg'), profile(''));
    const resolved = await resolveProfile({ configFile: join(dir.path, 'buildout.cfg') });
    assert.equal((resolved.sections.r as Record<string, string>).readline, 'first line\n');
    await writeFile(join(dir.path, 'buildout.cfg'), profile('when-absent = none yet\n', 'missing'));
    const absent = await resolveProfile({ configFile: join(dir.path, 'buildout.cfg') });
    assert.equal((absent.sections.r as Record<string, string>).readline, 'none yet');

    const { run } = profileRunner(dir.path);
    assert.deepEqual((await run(profile(''))).installed, ['r']);
    await rejectsWithSlapError(
      run(profile('', 'missing')),
      'SLAP_ERR_RECIPE_FAILED',
      /Unable to read the file content/,
    );
    assert.equal(firstLine('a\r\nb'), 'a\n');
    assert.equal(firstLine(''), '');
    assert.equal(firstLine('no break'), 'no break');
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';

test('dropbear.add_authorized_key writes exactly the key in <home>/.ssh/authorized_keys', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const profile = (key: string): string =>
      `[buildout]\nparts = key\n[key]\nrecipe = slapos.cookbook:dropbear.add_authorized_key\nhome = \${buildout:directory}/home\nkey = ${key}\n`;
    await dir.write({ 'home/.keep': '' });
    await run(profile('ssh-ed25519 AAAAC3 user@host'));
    const file = join(dir.path, 'home/.ssh/authorized_keys');
    assert.equal(await readFile(file, 'utf8'), 'ssh-ed25519 AAAAC3 user@host');
    assert.equal((await stat(join(dir.path, 'home/.ssh'))).mode & 0o777, 0o700);
    await run(profile('ssh-ed25519 BBBB other'));
    assert.equal(await readFile(file, 'utf8'), 'ssh-ed25519 BBBB other');
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(file), false);
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { execFile } from '../../../lib/exec.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { groupNameIn } from './userinfo.ts';

test('userinfo sets the passwd and group entries of the running user during init', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await run(`[buildout]
parts = show
[user]
recipe = slapos.cookbook:userinfo
[show]
recipe = slapos.recipe.template
output = \${buildout:directory}/out
inline = \${user:pw-name} \${user:pw-uid} \${user:pw-gid} \${user:pw-dir} \${user:pw-shell} \${user:gr-name} \${user:gr-gid}
`);
    const me = userInfo();
    const group = (await execFile('id', ['-gn'])).stdout.trim();
    assert.equal(
      await readFile(`${dir.path}/out`, 'utf8'),
      [me.username, me.uid, me.gid, me.homedir, me.shell, group, process.getgid?.()].join(' '),
    );
  } finally {
    await dir.remove();
  }
});

test('groupNameIn reads /etc/group lines', () => {
  const text = 'root:x:0:\nslapuser0:x:1000:a,b\nbroken\n';
  assert.equal(groupNameIn(text, 1000), 'slapuser0');
  assert.equal(groupNameIn(text, 0), 'root');
  assert.equal(groupNameIn(text, 5), undefined);
});

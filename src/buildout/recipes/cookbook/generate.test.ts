import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { md5Crypt, shaCrypt } from './password-hash.ts';

const profile = (extra = ''): string => `[buildout]
parts = show
[pw]
recipe = slapos.cookbook:generate.password
${extra}
[show]
recipe = slapos.recipe.template
inline = \${pw:passwd}
output = \${buildout:directory}/shown
`;

test('generate.password: generated once, kept in storage-path (0600 JSON), volatile in the record', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await run(profile());
    const passwd = await readFile(join(dir.path, 'shown'), 'utf8');
    assert.match(passwd, /^[A-Za-z0-9]{16}$/);
    const storage = join(dir.path, 'parts', 'pw');
    assert.deepEqual(JSON.parse(await readFile(storage, 'utf8')), { '': passwd });
    assert.equal((await stat(storage)).mode & 0o777, 0o600);
    const record = await readFile(join(dir.path, '.installed.cfg'), 'utf8');
    assert.ok(!record.includes(`passwd = ${passwd}`), 'the password is not in the installed record');
    assert.match(record, /\[pw\][^[]*storage-path = /);

    // Next runs keep it: nothing reinstalled.
    const again = await run(profile());
    assert.deepEqual(again.installed, []);
    assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), passwd);

    // The older plain-text storage is read too; a forced passwd replaces the stored one.
    await writeFile(storage, 'plainOldPassword\n');
    await run(profile());
    assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), 'plainOldPassword');
    await run(profile('passwd = forced'));
    assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), 'forced');
    assert.deepEqual(JSON.parse(await readFile(storage, 'utf8')), { '': 'forced' });

    // bytes sets the length; an empty storage-path keeps nothing (a new password each run).
    await run(profile('bytes = 40\nstorage-path = '));
    const long = await readFile(join(dir.path, 'shown'), 'utf8');
    assert.match(long, /^[A-Za-z0-9]{40}$/);
    await run(profile('bytes = 40\nstorage-path = '));
    assert.notEqual(await readFile(join(dir.path, 'shown'), 'utf8'), long);

    // create-once = false: the storage file belongs to the part (removed with it).
    await run(profile('create-once = false\nstorage-path = ${buildout:directory}/secret'));
    assert.ok(existsSync(join(dir.path, 'secret')));
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'secret')), false);
    assert.ok(existsSync(storage), 'a create-once storage is never removed');

    await rejectsWithSlapError(
      run(profile('bytes = many\nstorage-path =')),
      'SLAP_ERR_PROFILE',
      /pw:bytes: not a password length/,
    );
  } finally {
    await dir.remove();
  }
});

test('generate.mac: a locally administered address, stored and reused', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const text = `[buildout]\nparts = show\n[mac]\nrecipe = slapos.cookbook:generate.mac\nstorage-path = \${buildout:directory}/mac\n[show]\nrecipe = slapos.recipe.template\ninline = \${mac:mac-address}\noutput = shown\n`;
    await run(text);
    const mac = await readFile(join(dir.path, 'shown'), 'utf8');
    assert.match(mac, /^fe(:[0-9a-f]{2}){5}$/);
    assert.equal(await readFile(join(dir.path, 'mac'), 'utf8'), mac);
    const again = await run(text);
    assert.deepEqual(again.installed, []);
    assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), mac);
    await rejectsWithSlapError(
      run('[buildout]\nparts = m\n[m]\nrecipe = slapos.cookbook:generate.mac\n'),
      'SLAP_ERR_PROFILE',
      /Missing option: m:storage-path/,
    );
  } finally {
    await dir.remove();
  }
});

test('generate.password: passwd-<scheme> hashes are computed when read, kept in the storage JSON, stable', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    const text = `[buildout]
parts = show
[pw]
recipe = slapos.cookbook:generate.password
passwd = insecure
[show]
recipe = slapos.recipe.template
inline = \${pw:passwd-sha256-crypt} \${pw:passwd-md5-crypt} \${pw:passwd-ldap-salted-sha1}
output = \${buildout:directory}/shown
`;
    await run(text);
    const shown = await readFile(join(dir.path, 'shown'), 'utf8');
    const [sha256, md5, ssha] = shown.split(' ') as [string, string, string];
    const [, , rounds, salt] = sha256.split('$');
    assert.equal(rounds, 'rounds=535000');
    assert.equal(shaCrypt('sha256', 'insecure', { salt: salt ?? '', rounds: 535000 }), sha256);
    assert.equal(md5Crypt('insecure', { salt: md5.split('$')[2] ?? '' }), md5);
    assert.match(ssha, /^\{SSHA\}/);
    // The original's storage format: json.dumps(sort_keys=True).
    const storage = await readFile(join(dir.path, 'parts', 'pw'), 'utf8');
    assert.equal(
      storage,
      `{"": "insecure", "passwd-ldap-salted-sha1": "${ssha}", "passwd-md5-crypt": "${md5}", "passwd-sha256-crypt": "${sha256}"}`,
    );
    const record = await readFile(join(dir.path, '.installed.cfg'), 'utf8');
    const pwRecord = /\[pw\][^[]*/.exec(record)?.[0] ?? '';
    assert.match(pwRecord, /storage-path = /);
    assert.ok(!pwRecord.includes('passwd'), 'the password and its hashes stay out of the part record');
    // Next run: the stored hashes (same salts), nothing reinstalled.
    const again = await run(text);
    assert.deepEqual(again.installed, []);
    assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), shown);
    // A scheme this engine cannot compute is a clear error naming the supported ones.
    await rejectsWithSlapError(
      run(text.replace('passwd-md5-crypt', 'passwd-bcrypt')),
      'SLAP_ERR_RECIPE_UNSUPPORTED',
      /"passwd-bcrypt": the hashing scheme "bcrypt" is not supported/,
    );
  } finally {
    await dir.remove();
  }
});

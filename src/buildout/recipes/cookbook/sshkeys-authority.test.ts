import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readlink, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { hostileString, seededRandom } from '../../../testing/hostile-strings.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { processRequest, publicKeyLine } from './sshkeys-authority-service.ts';
import { pyJsonDumps, waitingWrapperScript } from './sshkeys-authority.ts';

const KEYGEN = '/usr/bin/ssh-keygen';

const profile = (name = 'sshd'): string => `[buildout]
parts = authority request
[dirs]
requests = \${buildout:directory}/requests
keys = \${buildout:directory}/keys
[authority]
recipe = slapos.cookbook:sshkeys_authority
request-directory = \${dirs:requests}
keys-directory = \${dirs:keys}
wrapper = \${buildout:directory}/etc/service/sshkeys-authority
keygen-binary = ${KEYGEN}
[request]
<= authority
recipe = slapos.cookbook:sshkeys_authority.request
name = ${name}
type = rsa
size = 3072
executable = /bin/echo
public-key = \${buildout:directory}/etc/ssh/key.pub
private-key = \${buildout:directory}/etc/ssh/key
wrapper = \${buildout:directory}/etc/service/sshd
[show]
value = \${request:public-key-value}
`;

test('sshkeys_authority: the request, links and wrappers; the service makes the pair with ssh-keygen', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'requests/.keep': '', 'keys/.keep': '' });
    await unlink(join(dir.path, 'requests/.keep'));
    const { run } = profileRunner(dir.path);
    await run(profile());
    const privateKey = join(dir.path, 'keys', createHash('sha256').update('sshd').digest('hex'));
    assert.equal(
      await readFile(join(dir.path, 'requests/sshd'), 'utf8'),
      `{"private_key": "${privateKey}", "public_key": "${privateKey}.pub", "size": 3072, "type": "rsa"}`,
    );
    assert.equal(await readlink(join(dir.path, 'etc/ssh/key')), privateKey);
    assert.equal(await readlink(join(dir.path, 'etc/ssh/key.pub')), `${privateKey}.pub`);
    const sshd = join(dir.path, 'etc/service/sshd');
    assert.equal((await stat(sshd)).mode & 0o777, 0o700);
    const authority = join(dir.path, 'etc/service/sshkeys-authority');
    assert.match(await readFile(authority, 'utf8'), /sshkeys-authority-main\.[jt]s.* \\\n\t--request-dir /s);

    // The service wrapper makes the pair; the waiting wrapper then runs its executable.
    const service = spawn(authority, [], { stdio: 'ignore' });
    try {
      const waiting = await execFile(sshd, ['ready'], { timeoutMs: 60_000 });
      assert.equal(waiting.stdout, 'ready\n');
    } finally {
      service.kill('SIGTERM');
      await new Promise((r) => service.once('exit', r));
    }
    const publicKey = await readFile(`${privateKey}.pub`, 'utf8');
    assert.match(publicKey, /^ssh-rsa AAAA/);
    const check = await execFile(KEYGEN, ['-y', '-f', privateKey]);
    assert.equal(check.stdout.trim(), publicKey.trim());

    // The next run publishes the public key in public-key-value.
    await writeFile(join(dir.path, 'buildout.cfg'), profile());
    const { resolveProfile } = await import('../../engine.ts');
    const resolved = await resolveProfile({ configFile: join(dir.path, 'buildout.cfg') });
    assert.equal((resolved.sections.show as Record<string, string>).value, publicKey);

    // A missing public key is remade from the private one (-y), as the original's regex reads it.
    await unlink(`${privateKey}.pub`);
    await processRequest(join(dir.path, 'requests/sshd'), KEYGEN);
    assert.equal(await readFile(`${privateKey}.pub`, 'utf8'), publicKeyLine(check.stdout));
    assert.ok(publicKeyLine(check.stdout).startsWith('ssh-rsa AAAA'));

    // A link path holding a file is an error; a name that is not a file name is refused.
    await rejectsWithSlapError(run(profile('../escape')), 'SLAP_ERR_PROFILE', /not a plain file name/);
    await run('[buildout]\nparts =\n');
    assert.equal(existsSync(join(dir.path, 'etc/ssh/key')), false);
    await dir.write({ 'etc/ssh/key': 'not a link' });
    await rejectsWithSlapError(run(profile()), 'SLAP_ERR_PROFILE', /should be a symbolic link/);
  } finally {
    await dir.remove();
  }
});

test('sshkeys_authority: hostile paths keep the waiting wrapper and the request JSON intact', async () => {
  const random = seededRandom(3);
  const dir = await tempDir();
  try {
    const script = join(dir.path, 'w');
    for (let i = 0; i < 60; i++) {
      const value = hostileString(random, 6).replace(/[\0\ud800-\udfff]/g, '');
      if (value.length > 500) continue;
      const file = join(dir.path, 'f');
      await writeFile(file, '');
      await writeFile(script, waitingWrapperScript('/bin/echo', [file, file]), { mode: 0o700 });
      const ran = await execFile(script, [value]);
      assert.equal(ran.stdout, `${value}\n`);
      assert.deepEqual(
        JSON.parse(
          pyJsonDumps([
            ['private_key', value],
            ['size', 1],
          ]),
        ),
        { private_key: value, size: 1 },
      );
      assert.doesNotMatch(pyJsonDumps([['k', value]]), /[\u007f-\uffff]/);
    }
  } finally {
    await dir.remove();
  }
});

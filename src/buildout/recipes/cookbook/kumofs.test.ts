import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

test('generic.kumofs writes the gateway, manager and server scripts', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'bin/kumo': '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n' });
    await chmod(join(dir.path, 'bin/kumo'), 0o755);
    const { run } = profileRunner(dir.path);
    const profile = (extra = ''): string => `[buildout]
parts = kumo
[kumo]
recipe = slapos.cookbook:generic.kumofs
ip = 10.0.0.1
manager-port = 13101
server-port = 13201
server-listen-port = 13202
gateway-port = 13301
data-directory = /srv/kumo data
shell-path = /bin/sh
kumo-gateway-binary = \${buildout:directory}/bin/kumo
kumo-manager-binary = \${buildout:directory}/bin/kumo
kumo-server-binary = \${buildout:directory}/bin/kumo
kumo-gateway-log = /log/gateway.log
kumo-manager-log = /log/manager.log
kumo-server-log = /log/server.log
gateway-wrapper = \${buildout:directory}/etc/service/kumo-gateway
manager-wrapper = \${buildout:directory}/etc/service/kumo-manager
server-wrapper = \${buildout:directory}/etc/service/kumo-server
${extra}`;
    await run(profile());
    const service = (name: string): string => join(dir.path, 'etc/service', name);
    const kumo = join(dir.path, 'bin/kumo');
    assert.equal(
      await readFile(service('kumo-manager'), 'utf8'),
      `#!/bin/sh\nexec ${kumo} -a -l 10.0.0.1:13101 -o /log/manager.log\n`,
    );
    assert.equal((await stat(service('kumo-manager'))).mode & 0o777, 0o700);
    assert.equal(
      (await execFile(service('kumo-gateway'), [])).stdout,
      '-F\n-E\n-m\n10.0.0.1:13101\n-t\n10.0.0.1:13301\n-o\n/log/gateway.log\n',
    );
    assert.equal(
      (await execFile(service('kumo-server'), [])).stdout,
      '-l\n10.0.0.1:13201\n-L\n13202\n-m\n10.0.0.1:13101\n-s\n/srv/kumo data/kumodb.tch\n-o\n/log/server.log\n',
    );
    await run(profile('data-path = /data/x.tch\n'));
    assert.match(await readFile(service('kumo-server'), 'utf8'), / -s \/data\/x\.tch /);
    await rejectsWithSlapError(
      run(profile('gateway-port = 1; reboot\n')),
      'SLAP_ERR_PROFILE',
      /invalid literal for int/,
    );
  } finally {
    await dir.remove();
  }
});

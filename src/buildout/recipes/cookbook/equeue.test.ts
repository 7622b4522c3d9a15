import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';

test('equeue writes the wrapper of the equeue server; lockfile must end with .lock', async () => {
  const dir = await tempDir();
  try {
    await dir.write({ 'bin/equeue': '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n' });
    await chmod(join(dir.path, 'bin/equeue'), 0o755);
    const { run } = profileRunner(dir.path);
    const profile = (lockfile: string, extra = ''): string => `[buildout]
parts = equeue
[equeue]
recipe = slapos.cookbook:equeue
equeue-binary = \${buildout:directory}/bin/equeue
database = /srv/equeue.db
log = /log/equeue.log
lockfile = ${lockfile}
socket = /run/equeue.sock
wrapper = \${buildout:directory}/etc/service/equeue
${extra}`;
    await run(profile('/run/equeue.lock', 'loglevel = debug\ntakeover-triggered-file-path = /srv/takeover'));
    const wrapper = join(dir.path, 'etc/service/equeue');
    assert.equal((await stat(wrapper)).mode & 0o777, 0o700);
    assert.equal(
      (await execFile(wrapper, [])).stdout,
      '--database\n/srv/equeue.db\n--logfile\n/log/equeue.log\n--lockfile\n/run/equeue\n--takeover-triggered-file-path\n/srv/takeover\n--loglevel\ndebug\n/run/equeue.sock\n',
    );
    await rejectsWithSlapError(run(profile('/run/equeue')), 'SLAP_ERR_PROFILE', /must end with \.lock/);
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../../lib/exec.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';

test('generic.mysql.wrap_update_mysql: upgrade, init script and time zones, retried until they succeed', async () => {
  const dir = await tempDir();
  try {
    const log = join(dir.path, 'log');
    await dir.write({
      // mysql_upgrade fails the first time only.
      'bin/upgrade': `#!/bin/sh\nif [ ! -e ${log}.upgraded ]; then touch ${log}.upgraded; echo not yet; exit 1; fi\necho upgraded\n`,
      'bin/mysql': `#!/bin/sh\necho "mysql $*: $(cat)" >> ${log}\n`,
      'bin/mysql_tzinfo_to_sql': `#!/bin/sh\necho "TZ FROM $1"\n`,
      'init.sql': 'CREATE TABLE x;',
    });
    for (const tool of ['upgrade', 'mysql', 'mysql_tzinfo_to_sql'])
      await chmod(join(dir.path, 'bin', tool), 0o755);
    const { run } = profileRunner(dir.path);
    await run(`[buildout]
parts = update
[update]
recipe = slapos.cookbook:generic.mysql.wrap_update_mysql
output = \${buildout:directory}/etc/service/mariadb_update
binary = \${buildout:directory}/bin/upgrade
mysql = \${buildout:directory}/bin/mysql
init-script = \${buildout:directory}/init.sql
mysql_tzinfo_to_sql = unused
zoneinfo = /zone info
`);
    const script = join(dir.path, 'etc/service/mariadb_update');
    assert.equal((await stat(script)).mode & 0o777, 0o700);
    const ran = await execFile(script, [], { timeoutMs: 30_000 });
    assert.equal(ran.exitCode, 0);
    assert.match(
      ran.stdout,
      /failed with result:\nnot yet\nSleeping for 1s and retrying\nMySQL database upgraded with result:\nupgraded\n/,
    );
    assert.match(ran.stdout, /SlapOS initialisation script succesfully applied on database.\n$/);
    assert.equal(
      await readFile(log, 'utf8'),
      'mysql -B: CREATE TABLE x;\nmysql -B mysql: TZ FROM /zone info\n',
    );
  } finally {
    await dir.remove();
  }
});

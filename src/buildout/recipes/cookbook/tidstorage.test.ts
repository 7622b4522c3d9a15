import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hostileString, LINE_TERMINATORS, seededRandom } from '../../../testing/hostile-strings.ts';
import { profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { tidstorageConf } from './tidstorage.ts';

const profile = (known: string, extra = ''): string => `[buildout]
parts = tidstorage
[tidstorage]
recipe = slapos.cookbook:tidstorage
known-tid-storage-identifier-dict = ${known}
configuration-path = \${buildout:directory}/etc/tidstorage.py
ip = 10.0.0.1
port = 6001
timestamp-file-path = /backup/repozo_tidstorage_timestamp.log
logfile-name =
pidfile-name = /run/tidstorage.pid
status-file = /backup/tidstorage.tid
tidstorage-repozo-binary = /bin/tidstorage_repozo
tidstoraged-binary = /bin/tidstoraged
repozo-binary = /bin/repozo
repozo-wrapper = \${buildout:directory}/bin/tidstorage-repozo
${extra}`;

test('tidstorage writes the configuration and the wrappers', async () => {
  const dir = await tempDir();
  try {
    const { run } = profileRunner(dir.path);
    await run(
      profile(
        `!py!{'((\\'zeo\\', 1),)': ('/srv/zodb.fs', '/backup/main')}`,
        'tidstorage-wrapper = ${buildout:directory}/etc/service/tidstoraged\n',
      ),
    );
    const conf = join(dir.path, 'etc/tidstorage.py');
    assert.equal(
      await readFile(conf, 'utf8'),
      [
        `known_tid_storage_identifier_dict = {"(('zeo', 1),)": ('/srv/zodb.fs', '/backup/main')}`,
        "address = '10.0.0.1'",
        'port = 6001',
        '',
        '#fork = False',
        '#setuid = None',
        '#setgid = None',
        'burst_period = 30',
        'full_dump_period = 300',
        '',
        "timestamp_file_path = '/backup/repozo_tidstorage_timestamp.log'",
        "logfile_name = ''",
        "pidfile_name = '/run/tidstorage.pid'",
        "status_file = '/backup/tidstorage.tid'",
        '',
      ].join('\n'),
    );
    assert.equal((await stat(conf)).mode & 0o777, 0o600);
    assert.equal(
      await readFile(join(dir.path, 'etc/service/tidstoraged'), 'utf8'),
      `#!/bin/sh -e\nexec /bin/tidstoraged --nofork --config ${conf} \\\n\t"$@"\n`,
    );
    assert.match(
      await readFile(join(dir.path, 'bin/tidstorage-repozo'), 'utf8'),
      /\.py \\\n\t--repozo \/bin\/repozo --gzip --quick "\$@"\n$/,
    );

    // A plain-text literal is re-printed; code is refused.
    await run(profile(`{'a': ('b', 'c')}`));
    assert.match(
      await readFile(conf, 'utf8'),
      /^known_tid_storage_identifier_dict = \{'a': \('b', 'c'\)\}\n/,
    );
    await rejectsWithSlapError(
      run(profile(`__import__('os').system('x')`)),
      'SLAP_ERR_PROFILE',
      /not a Python literal/,
    );
    await rejectsWithSlapError(run(profile('{}', 'port = 1\n  import os')), 'SLAP_ERR_PROFILE', /not a port/);
  } finally {
    await dir.remove();
  }
});

test('tidstorage: hostile strings stay one Python string literal on their line', () => {
  const random = seededRandom(13);
  for (let i = 0; i < 500; i++) {
    const value = hostileString(random);
    const conf = tidstorageConf({
      known: '{}',
      ip: value,
      port: '1',
      timestampFile: value,
      logfile: value,
      pidfile: value,
      statusFile: value,
    });
    const lines = conf.split('\n');
    assert.equal(lines.length, 15);
    for (const terminator of LINE_TERMINATORS)
      assert.ok(!conf.replaceAll('\n', '').includes(terminator) || terminator === '\n');
    assert.match(lines[1] as string, /^address = (['"]).*\1$/);
  }
});

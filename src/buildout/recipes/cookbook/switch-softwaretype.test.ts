import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { profileRunner } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { instanceFixture } from '../../../testing/slapgrid.ts';

const WORKER = `[buildout]
parts = out

# Its own connection options are absent: the run injects the main run's values instead.
[slap-configuration]
recipe = slapos.cookbook:slapconfiguration.serialised
configuration.size = small

[out]
recipe = slapos.recipe.template
inline = \${slap-configuration:slap-software-type} \${slap-configuration:configuration.name} \${slap-configuration:configuration.size} \${slap-connection:partition-id} \${slap-configuration:ipv4-random}
output = \${buildout:directory}/worker.txt
`;

const MAIN = `[buildout]
parts = switch-softwaretype

[slap-configuration]
recipe = slapos.cookbook:slapconfiguration
computer = \${slap-connection:computer-id}
partition = \${slap-connection:partition-id}
url = \${slap-connection:server-url}

[profiles]
default = \${buildout:directory}/instance-default.cfg
worker = \${buildout:directory}/instance-worker.cfg

[switch-softwaretype]
recipe = slapos.cookbook:switch-softwaretype
default = profiles:default
worker = profiles:worker
`;

test('switch-softwaretype runs the profile of the instance software type as a nested buildout', async () => {
  const fixture = await instanceFixture({ softwareType: 'worker', parameters: { name: 'Alice' } });
  try {
    const { dir } = fixture;
    await dir.write({ 'instance-worker.cfg': WORKER, 'instance-default.cfg': '[buildout]\nparts =\n' });
    const { run, spawned } = profileRunner(dir.path);
    const result = await run(`${MAIN}\n${fixture.tail}`);
    assert.deepEqual(result.installed, ['slap-configuration', 'switch-softwaretype']);
    const output = join(dir.path, 'worker.txt');
    assert.equal(await readFile(output, 'utf8'), `worker Alice small ${fixture.partitionId} 127.0.1.1`);
    const nested = await readFile(join(dir.path, '.installed-switch-softwaretype.cfg'), 'utf8');
    assert.match(nested, /parts = slap-configuration out/);
    assert.match(nested, /recipe = slapos\.cookbook:switch-softwaretype\.noop/);

    // Nothing changed: the nested run does nothing either.
    const mtime = (await stat(output)).mtimeMs;
    await run(`${MAIN}\n${fixture.tail}`);
    assert.equal((await stat(output)).mtimeMs, mtime);
    assert.deepEqual(spawned, []);

    // `override` runs another profile for the type, with the mapped one as extends (merged after
    // it, as buildout merges a command-line extends).
    await dir.write({
      'override.cfg':
        '[buildout]\nparts = extra\n[extra]\nrecipe = slapos.cookbook:mkdirectory\nd = ${buildout:directory}/extra\n',
      'base.cfg': '[extra]\ne = ${buildout:directory}/from-base\n',
    });
    await run(
      `${MAIN}worker = profiles:base\noverride = !py!{'worker': '${join(dir.path, 'override.cfg')}'}\n[profiles]\nbase = ${join(dir.path, 'base.cfg')}\n\n${fixture.tail}`,
    );
    assert.ok(existsSync(join(dir.path, 'extra')));
    assert.ok(existsSync(join(dir.path, 'from-base')));
  } finally {
    await fixture.close();
  }
});

test('switch-softwaretype: an unmapped type, a bad mapping, no [slap-configuration] fail clearly', async () => {
  const fixture = await instanceFixture({ softwareType: 'other' });
  try {
    const { dir } = fixture;
    const { run } = profileRunner(dir.path);
    await rejectsWithSlapError(
      run(`${MAIN}\n${fixture.tail}`),
      'SLAP_ERR_PROFILE',
      /switch-softwaretype:other: this software type \(other\) isn't mapped/,
    );
    await rejectsWithSlapError(
      run(`${MAIN}other = \${profiles:worker}\n\n${fixture.tail}`),
      'SLAP_ERR_PROFILE',
      /must be "section:option"/,
    );
    await rejectsWithSlapError(
      run('[buildout]\nparts = s\n[s]\nrecipe = slapos.cookbook:switch-softwaretype\ndefault = a:b\n'),
      'SLAP_ERR_PROFILE',
      /must be named \[slap-configuration\]/,
    );
  } finally {
    await fixture.close();
  }
});

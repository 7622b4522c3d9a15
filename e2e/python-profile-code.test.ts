/**
 * A software release with Python code in its profiles (slapos.recipe.build `init`/`install`), as
 * upstream releases have, through the node's own passes: at software time a part's `init` sets an
 * option the instance profile is rendered with, its `install` creates its location; at instance
 * time a part's `init` reads the instance parameters (a native recipe, slapconfiguration) and sets
 * the greeting another part publishes. A new parameter re-runs the code; destroying cleans up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runInstancePass } from '../src/node/instance/instance-pass.ts';
import { runSoftwarePass, softwareDirectory } from '../src/node/software/software-pass.ts';
import { COMPUTER_ID, startNodeHarness, writeSoftwareRelease } from '../src/testing/node-passes.ts';

const SOFTWARE = `[buildout]
parts = flavour instance-profile

[flavour]
recipe = slapos.recipe.build
init =
  import sys
  options['flavour'] = 'python %d' % sys.version_info[0]
install =
  os.makedirs(location)
  with open(os.path.join(location, 'flavour.txt'), 'w') as f:
    f.write(options['flavour'])

[instance-profile]
recipe = slapos.recipe.template
url = \${:_profile_base_location_}/instance.cfg.in
output = \${buildout:directory}/instance.cfg
`;

const INSTANCE = `[buildout]
parts = greet publish

[instance-parameter]
recipe = slapos.cookbook:slapconfiguration
computer = $\${slap-connection:computer-id}
partition = $\${slap-connection:partition-id}
url = $\${slap-connection:server-url}
key = $\${slap-connection:key-file}
cert = $\${slap-connection:cert-file}
configuration.name = World

[greet]
recipe = slapos.recipe.build
flavour = \${flavour:flavour}
init =
  name = self.buildout['instance-parameter']['configuration.name']
  options['greeting'] = 'Hello %s, from %s' % (name, options['flavour'])
install =
  os.makedirs(location)
  with open(os.path.join(location, 'greeting.txt'), 'w') as f:
    f.write(options['greeting'])

[publish]
recipe = slapos.cookbook:publish
greeting = $\${greet:greeting}
`;

test('a release with Python init/install code is built and instantiated by the node', async () => {
  const h = await startNodeHarness({ partitions: 1 });
  try {
    const url = await writeSoftwareRelease(h.dir, 'python-code', { software: SOFTWARE, instance: INSTANCE });
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    const software = await runSoftwarePass(h.config, { master: h.client });
    assert.deepEqual(
      software.items.map((i) => [i.outcome, i.error?.message]),
      [['installed', undefined]],
    );
    const built = softwareDirectory(h.config.softwareRoot, url);
    assert.equal(await readFile(join(built, 'parts', 'flavour', 'flavour.txt'), 'utf8'), 'python 3');
    assert.match(await readFile(join(built, 'instance.cfg'), 'utf8'), /^flavour = python 3$/m);

    const instance = await h.client.requestInstance({
      title: 'greeter',
      softwareReleaseUri: url,
      parameters: { name: 'Alice' },
    });
    const partition = instance.compute_partition_id;
    const options = { master: h.client, supervisor: h.supervisor, onlyPartitions: [partition] };
    const deployed = await runInstancePass(h.config, options);
    assert.deepEqual(
      deployed.items.map((i) => [i.outcome, i.error?.message]),
      [['started', undefined]],
    );
    const greeting = async (): Promise<unknown> =>
      (await h.client.getInstance(instance.instance_guid)).connection_parameters.greeting;
    assert.equal(await greeting(), 'Hello Alice, from python 3');
    const file = join(h.config.instanceRoot, partition, 'parts', 'greet', 'greeting.txt');
    assert.equal(await readFile(file, 'utf8'), 'Hello Alice, from python 3');

    await h.client.requestInstance({
      title: 'greeter',
      softwareReleaseUri: url,
      parameters: { name: 'Bob' },
    });
    const changed = await runInstancePass(h.config, options);
    assert.deepEqual(
      changed.items.map((i) => [i.outcome, i.error?.message]),
      [['started', undefined]],
    );
    assert.equal(await greeting(), 'Hello Bob, from python 3');
    assert.equal(await readFile(file, 'utf8'), 'Hello Bob, from python 3');

    await h.client.requestInstance({ title: 'greeter', softwareReleaseUri: url, state: 'destroyed' });
    const destroyed = await runInstancePass(h.config, options);
    assert.deepEqual(
      destroyed.items.map((i) => i.outcome),
      ['destroyed'],
    );
    assert.deepEqual(await readdir(join(h.config.instanceRoot, partition)), ['.slapos-resource']);
  } finally {
    await h.close();
  }
});

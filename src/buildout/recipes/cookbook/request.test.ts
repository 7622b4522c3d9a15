import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadProfile } from '../../engine.ts';
import { fromJs } from '../../py-value.ts';
import { profileRunner } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { instanceFixture } from '../../../testing/slapgrid.ts';

const CHILD = 'child___my-instance___0';

test('request asks for a child in the partition tree; its connection parameters appear once published', async () => {
  const fixture = await instanceFixture();
  try {
    const { env, dir } = fixture;
    const { run } = profileRunner(dir.path);
    const profile = (recipe: string): string => `[buildout]
parts = show
[request-child]
<= slap-connection
recipe = ${recipe}
name = child
software-url = ${fixture.softwareReleaseUrl}
software-type = worker
config-size = 2
config-label = big one
sla-computer_guid = computer
sla-empty =
return = url password
[show]
recipe = slapos.recipe.template
inline = \${request-child:connection-url} \${request-child:instance-state}
output = \${buildout:directory}/shown
${fixture.tail}`;

    await rejectsWithSlapError(
      run(profile('slapos.cookbook:request')),
      'SLAP_ERR_NOT_READY',
      /Installing part request-child \(slapos\.cookbook:request\): connection parameter url of child not found/,
    );
    const child = await env.client.getInstance(CHILD);
    assert.equal(child.root_instance_title, 'my-instance', 'the child belongs to the requester tree');
    assert.equal(child.software_type, 'worker');
    assert.deepEqual(child.parameters, { size: '2', label: 'big one' });

    // requestoptional never fails; the values are empty until the child publishes.
    await run(profile('slapos.cookbook:requestoptional'));
    assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), ' started');

    await env.client.setConnectionParameters({
      instanceGuid: CHILD,
      parameters: { url: 'http://child.example', password: 'pw' },
    });
    await run(profile('slapos.cookbook:request'));
    assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), 'http://child.example started');
    const options = await (
      await loadProfile({ configFile: join(dir.path, 'buildout.cfg') })
    ).section('request-child');
    assert.equal(options.get('connection-password'), 'pw');
    assert.equal(options.get('instance-guid'), CHILD);
    assert.equal(options.get('requested-state'), 'started');
  } finally {
    await fixture.close();
  }
});

test('request.serialised sends and reads json-in-xml; shared requests; bad options', async () => {
  const fixture = await instanceFixture();
  try {
    const { env, dir } = fixture;
    const { run } = profileRunner(dir.path);
    const profile = `[buildout]
parts = request-child request-shared
[request-child]
<= slap-connection
recipe = slapos.cookbook:requestoptional.serialised
name = child
software-url = ${fixture.softwareReleaseUrl}
config-ports = !py![80, 443]
config-name = x
return = site
[request-shared]
<= slap-connection
recipe = slapos.cookbook:requestoptional
name = my-shared
software-url = ${fixture.softwareReleaseUrl}
slave = true
config-url = http://backend
return = domain
${fixture.tail}`;
    await run(profile);
    const child = await env.client.getInstance(CHILD);
    assert.deepEqual(JSON.parse(child.parameters._ as string), { ports: [80, 443], name: 'x' });
    await env.client.setConnectionParameters({
      instanceGuid: CHILD,
      parameters: { _: JSON.stringify({ site: { url: 'http://x', ports: [1] } }) },
    });
    const view = await loadProfile({ configFile: join(dir.path, 'buildout.cfg') });
    const childOptions = await view.section('request-child');
    assert.deepEqual(childOptions.getValue('connection-site'), fromJs({ url: 'http://x', ports: [1] }));
    const sharedOptions = await view.section('request-shared');
    assert.equal(sharedOptions.get('connection-domain'), '');
    assert.equal(sharedOptions.has('instance-guid'), false, 'no instance guid for a shared instance');
    const hosted = await env.client.listHostedSharedInstances(fixture.instance.instance_guid);
    assert.deepEqual(
      hosted.map((s) => [s.title, s.parameters]),
      [['my-shared', { url: 'http://backend' }]],
    );

    const bad = (body: string): Promise<unknown> =>
      run(
        `[buildout]\nparts = r\n[r]\n<= slap-connection\nrecipe = slapos.cookbook:request\nsoftware-url = x\n${body}\n${fixture.tail}`,
      );
    await rejectsWithSlapError(
      bad('name = n\nconfig = a b'),
      'SLAP_ERR_PROFILE',
      /'config' & 'sla' options are obsolete/,
    );
    await rejectsWithSlapError(bad(''), 'SLAP_ERR_PROFILE', /Missing option: r:name/);
    await rejectsWithSlapError(
      bad('name = n\nstate = paused'),
      'SLAP_ERR_PROFILE',
      /r:state: state must be started/,
    );
    // A refused request fails request (at install), only warns with requestoptional.
    await rejectsWithSlapError(
      bad('name = n\nsla-computer_guid = nowhere'),
      'SLAP_ERR_ALLOCATION_FAILED',
      /requesting n failed: No free computer partition found for: n/,
    );
  } finally {
    await fixture.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closedPort, profileRunner } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { instanceFixture } from '../../../testing/slapgrid.ts';

test('publish sends the section options (and -extends sections, -publish lists) as connection parameters', async () => {
  const fixture = await instanceFixture();
  try {
    const { env, dir } = fixture;
    const { run } = profileRunner(dir.path);
    const profile = (extra = ''): string => `[buildout]
parts = publish
[site]
url = http://[2001:db8::1]:8080
[more]
-publish = token
token = secret
ignored = 1
[publish]
recipe = slapos.cookbook:publish
url = \${site:url}
name = Hello World!
list = !py!['a', 1]
-not-published = x
${extra}
${fixture.tail}`;
    await run(profile());
    const guid = fixture.instance.instance_guid;
    const published = async (): Promise<Record<string, unknown>> =>
      (await env.client.getInstance(guid)).connection_parameters;
    assert.deepEqual(await published(), {
      url: 'http://[2001:db8::1]:8080',
      name: 'Hello World!',
      list: "['a', 1]",
    });

    // Unchanged: update does not publish again (the master's value is left alone)...
    await env.client.setConnectionParameters({
      instanceGuid: guid,
      parameters: { url: 'changed elsewhere' },
    });
    const again = await run(profile());
    assert.deepEqual(again.updated, ['publish']);
    assert.deepEqual(await published(), { url: 'changed elsewhere' });
    // ...a changed value republishes (the part's options changed).
    await run(profile('port = 8080'));
    assert.equal((await published()).port, '8080');

    // -extends: the other sections' options too, published again on every run.
    await run(profile('-extends = more'));
    assert.equal((await published()).token, 'secret');
    assert.equal((await published()).ignored, undefined, '-publish limits what a section publishes');
    await env.client.setConnectionParameters({ instanceGuid: guid, parameters: {} });
    await run(profile('-extends = more'));
    assert.equal((await published()).token, 'secret');
  } finally {
    await fixture.close();
  }
});

test('publish.serialised sends one json-in-xml "_" value; -slave-reference publishes for a shared instance', async () => {
  const fixture = await instanceFixture();
  try {
    const { env, dir } = fixture;
    const shared = await env.client.requestInstance({
      title: 'frontend-user',
      softwareReleaseUri: fixture.softwareReleaseUrl,
      softwareType: 'default',
      shared: true,
    });
    const { run } = profileRunner(dir.path);
    await run(`[buildout]
parts = publish publish-shared
[publish]
recipe = slapos.cookbook:publish.serialised
url = http://x
ports = !py![8080, 8443]
options = !py!{'tls': True, 'name': None}
[publish-shared]
recipe = slapos.cookbook:publish.serialised
-slave-reference = ${shared.instance_guid}
site = https://shared.example
${fixture.tail}`);
    const main = (await env.client.getInstance(fixture.instance.instance_guid)).connection_parameters;
    assert.deepEqual(Object.keys(main), ['_']);
    assert.deepEqual(JSON.parse(main._ as string), {
      url: 'http://x',
      ports: [8080, 8443],
      options: { tls: true, name: null },
    });
    const sharedAnswer = await env.client.getInstance(shared.instance_guid);
    assert.deepEqual(JSON.parse(sharedAnswer.connection_parameters._ as string), {
      site: 'https://shared.example',
    });

    await rejectsWithSlapError(
      run('[buildout]\nparts = p\n[p]\nrecipe = slapos.cookbook:publish\nx = 1\n'),
      'SLAP_ERR_PROFILE',
      /this recipe needs the \[slap-connection\] section/,
    );
    await rejectsWithSlapError(
      run(
        `[buildout]\nparts = p\n[p]\nrecipe = slapos.cookbook:publish.serialised\nx = !py!{1, 2}\n${fixture.tail}`,
      ),
      'SLAP_ERR_PROFILE',
      /Object of type set is not JSON serializable/,
    );
  } finally {
    await fixture.close();
  }
});

test('publish_failsafe: a failed publication is written to -error-status-file, not raised; the next run retries', async () => {
  const fixture = await instanceFixture();
  try {
    const { env, dir } = fixture;
    const { run } = profileRunner(dir.path);
    const down = fixture.tail.replaceAll(env.url, `http://127.0.0.1:${await closedPort()}`);
    const profile = (tail: string): string => `[buildout]
parts = publish
[publish]
recipe = slapos.cookbook:publish_failsafe
-error-status-file = \${buildout:directory}/publish.error
url = http://[2001:db8::1]:8080
${tail}`;
    const statusFile = join(dir.path, 'publish.error');
    const result = await run(profile(down));
    assert.deepEqual(result.installed, ['publish']);
    assert.ok((await readFile(statusFile, 'utf8')).length > 0);

    // The master is reachable again: the update publishes, the status file goes.
    await run(profile(fixture.tail));
    assert.deepEqual((await env.client.getInstance(fixture.instance.instance_guid)).connection_parameters, {
      url: 'http://[2001:db8::1]:8080',
    });
    assert.equal(existsSync(statusFile), false);
  } finally {
    await fixture.close();
  }
});

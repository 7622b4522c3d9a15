import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileRunner } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { instanceFixture } from '../../../testing/slapgrid.ts';
import { unparseUrl } from './publishurl.ts';

test('publishurl publishes url, given or joined from its parts', async () => {
  const fixture = await instanceFixture();
  try {
    const { env, dir } = fixture;
    const { run } = profileRunner(dir.path);
    const profile = (options: string): string =>
      `[buildout]\nparts = publish\n[publish]\nrecipe = slapos.cookbook:publishurl\n${options}\n${fixture.tail}`;
    const published = async (): Promise<Record<string, unknown>> =>
      (await env.client.getInstance(fixture.instance.instance_guid)).connection_parameters;
    await run(profile('url = http://example.invalid/x'));
    assert.deepEqual(await published(), { url: 'http://example.invalid/x' });
    await run(
      profile(
        'scheme = https\nhost = 2001:db8::1\nport = 8443\npath = admin\nusername = me\npassword = pw\nquery = a=1',
      ),
    );
    assert.deepEqual(await published(), { url: 'https://me:pw@[2001:db8::1]:8443/admin?a=1' });
    await rejectsWithSlapError(run(profile('host = h')), 'SLAP_ERR_PROFILE', /No scheme specified/);
    await rejectsWithSlapError(run(profile('scheme = http')), 'SLAP_ERR_PROFILE', /No host specified/);
  } finally {
    await fixture.close();
  }
});

test('unparseUrl follows urlunparse', () => {
  assert.equal(
    unparseUrl({ scheme: 'http', host: '[::1]', params: 'p', fragment: 'f' }),
    'http://[::1]/;p#f',
  );
  assert.equal(unparseUrl({ scheme: 'mysql', host: 'h', auth: ['u'] }), 'mysql://u@h');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { profileRunner } from '../../../testing/buildout.ts';
import { seededRandom } from '../../../testing/hostile-strings.ts';
import { asWritten, hostileValue } from '../../../testing/recipe-values.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { instanceFixture } from '../../../testing/slapgrid.ts';

const profile = (tail: string, extra = ''): string => `[buildout]
parts = publish show
[publish-early]
recipe = slapos.cookbook:publish-early
-init =
  monitor-password monitor-htpasswd:passwd
  bar gen-bar:y
bar = z
[monitor-htpasswd]
recipe = slapos.cookbook:generate.password
storage-path = \${buildout:directory}/.passwd
[gen-bar]
y = from-gen-bar
[publish]
recipe = slapos.cookbook:publish.serialised
-extends = publish-early
[show]
recipe = slapos.recipe.template
output = \${buildout:directory}/shown
inline = \${publish-early:monitor-password}
${extra}
${tail}`;

test('publish-early publishes generated values at init and gives them back on later runs', async () => {
  const fixture = await instanceFixture();
  try {
    const { env, dir } = fixture;
    const { run } = profileRunner(dir.path);
    const guid = fixture.instance.instance_guid;
    const published = async (): Promise<Record<string, unknown>> =>
      JSON.parse((await env.client.getInstance(guid)).connection_parameters._ as string) as Record<
        string,
        unknown
      >;

    await run(profile(fixture.tail));
    const password = await readFile(join(dir.path, 'shown'), 'utf8');
    assert.match(password, /^[A-Za-z0-9]{16}$/);
    // publish (-extends) published the early value with the forced one.
    assert.deepEqual(await published(), { 'monitor-password': password, bar: 'z' });
    const installed = await readFile(join(dir.path, '.installed.cfg'), 'utf8');
    for (const section of ['publish-early', 'monitor-htpasswd', 'publish']) {
      const recorded = installed.split(`[${section}]\n`)[1]?.split('\n[')[0] ?? '';
      assert.equal(recorded.includes(password), false, `${section} keeps the value out of the record`);
    }
    // The generator's own storage gone: the published value is preset, so the password is kept.
    await rm(join(dir.path, '.passwd'));
    await env.client.setConnectionParameters({
      instanceGuid: guid,
      parameters: { _: JSON.stringify({ 'monitor-password': 'from-the-master' }) },
    });
    await run(profile(fixture.tail));
    assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), 'from-the-master');

    // The generated option is taken away from its section; reading the section first is an error.
    await rejectsWithSlapError(
      run(
        profile(
          fixture.tail,
          '[x]\nrecipe = slapos.recipe.template\noutput = x\ninline = ${monitor-htpasswd:passwd}\n',
        ).replace('parts = publish show', 'parts = publish x'),
      ),
      'SLAP_ERR_PROFILE',
      /monitor-htpasswd:passwd/,
    );
    await rejectsWithSlapError(
      run(
        profile(
          fixture.tail,
          '[x]\nrecipe = slapos.recipe.template\noutput = x\ninline = ${monitor-htpasswd:passwd}\n',
        ).replace('parts = publish show', 'parts = x publish'),
      ),
      'SLAP_ERR_PROFILE',
      /\[monitor-htpasswd\] section was already initialized/,
    );
    await rejectsWithSlapError(
      run(profile(fixture.tail).replace('  bar gen-bar:y', '  bar gen-bar')),
      'SLAP_ERR_PROFILE',
      /publish-early:-init: expected "KEY SECTION:OPTION" lines, got "bar gen-bar"/,
    );
  } finally {
    await fixture.close();
  }
});

test('publish-early: published values are preset literally, whatever they hold (property)', async () => {
  const fixture = await instanceFixture();
  try {
    const { env, dir } = fixture;
    const { run } = profileRunner(dir.path);
    const random = seededRandom(41);
    // Not `$${`: generate.password sets the value back and Options.set reads `$${` as `${` (engine).
    const literal = ['${buildout:directory}', '${a:b}${', 'a$$b${', '${a:b', '$$'];
    for (let i = 0; i < 17; i++) {
      const value = literal[i] ?? `p${hostileValue(random)}`.replace(/[\ud800-\udfff]/g, 'x');
      await rm(join(dir.path, '.passwd'), { force: true });
      await env.client.setConnectionParameters({
        instanceGuid: fixture.instance.instance_guid,
        parameters: { _: JSON.stringify({ 'monitor-password': value }) },
      });
      await run(profile(fixture.tail));
      assert.equal(await readFile(join(dir.path, 'shown'), 'utf8'), asWritten(value), JSON.stringify(value));
    }
  } finally {
    await fixture.close();
  }
});

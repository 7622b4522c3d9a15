import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildoutEvent } from '../../buildout/progress.ts';
import { tempDir, type TempDir } from '../../testing/buildout.ts';
import { FAKE_RELEASE_BUILDOUT, readRecord } from '../../testing/release-buildout.ts';
import { rejectsWithSlapError } from '../../testing/slap-error-assert.ts';
import { chooseInstanceEngine, runReleaseBuildout } from './release-buildout.ts';

async function fakeRelease(dir: TempDir): Promise<{ software: string; partition: string; buildout: string }> {
  await dir.write({
    'software/bin/buildout': FAKE_RELEASE_BUILDOUT,
    'software/instance.cfg': '[buildout]\nparts = x\n[x]\nrecipe = zc.recipe.egg\n',
    'partition/buildout.cfg': '[buildout]\nparts = x\n[x]\nrecipe = zc.recipe.egg\n',
    'native/buildout.cfg': '[buildout]\nparts = d\n[d]\nrecipe = slapos.cookbook:mkdirectory\n',
  });
  const buildout = join(dir.path, 'software', 'bin', 'buildout');
  await chmod(buildout, 0o755);
  return { software: join(dir.path, 'software'), partition: join(dir.path, 'partition'), buildout };
}

test("the release's buildout runs as slapgrid runs it: -U, in the partition, umask 027, HOME = the partition, clean env", async () => {
  const dir = await tempDir();
  try {
    const { partition, buildout } = await fakeRelease(dir);
    const events: BuildoutEvent[] = [];
    await runReleaseBuildout({ buildout, directory: partition, onProgress: (event) => events.push(event) });
    const { args, values, env } = readRecord(await readFile(join(partition, 'record.txt'), 'utf8'));
    assert.equal(values.get('argv0'), buildout);
    assert.deepEqual(args, ['-U']);
    assert.equal(values.get('cwd'), partition);
    assert.equal(values.get('umask'), '0027');
    assert.equal(env.get('HOME'), partition);
    assert.equal(env.get('PYTHONNOUSERSITE'), 'true');
    assert.equal(env.has('LANG'), false);
    assert.equal(env.has('PYTHONPATH'), false);
    assert.ok((await stat(join(partition, '.installed.cfg'))).isFile());
    assert.deepEqual(
      events.filter((e) => e.type === 'output').map((e) => [e.stream, e.line]),
      [
        ['stdout', 'Installing instance-profile.'],
        ['stderr', 'a warning on stderr'],
      ],
    );
  } finally {
    await dir.remove();
  }
});

test("a non-zero exit of the release's buildout fails the run with its output; a run past its deadline is killed", async () => {
  const dir = await tempDir();
  try {
    const { software, partition, buildout } = await fakeRelease(dir);
    await dir.write({ 'software/exit-status': '3\n' });
    const error = await rejectsWithSlapError(
      runReleaseBuildout({ buildout, directory: partition, onProgress: () => undefined }),
      'SLAP_ERR_BUILDOUT_FAILED',
      /Failed to run buildout profile in directory/,
    );
    assert.match(error.message, /exit 3/);
    assert.match(error.message, /While: Installing instance-profile\. Error: boom/);
    assert.match(error.message, /Installing instance-profile\./);
    await dir.write({ 'software/bin/buildout': '#!/bin/sh\nsleep 30\n' });
    await rejectsWithSlapError(
      runReleaseBuildout({ buildout, directory: partition, timeoutMs: 200, onProgress: () => undefined }),
      'SLAP_ERR_TIMEOUT',
    );
    assert.ok(software);
  } finally {
    await dir.remove();
  }
});

test('instance_buildout: native, release and auto (native only when every recipe of the profile is)', async () => {
  const dir = await tempDir();
  try {
    const { software, partition, buildout } = await fakeRelease(dir);
    const profile = join(partition, 'buildout.cfg');
    const choose = (mode: 'auto' | 'native' | 'release', configFile = profile) =>
      chooseInstanceEngine(mode, { software, profile: configFile, directory: partition });
    assert.equal((await choose('native')).kind, 'native');
    assert.deepEqual(await choose('auto'), {
      kind: 'release',
      buildout,
      reason: '[x] recipe = zc.recipe.egg is not native',
    });
    assert.equal((await choose('release', join(dir.path, 'native', 'buildout.cfg'))).kind, 'release');
    assert.equal((await choose('auto', join(dir.path, 'native', 'buildout.cfg'))).kind, 'native');
    // A profile the engine cannot read goes to the release's buildout.
    await dir.write({ 'partition/broken.cfg': '[buildout]\nextends = missing.cfg\n' });
    const broken = await choose('auto', join(partition, 'broken.cfg'));
    assert.equal(broken.kind, 'release');
    assert.match(broken.reason, /cannot read the profile/);
    // Without bin/buildout: the engine; `release` is an error naming the option.
    const bare = join(dir.path, 'bare');
    assert.equal(
      (await chooseInstanceEngine('auto', { software: bare, profile, directory: partition })).kind,
      'native',
    );
    await rejectsWithSlapError(
      chooseInstanceEngine('release', { software: bare, profile, directory: partition }),
      'SLAP_ERR_SOFTWARE_NOT_INSTALLED',
      /instance_buildout = release/,
    );
  } finally {
    await dir.remove();
  }
});

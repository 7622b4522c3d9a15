import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadProfile } from '../../buildout/engine.ts';
import { SlapError } from '../../core/errors.ts';
import { tempDir } from '../../testing/buildout.ts';
import { hostileString, seededRandom } from '../../testing/hostile-strings.ts';
import { instanceBuildoutTail, instanceProfile, type InstanceTailInput } from './buildout-tail.ts';

const INPUT: InstanceTailInput = {
  computerId: 'COMP-1',
  partitionId: 'slappart3',
  serverUrl: 'http://127.0.0.1:8080/',
  softwareReleaseUrl: 'https://example.com/software.cfg',
  keyFile: '',
  certFile: '',
  sharedPartList: ['/opt/shared'],
  buildTimePartList: [],
  requestedState: 'started',
  storageHome: '',
  globalIpv4Network: '',
};

test('a hostile software release URL or partition id reads back exactly from the tail, or is refused', async () => {
  const dir = await tempDir();
  try {
    const random = seededRandom(11);
    let accepted = 0;
    for (let i = 0; i < 300; i++) {
      const url = `http://h/${hostileString(random, 5)}`;
      const partitionId = hostileString(random, 3) || 'p';
      let tail: string;
      try {
        tail = instanceBuildoutTail({ ...INPUT, softwareReleaseUrl: url, partitionId });
      } catch (error) {
        assert.ok(error instanceof SlapError && error.code === 'SLAP_ERR_PROFILE', String(error));
        continue;
      }
      accepted++;
      const file = join(dir.path, 'buildout.cfg');
      await writeFile(file, instanceProfile('[buildout]\nparts =\n', tail));
      const profile = await loadProfile({ configFile: file });
      assert.equal(await profile.get('slap-connection', 'software-release-url'), url, JSON.stringify(url));
      assert.equal(await profile.get('slap_connection', 'software_release_url'), url);
      assert.equal(await profile.get('slap-connection', 'partition-id'), partitionId);
      assert.equal(await profile.get('slap-connection', 'requested-state'), 'started');
      assert.equal(await profile.get('buildout', 'parts'), '');
      assert.deepEqual(profile.buildout.sectionNames().sort(), [
        'buildout',
        'network-information',
        'slap-connection',
        'slap_connection',
        'storage-configuration',
        'versions',
      ]);
    }
    assert.ok(accepted > 30, `only ${accepted} accepted`);
  } finally {
    await dir.remove();
  }
});

test('master-api: written into [slap-connection] when the node does not probe (json, legacy), else left out', async () => {
  const dir = await tempDir();
  try {
    const file = join(dir.path, 'buildout.cfg');
    for (const api of ['json', 'legacy'] as const) {
      await writeFile(
        file,
        instanceProfile('[buildout]\nparts =\n', instanceBuildoutTail({ ...INPUT, masterApi: api })),
      );
      assert.equal(await (await loadProfile({ configFile: file })).get('slap-connection', 'master-api'), api);
    }
    for (const masterApi of [undefined, 'auto'] as const)
      assert.ok(!instanceBuildoutTail({ ...INPUT, masterApi }).includes('master-api'));
  } finally {
    await dir.remove();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProfile } from '../../buildout/parser.ts';
import { instanceBuildoutTail, instanceProfile } from './buildout-tail.ts';
import { isUpToDate } from './partition-files.ts';

test('skip rule: same marker within the periodicity; 0 always processes; negative never expires', () => {
  const timestamp = { marker: '100-abc', at: 1000 };
  const now = 1000 + 3600;
  assert.equal(isUpToDate({ marker: '100-abc', timestamp, periodicity: 86400, now }), true);
  assert.equal(isUpToDate({ marker: '101-abc', timestamp, periodicity: 86400, now }), false, 'changed');
  assert.equal(isUpToDate({ marker: '100-abc', timestamp: undefined, periodicity: 86400, now }), false);
  assert.equal(
    isUpToDate({ marker: '100-abc', timestamp, periodicity: 60, now }),
    false,
    'periodicity elapsed',
  );
  assert.equal(isUpToDate({ marker: '100-abc', timestamp, periodicity: 0, now }), false);
  assert.equal(isUpToDate({ marker: '100-abc', timestamp, periodicity: -1, now: now * 10 }), true);
});

test('the instance profile tail: the sections and keys of node.md §4.4', () => {
  const tail = instanceBuildoutTail({
    computerId: 'COMP-1',
    partitionId: 'slappart3',
    serverUrl: 'http://127.0.0.1:8080/',
    softwareReleaseUrl: 'https://example.com/software.cfg',
    keyFile: '/srv/pki/slappart3.key',
    certFile: '/srv/pki/slappart3.crt',
    sharedPartList: ['/opt/shared-ro', '/opt/shared'],
    buildTimePartList: [],
    requestedState: 'started',
    storageHome: '',
    globalIpv4Network: '10.0.0.0/8',
  });
  const profile = instanceProfile('[buildout]\nparts = a\n', tail);
  assert.ok(profile.startsWith('[buildout]\nparts = a\n\n\n# This is beginning'));
  const sections = parseProfile(profile, 'buildout.cfg', { evaluateCondition: () => true });
  const section = (name: string): Record<string, string> =>
    Object.fromEntries([...(sections.get(name) ?? [])].map(([key, option]) => [key, option.value]));
  assert.deepEqual(section('buildout'), {
    parts: 'a',
    'bin-directory': '${buildout:directory}/sbin',
    offline: 'true',
  });
  assert.deepEqual(section('slap-connection'), {
    'computer-id': 'COMP-1',
    'partition-id': 'slappart3',
    'server-url': 'http://127.0.0.1:8080/',
    'software-release-url': 'https://example.com/software.cfg',
    'key-file': '/srv/pki/slappart3.key',
    'cert-file': '/srv/pki/slappart3.crt',
    'shared-part-list': '/opt/shared-ro\n/opt/shared',
    'build-time-part-list': '',
    'requested-state': 'started',
  });
  assert.deepEqual(section('slap_connection'), {
    computer_id: 'COMP-1',
    partition_id: 'slappart3',
    server_url: 'http://127.0.0.1:8080/',
    software_release_url: 'https://example.com/software.cfg',
    key_file: '/srv/pki/slappart3.key',
    cert_file: '/srv/pki/slappart3.crt',
  });
  assert.deepEqual(section('storage-configuration'), { 'storage-home': '' });
  assert.deepEqual(section('network-information'), { 'global-ipv4-network': '10.0.0.0/8' });
});

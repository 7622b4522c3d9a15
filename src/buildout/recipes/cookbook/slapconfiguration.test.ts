import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadProfile } from '../../engine.ts';
import { fromJs } from '../../py-value.ts';
import { closedPort, profileRunner, tempDir } from '../../../testing/buildout.ts';
import { rejectsWithSlapError } from '../../../testing/slap-error-assert.ts';
import { instanceFixture, slapgridTail } from '../../../testing/slapgrid.ts';

const SECTION = `[instance-parameter]
recipe = slapos.cookbook:slapconfiguration
computer = \${slap-connection:computer-id}
partition = \${slap-connection:partition-id}
url = \${slap-connection:server-url}
key = \${slap-connection:key-file}
cert = \${slap-connection:cert-file}
storage-home = \${storage-configuration:storage-home}
configuration.name = World
configuration.other = default-other
`;

test('slapconfiguration sets every key of profiles.md §3.12 from the master during init', async () => {
  const fixture = await instanceFixture({ parameters: { name: 'Alice', 'a:b': 'x', port: '8080' } });
  const storage = await tempDir('slapos-storage-');
  try {
    const { env, dir } = fixture;
    await env.client.requestInstance({
      title: 'shared1',
      softwareReleaseUri: fixture.softwareReleaseUrl,
      softwareType: 'default',
      shared: true,
      parameters: { url: 'http://x', n: 3 },
    });
    await mkdir(join(storage.path, 'disk1', fixture.partitionId), { recursive: true });
    await mkdir(join(storage.path, 'disk2', 'otherpart'), { recursive: true });
    await writeFile(
      join(dir.path, '.slapos-resource'),
      JSON.stringify({
        reference: 'from-resource-file',
        address_list: [{ addr: '127.0.1.1', netmask: '255.0.0.0' }],
        tap: { name: '', ipv4_addr: '' },
        tun: null,
        user: { name: 'me' },
      }),
    );
    const tail = slapgridTail({
      computerId: 'computer',
      partitionId: fixture.partitionId,
      serverUrl: env.url,
      softwareReleaseUrl: fixture.softwareReleaseUrl,
      storageHome: storage.path,
    });
    await writeFile(join(dir.path, 'buildout.cfg'), `[buildout]\nparts =\n${SECTION}\n${tail}`);
    const profile = await loadProfile({ configFile: join(dir.path, 'buildout.cfg') });
    const options = await profile.section('instance-parameter');
    const value = (key: string): unknown => options.getValue(key);

    assert.equal(value('configuration.name'), 'Alice', 'a parameter overrides the default');
    assert.equal(value('configuration.other'), 'default-other');
    assert.equal(value('configuration.port'), '8080');
    assert.equal(options.has('configuration.a:b'), false, 'keys buildout cannot hold are left out');
    assert.deepEqual(value('configuration'), fromJs({ name: 'Alice', 'a:b': 'x', port: '8080' }));
    assert.equal(value('instance-state'), 'started');
    assert.equal(value('slap-software-type'), 'default');
    assert.equal(value('slap-computer-id'), 'computer');
    assert.equal(value('slap-computer-partition-id'), fixture.partitionId);
    assert.equal(value('slap-software-release-url'), fixture.softwareReleaseUrl);
    assert.equal(value('instance-title'), 'my-instance');
    assert.equal(value('root-instance-title'), 'my-instance');
    assert.equal(value('root-instance-short-title'), 'UNKNOWN');
    assert.equal(value('instance-guid'), 'my-instance______0');
    assert.match(String(value('timestamp')), /^\d+$/);
    assert.deepEqual(value('ipv4'), fromJs(new Set(['127.0.1.1'])));
    assert.equal(value('ipv4-random'), '127.0.1.1');
    assert.deepEqual(value('ipv6'), fromJs(new Set()));
    assert.equal(options.has('ipv6-random'), false, 'no IPv6 address: no ipv6-random');
    assert.deepEqual(
      value('slave-instance-list'),
      fromJs([
        {
          slave_title: 'shared1',
          slap_software_type: 'default',
          slave_reference: 'shared1______1',
          url: 'http://x',
          n: 3,
        },
      ]),
    );
    const link = join(dir.path, 'DATA', 'disk1');
    assert.deepEqual(value('storage-dict'), fromJs({ disk1: link }));
    assert.ok((await lstat(link)).isSymbolicLink());
    assert.equal(await readlink(link), join(storage.path, 'disk1', fixture.partitionId));
    // The partition resource file, flattened, for keys not already set.
    assert.equal(value('tap-name'), '');
    assert.equal(value('tap-ipv4-addr'), '');
    assert.equal(value('tun'), null);
    assert.equal(value('user-name'), 'me');
    assert.equal(value('reference'), 'from-resource-file');
    assert.deepEqual(value('address-list'), fromJs([{ addr: '127.0.1.1', netmask: '255.0.0.0' }]));
  } finally {
    await storage.remove();
    await fixture.close();
  }
});

test('slapconfiguration.serialised unwraps json-in-xml parameters; a run references them', async () => {
  const fixture = await instanceFixture({
    parameters: { _: JSON.stringify({ name: 'Bob', list: [1, 2], nested: { a: true } }) },
  });
  try {
    const { dir } = fixture;
    const { run } = profileRunner(dir.path);
    const profile = `[buildout]\nparts = out\n${SECTION.replace('slapconfiguration', 'slapconfiguration.serialised')}
[out]
recipe = slapos.recipe.template
inline = \${instance-parameter:configuration.name} \${instance-parameter:ipv4-random}
output = \${buildout:directory}/out.txt
[check]
list = \${instance-parameter:configuration.list}
\n${fixture.tail}`;
    const first = await run(profile);
    assert.deepEqual(first.installed, ['instance-parameter', 'out']);
    const profileView = await loadProfile({ configFile: join(dir.path, 'buildout.cfg') });
    const options = await profileView.section('instance-parameter');
    assert.deepEqual(
      options.getValue('configuration'),
      fromJs({ name: 'Bob', list: [1, 2], nested: { a: true } }),
    );
    assert.deepEqual((await profileView.section('check')).getValue('list'), [1n, 2n]);
    // Nothing changed on the master: nothing reinstalled.
    const second = await run(profile);
    assert.deepEqual(second.installed, []);
  } finally {
    await fixture.close();
  }
});

test('slapconfiguration: an unreachable master, a free partition, a missing connection fail clearly', async () => {
  const fixture = await instanceFixture();
  try {
    const { dir } = fixture;
    const { run } = profileRunner(dir.path);
    const port = await closedPort();
    const unreachable = slapgridTail({
      computerId: 'computer',
      partitionId: fixture.partitionId,
      serverUrl: `http://127.0.0.1:${port}`,
      softwareReleaseUrl: fixture.softwareReleaseUrl,
    });
    await rejectsWithSlapError(
      run(`[buildout]\nparts = instance-parameter\n${SECTION}\n${unreachable}`),
      'SLAP_ERR_UNAVAILABLE',
      /Initializing part instance-parameter \(slapos\.cookbook:slapconfiguration\): .*127\.0\.0\.1:\d+/,
    );
    const free = slapgridTail({
      computerId: 'computer',
      partitionId: 'slappart2',
      serverUrl: fixture.env.url,
      softwareReleaseUrl: fixture.softwareReleaseUrl,
    });
    await rejectsWithSlapError(
      run(`[buildout]\nparts = instance-parameter\n${SECTION}\n${free}`),
      'SLAP_ERR_PARTITION_NOT_FOUND',
      /instance-parameter/,
    );
    await rejectsWithSlapError(
      run('[buildout]\nparts = p\n[p]\nrecipe = slapos.cookbook:slapconfiguration\ncomputer = c\n'),
      'SLAP_ERR_PROFILE',
      /p:server-url: missing option "server-url" of \[p\]/,
    );
  } finally {
    await fixture.close();
  }
});

/**
 * examples/hello end to end, the way a node deploys it: a sandbox node formatted against a real
 * master, the software release built with `slapos buildout` in a software directory, an instance
 * requested, its profile run in the partition with the slapgrid tail, the connection parameters
 * published, the service started by hand and answering, the promise passing, and a second run with
 * nothing changed spawning no process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { runBuildout } from '../src/buildout/engine.ts';
import type { ExecFunction } from '../src/buildout/recipe.ts';
import { createMasterClient } from '../src/client/master-api.ts';
import { execFile } from '../src/lib/exec.ts';
import { runPromises } from '../src/node/promise/run-promises.ts';
import {
  buildSoftware,
  formatSandboxNode,
  startService,
  stopService,
} from '../src/testing/example-release.ts';
import { startTestMaster } from '../src/testing/master.ts';
import { makeTempDir } from '../src/testing/node.ts';
import { preparePartition } from '../src/testing/slapgrid.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/hello/', import.meta.url));
const COMPUTER = 'COMP-HELLO';

/** GETs `url` until it answers (30 s deadline): the service needs a moment to listen. */
async function fetchWhenUp(url: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await request(url, { signal: AbortSignal.timeout(5_000) });
      const text = await response.body.text();
      if (response.statusCode === 200) return text;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('examples/hello: software release, instance against a real master, service answering Hello <name>!', async () => {
  const root = await makeTempDir('slapos-hello-');
  const master = await startTestMaster({ computerId: COMPUTER });
  const client = createMasterClient({ api: 'json', masterUrl: master.url });
  const services: ChildProcess[] = [];
  try {
    // A sandbox compute node, registered on the master.
    await formatSandboxNode(root, COMPUTER, master.url, '127.93.0.0/24');

    // Software time: `extends = <software.cfg>` in <software_root>/<md5(url)>, as the node does.
    const softwareUrl = join(EXAMPLE, 'software.cfg');
    const softwareDir = await buildSoftware(root, softwareUrl);
    const instanceProfile = await readFile(join(softwareDir, 'instance.cfg'), 'utf8');
    assert.ok(
      instanceProfile.includes(`${process.execPath} ${join(softwareDir, 'parts/hello-server/hello.mjs')}`),
    );
    assert.ok(instanceProfile.includes('[hello-web-promise]'), 'the Jinja2 macro expanded');

    // The instance, requested and run in its partition with the slapgrid tail.
    const instance = await client.requestInstance({
      title: 'hello',
      softwareReleaseUri: softwareUrl,
      parameters: { name: 'Alice' },
    });
    const partitionId = instance.compute_partition_id;
    const partition = join(root, 'srv', partitionId);
    const profile = await preparePartition({
      partitionDir: partition,
      softwareDir,
      computerId: COMPUTER,
      partitionId,
      serverUrl: master.url,
      softwareReleaseUrl: softwareUrl,
    });
    const spawned: string[] = [];
    const exec: ExecFunction = (file, args, options) => {
      spawned.push([file, ...args].join(' '));
      return execFile(file, args, options);
    };
    const first = await runBuildout({ configFile: profile, exec });
    assert.deepEqual(
      new Set(first.installed),
      new Set([
        'directory',
        'instance-parameter',
        'hello-port',
        'hello-web',
        'publish-connection-parameter',
        'hello-web-promise',
      ]),
    );

    const published = (await client.getInstance(instance.instance_guid)).connection_parameters;
    assert.equal(published.name, 'Hello Alice!');
    const url = published.url as string;
    assert.match(url, /^http:\/\/127\.93\.0\.\d+:(\d+)$/);
    const wrapper = join(partition, 'etc/service/hello-web');
    assert.ok(existsSync(wrapper));
    assert.deepEqual(JSON.parse(await readFile(join(partition, 'etc/promise.d/hello-web.json'), 'utf8')), {
      kind: 'socket',
      host: new URL(url).hostname,
      port: Number(new URL(url).port),
      description: '[hello-web-promise] slapos.cookbook:promise.plugin check_socket_listening',
    });

    // The service, started by hand as the supervisor would, answers; its promise passes.
    const before = await runPromises(partition, { mode: 'test', force: true, timeout: 20 });
    assert.equal(before.ok, false, 'nothing listens yet');
    services.push(startService(wrapper));
    assert.equal(await fetchWhenUp(`${url}/`), 'Hello Alice!\n');
    const after = await runPromises(partition, { mode: 'test', force: true, timeout: 20 });
    assert.equal(after.ok, true, JSON.stringify(after.failures));
    assert.match(await readFile(join(partition, 'var/log/hello-web.log'), 'utf8'), /GET \//);

    // A second run with nothing changed: no process spawned, nothing reinstalled or rewritten.
    const files = [
      wrapper,
      join(partition, 'etc/promise.d/hello-web.json'),
      join(partition, '.installed.cfg'),
    ];
    const mtimes = await Promise.all(files.map(async (file) => (await stat(file)).mtimeMs));
    const second = await runBuildout({ configFile: profile, exec });
    assert.deepEqual(second.installed, []);
    assert.deepEqual(spawned, []);
    assert.deepEqual(await Promise.all(files.map(async (file) => (await stat(file)).mtimeMs)), mtimes);

    // A new name: the wrapper is rewritten (same port, kept by free_port) and republished.
    await client.requestInstance({
      title: 'hello',
      softwareReleaseUri: softwareUrl,
      parameters: { name: 'Bob' },
    });
    const third = await runBuildout({ configFile: profile, exec });
    assert.ok(third.installed.includes('hello-web'));
    assert.deepEqual((await client.getInstance(instance.instance_guid)).connection_parameters, {
      name: 'Hello Bob!',
      url,
    });
    await stopService(services.pop() as ChildProcess);
    services.push(startService(wrapper));
    assert.equal(await fetchWhenUp(`${url}/`), 'Hello Bob!\n');
  } finally {
    for (const service of services) await stopService(service);
    await client.close();
    await master.close();
    await rm(root, { recursive: true, force: true });
  }
});

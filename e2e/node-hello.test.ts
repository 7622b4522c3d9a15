/**
 * examples/hello through the node's own passes: `node software` builds it, `node instance` deploys
 * it (slapconfiguration, free_port, wrapper, promise, publish from the cookbook), the supervisor runs
 * its service, which answers; a changed parameter reaches the running service; destroyed frees it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecFunction } from '../src/buildout/recipe.ts';
import { execFile } from '../src/lib/exec.ts';
import { runInstancePass } from '../src/node/instance/instance-pass.ts';
import { runSoftwarePass } from '../src/node/software/software-pass.ts';
import { COMPUTER_ID, startNodeHarness } from '../src/testing/node-passes.ts';
import { waitFor } from '../src/testing/supervisor.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/hello/software.cfg', import.meta.url));

async function answer(url: string, expected: string): Promise<string> {
  return waitFor(`${url} answering ${expected}`, async () => {
    try {
      const text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
      return text === expected ? text : undefined;
    } catch {
      return undefined;
    }
  });
}

test('examples/hello deployed by node software and node instance, served by the supervisor', async () => {
  const h = await startNodeHarness({ partitions: 2 });
  try {
    // A release extending the example, pinning the Node.js of this test run (as a user would).
    const release = join(h.dir, 'releases', 'hello-here');
    await mkdir(release, { recursive: true });
    const url = join(release, 'software.cfg');
    await writeFile(url, `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`);
    await h.client.supply({ softwareReleaseUri: url, computerGuid: COMPUTER_ID });
    const software = await runSoftwarePass(h.config, { master: h.client });
    assert.deepEqual(
      software.items.map((i) => [i.outcome, i.error?.message]),
      [['installed', undefined]],
    );

    const instance = await h.client.requestInstance({
      title: 'hello',
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
    const published = (await h.client.getInstance(instance.instance_guid)).connection_parameters;
    assert.equal(published.name, 'Hello Alice!');
    const address = published.url as string;
    assert.equal(await answer(`${address}/`, 'Hello Alice!\n'), 'Hello Alice!\n');
    const status = (await h.supervisor.status()).processes.filter((p) => p.group === partition);
    assert.deepEqual(
      status.map((p) => [p.name, p.state]),
      [['hello-web-on-watch', 'RUNNING']],
    );
    assert.equal(h.db.instance('hello')?.reported_state, 'started');

    const spawned: string[] = [];
    const exec: ExecFunction = (file, args, execOptions) => {
      spawned.push(file);
      return execFile(file, args, execOptions);
    };
    const again = await runInstancePass(h.config, { ...options, exec });
    assert.deepEqual(
      again.items.map((i) => i.outcome),
      ['up-to-date'],
    );
    assert.deepEqual(spawned, []);

    // A new name: the instance profile rewrites the wrapper; the supervisor restarts the service.
    await h.client.requestInstance({ title: 'hello', softwareReleaseUri: url, parameters: { name: 'Bob' } });
    const changed = await runInstancePass(h.config, options);
    assert.deepEqual(
      changed.items.map((i) => i.outcome),
      ['started'],
    );
    assert.equal(await answer(`${address}/`, 'Hello Bob!\n'), 'Hello Bob!\n');
    assert.equal(
      (await h.client.getInstance(instance.instance_guid)).connection_parameters.name,
      'Hello Bob!',
    );

    await h.client.requestInstance({ title: 'hello', softwareReleaseUri: url, state: 'destroyed' });
    const destroyed = await runInstancePass(h.config, options);
    assert.deepEqual(
      destroyed.items.map((i) => i.outcome),
      ['destroyed'],
    );
    assert.deepEqual(await readdir(join(h.config.instanceRoot, partition)), ['.slapos-resource']);
    assert.equal(h.db.partition(partition)?.slap_state, 'free');
  } finally {
    await h.close();
  }
});

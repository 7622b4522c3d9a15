/**
 * examples/hello through the node's own passes: `node software` builds it, `node instance` deploys
 * it (slapconfiguration, free_port, wrapper, promise, publish from the cookbook), the supervisor runs
 * its service, which answers; a changed parameter reaches the running service; destroyed frees it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecFunction } from '../src/buildout/recipe.ts';
import { execFile } from '../src/lib/exec.ts';
import { runInstancePass } from '../src/node/instance/instance-pass.ts';
import { installHelloRelease, waitForExactAnswer } from '../src/testing/hello-release.ts';
import { startNodeHarness } from '../src/testing/node-passes.ts';

test('examples/hello deployed by node software and node instance, served by the supervisor', async () => {
  const h = await startNodeHarness({ partitions: 2 });
  try {
    const url = await installHelloRelease(h);

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
    assert.equal(await waitForExactAnswer(`${address}/`, 'Hello Alice!\n'), 'Hello Alice!\n');
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
    assert.equal(await waitForExactAnswer(`${address}/`, 'Hello Bob!\n'), 'Hello Bob!\n');
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

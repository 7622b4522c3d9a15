/**
 * Several masters behind haproxy on one PostgreSQL database (a fresh one in the test run's cluster,
 * $SLAPOS_TEST_POSTGRES, migrated by the first master): a standalone-style node (`slapos node run`) and the
 * CLI know only haproxy's URL; the hello example deploys while one of the three masters is killed
 * (SIGKILL), and every write a master acknowledged meanwhile is there at the end. The same instance
 * request sent at once to two masters creates one instance on one partition.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MasterClient } from '../src/client/master-client.ts';
import { createMasterClient } from '../src/client/master-api.ts';
import { slaposBinPath } from '../src/lib/package-root.ts';
import { loadNodeConfig } from '../src/node/config.ts';
import { SupervisorClient } from '../src/node/supervisor/client.ts';
import { supervisorPaths } from '../src/node/supervisor/paths.ts';
import { spawnDetached, terminate } from '../src/standalone/processes.ts';
import { runSlapos } from '../src/testing/cli.ts';
import { isolatedClientEnv } from '../src/testing/client-env.ts';
import { waitForExactAnswer } from '../src/testing/hello-release.ts';
import { startMasterCluster, type MasterCluster } from '../src/testing/master-cluster.ts';
import { writeSandboxCfg } from '../src/testing/node.ts';
import { startRecordedWriter } from '../src/testing/recorded-writes.ts';
import { shortTempDir, waitForPublication } from '../src/testing/standalone.ts';
import { createTestPostgresDatabase, type TestDatabase } from '../src/testing/test-database.ts';
import { waitFor } from '../src/testing/supervisor.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/hello/software.cfg', import.meta.url));
const NODE = 'COMP-MULTI';

let dir: string;
let database: TestDatabase & { location: { kind: 'postgres' } };
let cluster: MasterCluster;
let client: MasterClient;

before(async () => {
  dir = await shortTempDir('mm-');
  await mkdir(join(dir, 'masters'));
  database = await createTestPostgresDatabase({ empty: true });
  cluster = await startMasterCluster({
    dir: join(dir, 'masters'),
    database: database.location.uri,
    computerId: NODE,
  });
  client = createMasterClient({ api: 'json', masterUrl: cluster.url });
});

after(async () => {
  await client?.close();
  await cluster?.close();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** A compute node with `count` partitions, formatted through `through`. */
async function formatNode(through: MasterClient, computerGuid: string, count: number): Promise<void> {
  await through.formatComputeNode({
    computerGuid,
    partitions: Array.from({ length: count }, (_, index) => ({
      reference: `slappart${index}`,
      addresses: [{ address: `127.0.2.${index + 1}`, networkInterface: 'lo', netmask: '255.0.0.0' }],
    })),
  });
}

test('the hello example deploys through haproxy while a master is killed; no acknowledged write is lost', async (t) => {
  const env = isolatedClientEnv({ SLAPOS_MASTER_URL: cluster.url });
  const nodeDir = join(dir, 'node');
  await mkdir(nodeDir);
  const cfg = await writeSandboxCfg(nodeDir, {
    slapos: {
      computer_id: NODE,
      master_url: cluster.url,
      software_min_free_space: '0',
      instance_min_free_space: '0',
      agent_retry_delay: 0.2,
      agent_retry_max_delay: 1,
    },
    slapformat: { partition_amount: 2, sandbox_ipv4_network: '127.95.0.0/24' },
  });
  const config = await loadNodeConfig({ cfg, isRoot: false });
  const format = await runSlapos(['node', 'format', '--now', '--cfg', cfg], { env });
  assert.equal(format.code, 0, format.stderr);

  // Load: instance requests on another compute node, through haproxy, all along.
  await formatNode(client, 'COMP-LOAD', 40);
  const writer = startRecordedWriter(client, {
    computerGuid: 'COMP-LOAD',
    titles: 40,
    softwareReleaseUri: 'https://example.invalid/load.cfg',
  });

  const release = join(dir, 'releases', 'hello-here');
  await mkdir(release, { recursive: true });
  const url = join(release, 'software.cfg');
  await writeFile(url, `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`);
  const supply = await runSlapos(['supply', url, NODE], { env });
  assert.equal(supply.code, 0, supply.stderr);

  const logFile = join(nodeDir, 'node-run.log');
  const agent = await spawnDetached([slaposBinPath(), 'node', 'run', '--cfg', cfg], {
    logFile,
    cwd: nodeDir,
  });
  try {
    const agentAlive = async (): Promise<void> => {
      if (agent.exited() !== undefined)
        throw new Error(`node run exited: ${await readFile(logFile, 'utf8')}`);
    };
    // Mid-way: the node has begun with the software release; one master dies.
    await waitFor(
      'the node to report on the software release',
      async () => {
        await agentAlive();
        const statuses = await client.listSoftwareInstallationStatuses(NODE).catch(() => undefined);
        return (statuses ?? []).some((s) => s.software_release_uri === url && s.status !== 'requested');
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    await cluster.kill(1);

    const request = await runSlapos(
      ['request', 'hello', url, '--node', `computer_guid=${NODE}`, '--parameters', 'name=Alice'],
      { env },
    );
    assert.equal(request.code, 0, request.stderr);
    const published = await waitForPublication(
      'hello',
      async () => {
        await agentAlive();
        return client.getInstanceTree('hello');
      },
      'url',
      { timeoutMs: 120_000 },
    );
    assert.equal(published.name, 'Hello Alice!');
    assert.equal(await waitForExactAnswer(`${String(published.url)}/`, 'Hello Alice!\n'), 'Hello Alice!\n');
    const info = await runSlapos(['service', 'info', 'hello', '--json'], { env });
    assert.equal(info.code, 0, info.stderr);
    assert.equal(
      (JSON.parse(info.stdout) as { connection_parameters: { name: string } }).connection_parameters.name,
      'Hello Alice!',
    );
  } finally {
    await writer.stop();
    await terminate(agent.pid, 10_000);
    await new SupervisorClient({ socketPath: supervisorPaths(config.instanceRoot).socket })
      .shutdown({ stopPrograms: true })
      .catch(() => undefined);
  }

  t.diagnostic(
    `${writer.sent()} requests sent, ${writer.acknowledged.size} titles acknowledged, failures: ${JSON.stringify([...writer.failures])}`,
  );
  // Every acknowledged write is there, read back through the masters left.
  await writer.assertAcknowledgedPresent(client);
});

test('the same instance request sent at once to two masters creates one instance on one partition', async () => {
  const [first, second] = cluster.running();
  assert.ok(first && second, 'two masters are running');
  const clients = [first, second].map((master) => createMasterClient({ api: 'json', masterUrl: master.url }));
  try {
    await formatNode(clients[0] as MasterClient, 'COMP-RACE', 60);
    for (let round = 0; round < 50; round++) {
      const title = `race-${round}`;
      const answers = await Promise.all(
        clients.map((raced) =>
          raced.requestInstance({
            title,
            softwareReleaseUri: 'https://example.invalid/race.cfg',
            slaParameters: { computer_guid: 'COMP-RACE' },
          }),
        ),
      );
      const [a, b] = answers;
      assert.equal(a?.instance_guid, b?.instance_guid, `${title}: one instance`);
      assert.equal(a?.compute_partition_id, b?.compute_partition_id, `${title}: one partition`);
    }
    const allocated = await client.listComputeNodeInstances('COMP-RACE');
    assert.equal(allocated.length, 50);
    assert.equal(new Set(allocated.map((i) => i.compute_partition_id)).size, 50);
    assert.deepEqual(
      allocated.map((i) => i.title).sort(),
      Array.from({ length: 50 }, (_, round) => `race-${round}`).sort(),
    );
  } finally {
    await Promise.all(clients.map((raced) => raced.close()));
  }
});

test('a node watching the change stream through one master is woken by a write through another', async () => {
  const [watched, written] = cluster.running();
  assert.ok(watched && written, 'two masters are running');
  const watching = createMasterClient({ api: 'json', masterUrl: watched.url });
  const writing = createMasterClient({ api: 'json', masterUrl: written.url });
  try {
    await formatNode(writing, 'COMP-WATCH', 2);
    await formatNode(writing, 'COMP-IDLE', 1);
    const watch = (computerGuid: string, afterRevision: number, timeoutMs: number) =>
      watching.watchComputeNode({ computerGuid, afterRevision, timeoutMs });
    const { revision } = await watch('COMP-WATCH', 0, 0);
    const idle = await watch('COMP-IDLE', 0, 0);
    const order: string[] = [];
    // A watch of a node nothing changes: it answers when its time is up, long after a woken watch.
    const sentinel = watch('COMP-IDLE', idle.revision, 20_000).then((answer) => {
      order.push('the idle node timed out');
      return answer;
    });
    const woken = watch('COMP-WATCH', revision, 45_000).then((answer) => {
      order.push('the watched node woke');
      return answer;
    });
    await writing.requestInstance({
      title: 'watched',
      softwareReleaseUri: 'https://example.invalid/watched.cfg',
      slaParameters: { computer_guid: 'COMP-WATCH' },
    });
    const [answer, idleAnswer] = await Promise.all([woken, sentinel]);
    assert.ok(answer.revision > revision, `revision ${answer.revision} after ${revision}`);
    assert.equal(idleAnswer.revision, idle.revision);
    assert.deepEqual(order, ['the watched node woke', 'the idle node timed out']);
  } finally {
    await Promise.all([watching.close(), writing.close()]);
  }
});

/**
 * Two nodes' backup agents against a real master in master mode (each node registered, syncing over
 * its own mutual TLS): a resilient service's main backs up and pushes to its clone's node, the clone
 * restores and the master learns it; a takeover makes the clone the main (settle puts the newest
 * backup in place before its services start, then it backs up to the former main's node) and the
 * former main fenced, then a clone once its services are stopped, restoring what the new main pushes.
 * restic is played in memory (testing/fake-restic.ts): the pushes land in the serving node's
 * repository directory, and the "server" wakes its agent as the real one does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MasterClient } from '../../client/master-client.ts';
import { createMasterClient } from '../../client/master-api.ts';
import type { JsonTransport } from '../../client/json-transport.ts';
import { silentLogger } from '../../lib/logger.ts';
import { FakeRestic } from '../../testing/fake-restic.ts';
import { dataPlan } from '../../testing/backup-partition.ts';
import { startTestMasterMode, type TestMasterMode } from '../../testing/master-mode.ts';
import { registerFormattedNode } from '../../testing/master-mode-node.ts';
import { waitFor } from '../../testing/supervisor.ts';
import { writePartitionRecord } from '../instance/partition-files.ts';
import { BackupAgent, type PartitionServices } from './agent.ts';

const SR = 'https://example.com/software/kv/software.cfg';

interface TestNode {
  guid: string;
  transport: JsonTransport;
  instanceRoot: string;
  directory: string;
  endpoint: string;
  running: Set<string>;
  agent: BackupAgent;
}

let master: TestMasterMode;
let dir: string;
let client: MasterClient;
const restic = new FakeRestic();
const nodes: TestNode[] = [];

const PLAN = dataPlan();

async function registerNode(token: string, n: number): Promise<TestNode> {
  const { guid, transport } = await registerFormattedNode(master, client, token, n, SR);
  const instanceRoot = join(dir, `node${n}`, 'instance');
  for (const p of [0, 1]) {
    await mkdir(join(instanceRoot, `slappart${p}`, 'srv', 'data'), { recursive: true });
    await writeFile(join(instanceRoot, `slappart${p}`, '.slapos-resource'), '{}');
  }
  const directory = join(dir, `node${n}`, 'backup');
  const endpoint = `https://127.0.${n + 1}.1:8700`;
  const running = new Set<string>();
  const services: PartitionServices = {
    stop: (id) => Promise.resolve(void running.delete(id)),
    start: (id) => Promise.resolve(void running.add(id)),
    runningPartitions: () => Promise.resolve(running),
  };
  const agent = new BackupAgent({
    computerId: guid,
    instanceRoot,
    directory,
    // The master's certificate stands for the repository server's own (any PEM certificate).
    repository: { url: endpoint, certificate: master.caPem },
    sync: (body, options) => transport.post('/slapos.post.ext.backup_sync', body, options),
    restic,
    readPlan: () => Promise.resolve(PLAN),
    services,
    logger: silentLogger(),
    heartbeatMs: 3_600_000, // synced by the test
  });
  restic.served.set(`rest:${endpoint}/`, {
    directory: agent.repositoriesDirectory,
    onStored: (repository) => agent.onSnapshot(repository),
  });
  return { guid, transport, instanceRoot, directory, endpoint, running, agent };
}

before(async () => {
  master = await startTestMasterMode();
  dir = await mkdtemp(join(tmpdir(), 'backup-agent-master-'));
  const { token } = await master.admin.addUser({ name: 'alice', admin: false });
  client = createMasterClient({
    api: 'json',
    masterUrl: master.url,
    accessToken: token,
    tls: { ca: master.caPem },
  });
  for (const n of [1, 2]) nodes.push(await registerNode(token, n));
});

after(async () => {
  for (const node of nodes) {
    await node.agent.close({ graceMs: 1000 });
    await node.transport.close();
  }
  await client.close();
  await master.close();
  await rm(dir, { recursive: true, force: true });
});

/** Where each instance is, as the nodes' snapshots say; the partition records follow (a deployment). */
async function deploy(): Promise<Map<string, { node: TestNode; partitionId: string }>> {
  const places = new Map<string, { node: TestNode; partitionId: string }>();
  for (const node of nodes) {
    const snapshot = await node.transport.post('/slapos.get.ext.compute_node_snapshot', {
      computer_guid: node.guid,
    });
    for (const instance of snapshot.compute_partition_list) {
      const root = join(node.instanceRoot, instance.compute_partition_id);
      await writePartitionRecord(root, {
        instanceGuid: instance.instance_guid,
        title: instance.title,
        requestedState: instance.state,
        softwareReleaseUrl: SR,
        reported: instance.state === 'started' ? 'started' : 'stopped',
      });
      // What the instance pass does: services of a started partition run (after settle), others stop.
      if (instance.state === 'started') {
        await node.agent.settle(instance.compute_partition_id);
        node.running.add(instance.compute_partition_id);
      } else node.running.delete(instance.compute_partition_id);
      places.set(instance.title, { node, partitionId: instance.compute_partition_id });
    }
  }
  return places;
}

async function syncAll(): Promise<void> {
  for (const node of nodes) {
    await node.agent.syncOnce();
    await node.agent.idle();
  }
}

const data = (place: { node: TestNode; partitionId: string }, name = 'db'): string =>
  join(place.node.instanceRoot, place.partitionId, 'srv', 'data', name);

test('backups flow from the main to its clone, and back after a takeover', async () => {
  await client.requestInstance({ title: 'kv', softwareReleaseUri: SR, slaParameters: { resilient: 'true' } });
  let places = await deploy();
  const main = places.get('kv');
  const clone = places.get('kv (clone 1)');
  assert.ok(main && clone && main.node !== clone.node, 'placed apart');
  await writeFile(data(main), 'written before the backup');

  // The clone's node reports its endpoint first; then the main has a target and pushes.
  await syncAll();
  await syncAll();
  assert.equal(await readFile(data(clone), 'utf8'), 'written before the backup');
  await syncAll(); // the clone's restore reaches the master
  const listed = await client.listBackups('kv');
  assert.equal(listed.length, 1);
  const first = listed[0]!.backup_id;
  assert.deepEqual(listed[0]!.computer_guid_list, [clone.node.guid]);

  // A takeover: the clone's partition now holds kv (started), the former main's a fenced clone.
  await client.takeOverInstanceTree({ title: 'kv' });
  await syncAll(); // roles learned before the nodes' passes redeploy
  places = await deploy(); // the promoted one settles (nothing newer), then its services start
  const promoted = places.get('kv');
  const fenced = places.get('kv (clone 1)');
  assert.equal(promoted?.node, clone.node);
  assert.equal(fenced?.node, main.node);
  assert.equal(fenced?.node.running.has(fenced.partitionId), false, 'the fenced main is stopped');
  await writeFile(data(promoted), 'written on the new main');
  // The fenced member reports its services stopped: a clone, the new main's target, restoring.
  await waitFor('the former main restores the new main backups', async () => {
    await syncAll();
    try {
      return (await readFile(data(fenced), 'utf8')) === 'written on the new main' ? true : undefined;
    } catch {
      return undefined;
    }
  });
  await syncAll();
  const after = await client.listBackups('kv');
  assert.ok(after.length >= 2, JSON.stringify(after));
  assert.ok(after[0]!.backup_id > first, 'the newest first');
  assert.deepEqual(after[0]!.computer_guid_list, [main.node.guid]);
});

/**
 * `slapos service backup|backups|restore|takeover` against a real master in master mode with three
 * registered compute nodes: a resilient service and its clone, the nodes' side played through the
 * backup sync route over each node's mutual TLS (what the node's backup agent sends), and what the
 * commands print of the master's answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MasterClient } from '../../client/master-client.ts';
import { createMasterClient } from '../../client/master-api.ts';
import type { JsonTransport } from '../../client/json-transport.ts';
import type { Instance, WireResponse } from '../../client/types.ts';
import { runSlapos } from '../../testing/cli.ts';
import { isolatedClientEnv } from '../../testing/client-env.ts';
import { startTestMasterMode, type TestMasterMode } from '../../testing/master-mode.ts';
import { registerFormattedNode } from '../../testing/master-mode-node.ts';
import { partitionReport, type PartitionReport } from '../../testing/backup-sync-report.ts';

const SR = 'https://example.com/software/kv/software.cfg';
const env = isolatedClientEnv();
let master: TestMasterMode;
let dir: string;
let cfg: string;
/** Alice's client (her token). */
let client: MasterClient;
/** Each registered node's transport (its certificate), by its id. */
const nodes = new Map<string, JsonTransport>();

type SyncAnswer = WireResponse<'/slapos.post.ext.backup_sync'>;

/** Registers a compute node of alice's (token, then certificate) and formats two partitions. */
async function registerNode(token: string, n: number): Promise<void> {
  const { guid, transport } = await registerFormattedNode(master, client, token, n, SR);
  nodes.set(guid, transport);
}

before(async () => {
  master = await startTestMasterMode();
  dir = await mkdtemp(join(tmpdir(), 'slapos-service-resilient-'));
  const { token } = await master.admin.addUser({ name: 'alice', admin: false });
  await writeFile(join(dir, 'ca.pem'), master.caPem);
  cfg = join(dir, 'alice.cfg');
  await writeFile(
    cfg,
    `[slapconsole]\nmaster_url = ${master.url}\nmaster_token = ${token}\nmaster_ca_file = ${join(dir, 'ca.pem')}\n`,
  );
  client = createMasterClient({
    api: 'json',
    masterUrl: master.url,
    accessToken: token,
    tls: { ca: master.caPem },
  });
  for (const n of [1, 2, 3]) await registerNode(token, n);
  await client.requestInstance({ title: 'kv', softwareReleaseUri: SR, slaParameters: { resilient: 'true' } });
  await client.requestInstance({ title: 'blog', softwareReleaseUri: SR });
});
after(async () => {
  await client.close();
  for (const node of nodes.values()) await node.close();
  await master.close();
  await rm(dir, { recursive: true, force: true });
});

function slapos(args: string[]): ReturnType<typeof runSlapos> {
  return runSlapos([...args, '--cfg', cfg], { env, cwd: dir });
}

/** Where an instance is, by its title. */
async function placeOf(title: string): Promise<{ computerGuid: string; partitionId: string; guid: string }> {
  for (const [computerGuid, node] of nodes) {
    const snapshot = await node.post('/slapos.get.ext.compute_node_snapshot', {
      computer_guid: computerGuid,
    });
    for (const instance of snapshot.compute_partition_list) {
      if (instance.title === title)
        return { computerGuid, partitionId: instance.compute_partition_id, guid: instance.instance_guid };
    }
  }
  throw new Error(`${title} is nowhere`);
}

/** One backup sync of a node, as its agent sends it, about one of its partitions. */
async function sync(
  place: { computerGuid: string; partitionId: string; guid: string },
  report: Partial<PartitionReport> = {},
): Promise<SyncAnswer['partition_list'][number] | undefined> {
  const node = nodes.get(place.computerGuid);
  assert.ok(node);
  const answer = await node.post('/slapos.post.ext.backup_sync', {
    computer_guid: place.computerGuid,
    repository: null,
    partition_list: [partitionReport(place.partitionId, place.guid, report)],
  });
  return answer.partition_list.find((order) => order.partition_id === place.partitionId);
}

function backupId(seconds: number, suffix: string): string {
  return `${new Date(seconds * 1000).toISOString().replace(/[-:.]/g, '')}-${suffix}`;
}

test('a resilient service: backups listed, a backup waited for, a restore requested, a takeover by hand', async () => {
  const main = await placeOf('kv');
  const clone = await placeOf('kv (clone 1)');
  assert.notEqual(main.computerGuid, clone.computerGuid);
  assert.equal((await sync(main))?.role, 'main');
  assert.equal((await sync(clone))?.role, 'clone');

  const none = await slapos(['service', 'backups', 'kv']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, 'No backup of kv yet.\n');

  // The clone's node holds one backup and restored it.
  const firstTime = Math.floor(Date.now() / 1000) - 60;
  const first = { backup_id: backupId(firstTime, '0a0b'), time: firstTime };
  await sync(clone, { backup_list: [first], restored: first });
  const listed = await slapos(['service', 'backups', 'kv']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(
    listed.stdout,
    [
      'BACKUP ID                 TIME                      NODES',
      `${first.backup_id}  ${new Date(firstTime * 1000).toISOString()}  ${clone.computerGuid}`,
      '',
    ].join('\n'),
  );
  const listedJson = await slapos(['service', 'backups', 'kv', '--json']);
  assert.deepEqual(JSON.parse(listedJson.stdout), {
    backup_list: [{ ...first, computer_guid_list: [clone.computerGuid] }],
    restore: null,
  });

  // backup --wait: the main's node sees the request at its sync; the backup reaches the clone's node.
  const waiting = slapos(['service', 'backup', 'kv', '--wait', '--poll-interval', '0.05', '--timeout', '60']);
  let requestedAt: number | null = null;
  for (let tries = 0; requestedAt === null && tries < 1000; tries++) {
    requestedAt = (await sync(main))?.backup_requested_at ?? null;
    if (requestedAt === null) await sleep(20);
  }
  assert.ok(requestedAt !== null, 'the main node is asked for a backup');
  const second = { backup_id: backupId(requestedAt + 0.5, 'c3d4'), time: requestedAt + 0.5 };
  await sync(clone, { backup_list: [first, second], restored: second });
  const waited = await waiting;
  assert.equal(waited.code, 0, waited.stderr);
  assert.equal(
    waited.stdout,
    `Backup ${second.backup_id} taken at ${new Date(second.time * 1000).toISOString()}, held by ${clone.computerGuid}.\n`,
  );

  // restore: the request reaches the main's node with its id.
  const restore = await slapos(['service', 'restore', 'kv', '--backup', first.backup_id]);
  assert.equal(restore.code, 0, restore.stderr);
  const requestId = restore.stdout.trim();
  assert.match(requestId, /^[0-9a-f-]{36}$/);
  assert.deepEqual((await sync(main))?.restore_request, {
    request_id: requestId,
    backup_id: first.backup_id,
    source: null,
  });
  // restore --wait: pending until the main's node reports it done, then the node's message.
  const waitingRestore = slapos(['service', 'restore', 'kv', '--wait', '--poll-interval', '0.05', '--json']);
  let waitedId: string | undefined;
  for (let tries = 0; tries < 1000; tries++) {
    const status = (
      JSON.parse((await slapos(['service', 'backups', 'kv', '--json'])).stdout) as {
        restore: { request_id: string; state: string } | null;
      }
    ).restore;
    if (status !== null && status.request_id !== requestId) {
      assert.equal(status.state, 'pending');
      waitedId = status.request_id;
      break;
    }
    await sleep(20);
  }
  assert.ok(waitedId !== undefined, 'the second restore is pending');
  assert.equal((await sync(main))?.restore_request?.request_id, waitedId);
  await sync(main, {
    restore_done: {
      request_id: waitedId,
      ok: true,
      message: `restored ${second.backup_id}; checked: 2 records`,
      restored_backup_id: second.backup_id,
    },
  });
  const restored = await waitingRestore;
  assert.equal(restored.code, 0, restored.stderr);
  assert.deepEqual(
    { ...(JSON.parse(restored.stdout) as Record<string, unknown>), requested_at: 0, finished_at: 0 },
    {
      request_id: waitedId,
      state: 'done',
      backup_id: null,
      restored_backup_id: second.backup_id,
      source: 'kv',
      message: `restored ${second.backup_id}; checked: 2 records`,
      requested_at: 0,
      finished_at: 0,
    },
  );
  assert.equal((await sync(main))?.restore_request, null);
  const unknown = await slapos(['service', 'restore', 'kv', '--backup', backupId(firstTime - 3600, 'ffff')]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^slapos: error: kv has no backup \d{8}T\d{9}Z-ffff\.\n/);

  // takeover: the clone (alive, restored) becomes the main; the former main is fenced.
  const takeover = await slapos(['service', 'takeover', 'kv']);
  assert.equal(takeover.code, 0, takeover.stderr);
  assert.equal(
    takeover.stdout,
    `kv now runs on ${clone.computerGuid} ${clone.partitionId} (epoch 1); the former main is fenced.\n`,
  );
  const info = JSON.parse((await slapos(['service', 'info', 'kv', '--json'])).stdout) as Instance;
  assert.equal(info.compute_partition_id, clone.partitionId);
  // The clone, now on the old main's partition, is fenced: it cannot be promoted.
  const again = await slapos(['service', 'takeover', 'kv', '--clone', 'kv (clone 1)']);
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /^slapos: error: kv: that instance is fenced \(a former main\), not a clone yet\.\n/,
  );
  const nameless = await slapos(['service', 'takeover', 'kv', '--clone', 'kv (clone 9)']);
  assert.equal(nameless.code, 1);
  assert.match(nameless.stderr, /^slapos: error: kv: no such clone in this tree\.\n/);
});

test('a service without clones or backups, and an unknown one: the master says why, exit 1', async () => {
  const takeover = await slapos(['service', 'takeover', 'blog']);
  assert.equal(takeover.code, 1);
  assert.match(takeover.stderr, /^slapos: error: blog is not a resilient instance: it has no clones\.\n/);
  const backups = await slapos(['service', 'backups', 'blog']);
  assert.equal(backups.code, 1);
  assert.match(backups.stderr, /^slapos: error: blog has no backups/);
  for (const command of ['backup', 'backups', 'restore', 'takeover']) {
    const run = await slapos(['service', command, 'nothing']);
    assert.equal(run.code, 1, command);
    assert.match(run.stderr, /^slapos: error: Instance nothing does not exist\.\n/, command);
  }
});

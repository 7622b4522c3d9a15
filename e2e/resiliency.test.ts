/**
 * Automatic takeover across machines (issue 12), for real: a master and three compute nodes on
 * separate hosts of a test network (src/testing/resilient-site.ts), each node's agent running with
 * its backup repository server; the key-value example (examples/kv) requested resilient with two
 * clones, backing up every 2 s. A client writes continuously and records every acknowledged write.
 *
 * The main's node is lost (links cut, processes frozen): the master promotes a clone; the tree's
 * `url` points to another node, which answers and acknowledges new writes; every write acknowledged
 * before the start of the newest backup the promoted clone held (a promoted clone starts on the
 * newest backup it received) is there. The lost node comes back: its partition is fenced (its
 * service stops) and it becomes a clone (a later backup reaches it). The second test does the same
 * with the master restarted during the detection. The time from the node's loss to the clone
 * answering is printed (diagnostic), never asserted.
 *
 * The client runs on the node serving the tree: partition addresses are the node's loopback ones
 * (sandbox mode), reached from that host as a local frontend would.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot } from '../src/lib/package-root.ts';
import { startKvWriter, type AcknowledgedWrite } from '../src/testing/kv-writer.ts';
import { fetchFrom } from '../src/testing/netns.ts';
import { ResilientSite, type ServiceInfo, type SiteNode } from '../src/testing/resilient-site.ts';
import { waitFor } from '../src/testing/supervisor.ts';

const EXAMPLE = join(packageRoot(), 'examples', 'kv', 'software.cfg');
const NAME = 'kv';
const HEARTBEAT_SECONDS = 1;
const FAILOVER_AFTER_SECONDS = 6;
const BACKUP_PERIOD_SECONDS = 2;

interface BackupEntry {
  backup_id: string;
  time: number;
  computer_guid_list: string[];
}

/** When a backup started, from its id (`YYYYMMDDTHHMMSSmmmZ-xxxx`, contract §0), in ms. */
function backupStartedAt(id: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{4}$/.exec(id);
  assert.ok(match, `backup id ${JSON.stringify(id)}`);
  const [year = 0, month = 1, day, hour, minute, second, ms] = match.slice(1).map(Number);
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

let site: ResilientSite | undefined;

function resilientSite(): ResilientSite {
  assert.ok(site, 'the site is up');
  return site;
}

/** `slapos service backups NAME --json` on the desk. */
async function backups(): Promise<BackupEntry[]> {
  const listed = JSON.parse(await resilientSite().client(['service', 'backups', NAME, '--json'])) as {
    backup_list: BackupEntry[];
  };
  return listed.backup_list;
}

/** The newest backup started after `since` (ms) that every node of `holders` holds, if any. */
async function backupHeldBy(holders: readonly SiteNode[], since: number): Promise<BackupEntry | undefined> {
  return (await backups())
    .filter((b) => backupStartedAt(b.backup_id) > since)
    .filter((b) => holders.every((node) => b.computer_guid_list.includes(node.id)))
    .sort((a, b) => backupStartedAt(b.backup_id) - backupStartedAt(a.backup_id))[0];
}

/** Whether `url` answers from `host` within a second. */
function answers(host: string, url: string): Promise<boolean> {
  return fetchFrom(resilientSite().network, host, url, { timeoutMs: 1000 }).then(
    () => true,
    () => false,
  );
}

function urlOf(info: ServiceInfo): string {
  const url = info.connection_parameters.url;
  assert.equal(typeof url, 'string', `the tree publishes its url: ${JSON.stringify(info)}`);
  return (url as string).replace(/\/+$/, '');
}

/**
 * Loses the node serving the tree while a client writes to it, and checks the takeover, the
 * recovery point, and the lost node's return as a fenced member, then a clone.
 */
async function takeover(t: TestContext, options: { phase: string; restartMaster: boolean }): Promise<void> {
  const rs = resilientSite();
  const { network } = rs;
  const first = await rs.serviceInfo(NAME);
  const lost = rs.nodeOf(first.computer_guid);
  const clones = rs.nodes.filter((node) => node !== lost);
  const lostUrl = urlOf(first);

  // A client writes to the main; backups of what it wrote reach both clones.
  const writer = startKvWriter(network, lost.host, lostUrl, { prefix: `${options.phase}-before` });
  try {
    await writer.waitForAcks(10);
    const writingSince = writer.acks[0]?.ackAt ?? Date.now();
    await waitFor('a backup of the writes on both clones', () => backupHeldBy(clones, writingSince), {
      timeoutMs: 90_000,
      intervalMs: 500,
    });
    await writer.waitForAcks(10);
  } catch (error) {
    await writer.kill();
    throw error;
  }
  // The node is lost: links cut and processes frozen, the client there with them.
  const lostAt = await rs.loseHost(lost.host);
  await writer.kill();
  const acks: readonly AcknowledgedWrite[] = [...writer.acks];
  if (options.restartMaster) await rs.restartMaster();

  // Another node serves the tree's url.
  const promoted = await waitFor(
    'a clone serving the tree',
    async () => {
      const info = await rs.serviceInfo(NAME);
      if (info.computer_guid === lost.id || typeof info.connection_parameters.url !== 'string') return false;
      const node = rs.nodeOf(info.computer_guid);
      return (await answers(node.host, `${urlOf(info)}/health`)) ? { info, node } : false;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  const answeredAt = Date.now();
  const newUrl = urlOf(promoted.info);
  assert.ok(clones.includes(promoted.node), 'a clone was promoted');

  // New writes succeed on the new main.
  const resumed = startKvWriter(network, promoted.node.host, newUrl, { prefix: `${options.phase}-after` });
  try {
    await resumed.waitForAcks(5);
    const firstAck = resumed.acks[0]?.ackAt ?? answeredAt;
    t.diagnostic(
      `${options.phase}: node lost → clone answering ${answeredAt - lostAt} ms, first write acknowledged ` +
        `${firstAck - lostAt} ms (failover_after ${FAILOVER_AFTER_SECONDS} s, heartbeat ${HEARTBEAT_SECONDS} s, ` +
        `backup period ${BACKUP_PERIOD_SECONDS} s${options.restartMaster ? ', master restarted' : ''})`,
    );

    // Recovery point: what was acknowledged before the newest backup the promoted clone held is there.
    const restored = (await backups())
      .filter((b) => b.computer_guid_list.includes(promoted.node.id))
      .map((b) => backupStartedAt(b.backup_id))
      .filter((startedAt) => startedAt < lostAt)
      .sort((a, b) => b - a)[0];
    assert.ok(restored !== undefined, 'the promoted clone held a backup from before the loss');
    const stored = JSON.parse(await fetchFrom(network, promoted.node.host, `${newUrl}/kv`)) as Record<
      string,
      unknown
    >;
    const covered = acks.filter((ack) => ack.ackAt < restored);
    assert.ok(covered.length > 0, 'writes were acknowledged before that backup');
    const missing = covered.filter((ack) => stored[ack.key] !== ack.value);
    assert.deepEqual(missing, [], 'every write acknowledged before the backup is there');
    const lostWrites = acks.filter((ack) => stored[ack.key] !== ack.value).length;
    t.diagnostic(
      `${options.phase}: ${acks.length} writes acknowledged by the lost main, ${lostWrites} of them lost ` +
        `(acknowledged after the start of the backup the clone held, ${lostAt - restored} ms before the loss)`,
    );
    for (const ack of resumed.acks) assert.equal(stored[ack.key] ?? ack.value, ack.value);

    // The lost node comes back: fenced (its service stops), then a clone (a backup reaches it).
    await rs.bringBack(lost.host);
    await waitFor(
      'the fenced service stopped',
      async () => !(await answers(lost.host, `${lostUrl}/health`)),
      {
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    const backAt = Date.now();
    await waitFor('a backup reaching the returned node', () => backupHeldBy([lost], backAt), {
      timeoutMs: 90_000,
      intervalMs: 500,
    });
    assert.equal((await rs.serviceInfo(NAME)).computer_guid, promoted.node.id, 'the new main stays');
    assert.equal(await answers(lost.host, `${lostUrl}/health`), false, 'the fenced service stays stopped');
    await resumed.waitForAcks(5);
  } finally {
    await resumed.kill();
  }
}

describe('a resilient key-value store over three nodes', () => {
  before(async () => {
    site = await ResilientSite.create({
      heartbeatSeconds: HEARTBEAT_SECONDS,
      master: { failover_after: String(FAILOVER_AFTER_SECONDS) },
    });
    // The release on the shared disk, as a URL all nodes reach, pinning this Node.js.
    const release = join(site.site.dir, 'releases', 'kv', 'software.cfg');
    await mkdir(dirname(release), { recursive: true });
    await writeFile(
      release,
      `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`,
    );
    for (const node of site.nodes) await site.client(['supply', release, node.id]);
    await site.client(
      ['request', NAME, release, '--node', 'resilient=true', '--node', 'clones=2'].concat([
        '--parameters',
        `backup-period=${BACKUP_PERIOD_SECONDS}`,
      ]),
    );
    await waitFor(
      'the tree serving',
      async () => {
        const info = await resilientSite().serviceInfo(NAME);
        if (typeof info.connection_parameters.url !== 'string' || info.computer_guid === '') return false;
        return answers(resilientSite().nodeOf(info.computer_guid).host, `${urlOf(info)}/health`);
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
  });

  after(async () => {
    await site?.destroy();
    site = undefined;
  });

  test('the main node lost: a clone takes over with every write acknowledged before its backup; the node returns fenced, then a clone', (t) =>
    takeover(t, { phase: 'first', restartMaster: false }));

  test('the same with the master restarted during the detection', (t) =>
    takeover(t, { phase: 'second', restartMaster: true }));
});

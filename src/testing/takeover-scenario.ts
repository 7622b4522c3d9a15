/**
 * The takeover scenario of issue 12 on a ResilientSite, shared by e2e/resiliency.test.ts (which
 * asserts it) and the resiliency benchmark (which prints its figures): the key-value example
 * (examples/kv) requested resilient; a client writing continuously to the main and recording every
 * acknowledged write; the main's node lost (links cut, processes frozen), optionally with the master
 * restarted during the detection; then the checks:
 * - another node (a former clone) serves the tree's `url` and acknowledges new writes;
 * - every write acknowledged before the start of the newest backup the promoted clone held is
 *   there (a promoted clone starts on the newest backup it received: the node's settle hook);
 * - the lost node comes back fenced (its service stops) and becomes a clone (a later backup
 *   reaches it), while the new main keeps serving.
 * The client runs on the node serving the tree: partition addresses are the node's loopback ones
 * (sandbox mode), reached from that host as a local frontend would.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot } from '../lib/package-root.ts';
import { startKvWriter, type AcknowledgedWrite } from './kv-writer.ts';
import { fetchFrom } from './netns.ts';
import { ResilientSite, type ServiceInfo, type SiteNode } from './resilient-site.ts';
import { waitFor } from './supervisor.ts';

const EXAMPLE = join(packageRoot(), 'examples', 'kv', 'software.cfg');

interface BackupEntry {
  backup_id: string;
  time: number;
  computer_guid_list: string[];
}

/** What one takeover measured (ms from the node's loss, the machine's one clock). */
export interface TakeoverFigures {
  /** Until the tree's url pointed to another node and it answered. */
  lostToAnswerMs: number;
  /** Until the first write acknowledged by the new main. */
  lostToFirstWriteMs: number;
  /** Writes the lost main acknowledged, and how many of them the new main does not have. */
  acknowledged: number;
  lostWrites: number;
  /** Age, at the loss, of the start of the newest backup the promoted clone held. */
  backupAgeAtLossMs: number;
}

/** When a backup started, from its id (`YYYYMMDDTHHMMSSmmmZ-xxxx`, contract §0), in ms. */
export function backupStartedAt(id: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-[0-9a-f]{4}$/.exec(id);
  assert.ok(match, `backup id ${JSON.stringify(id)}`);
  const [year = 0, month = 1, day, hour, minute, second, ms] = match.slice(1).map(Number);
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** `slapos service backups NAME --json` on the desk. */
async function backups(site: ResilientSite, name: string): Promise<BackupEntry[]> {
  const listed = JSON.parse(await site.client(['service', 'backups', name, '--json'])) as {
    backup_list: BackupEntry[];
  };
  return listed.backup_list;
}

/** The newest backup started after `since` (ms) that every node of `holders` holds, if any. */
async function backupHeldBy(
  site: ResilientSite,
  name: string,
  holders: readonly SiteNode[],
  since: number,
): Promise<BackupEntry | undefined> {
  return (await backups(site, name))
    .filter((b) => backupStartedAt(b.backup_id) > since)
    .filter((b) => holders.every((node) => b.computer_guid_list.includes(node.id)))
    .sort((a, b) => backupStartedAt(b.backup_id) - backupStartedAt(a.backup_id))[0];
}

/** The backup agent's lines of a node's log, the last ones (a failure's diagnostics). */
function backupLines(log: string): string {
  return log
    .split('\n')
    .filter((line) => line.includes('"component":"backup"') || line.includes('takeover'))
    .slice(-80)
    .join('\n');
}

/** Whether `url` answers from `host` within a second. */
function answers(site: ResilientSite, host: string, url: string): Promise<boolean> {
  return fetchFrom(site.network, host, url, { timeoutMs: 1000 }).then(
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
 * Supplies examples/kv (pinning this Node.js, on the shared disk as a URL every node reaches) to
 * every node and requests it as `name`, resilient with `clones` clones; resolves once it answers.
 */
export async function deployResilientKv(
  site: ResilientSite,
  options: { name: string; clones: number; backupPeriodSeconds: number },
): Promise<void> {
  const release = join(site.site.dir, 'releases', 'kv', 'software.cfg');
  await mkdir(dirname(release), { recursive: true });
  await writeFile(release, `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`);
  for (const node of site.nodes) await site.client(['supply', release, node.id]);
  await site.client(
    [
      'request',
      options.name,
      release,
      '--node',
      'resilient=true',
      '--node',
      `clones=${options.clones}`,
    ].concat(['--parameters', `backup-period=${options.backupPeriodSeconds}`]),
  );
  await waitFor(
    'the tree serving',
    async () => {
      const info = await site.serviceInfo(options.name);
      if (typeof info.connection_parameters.url !== 'string' || info.computer_guid === '') return false;
      return answers(site, site.nodeOf(info.computer_guid).host, `${urlOf(info)}/health`);
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
}

/**
 * Loses the node serving the tree while a client writes to it, and checks the takeover, the
 * recovery point, and the lost node's return as a fenced member, then a clone. Every other node of
 * the site holds a clone (clones = nodes − 1).
 */
export async function loseMainAndTakeOver(
  site: ResilientSite,
  options: { name: string; phase: string; restartMaster: boolean },
): Promise<TakeoverFigures> {
  const { name } = options;
  const { network } = site;
  const first = await site.serviceInfo(name);
  const lost = site.nodeOf(first.computer_guid);
  const clones = site.nodes.filter((node) => node !== lost);
  const lostUrl = urlOf(first);

  // A client writes to the main; backups of what it wrote reach both clones.
  const writer = startKvWriter(network, lost.host, lostUrl, { prefix: `${options.phase}-before` });
  try {
    await writer.waitForAcks(10);
    const writingSince = writer.acks[0]?.ackAt ?? Date.now();
    await waitFor(
      'a backup of the writes on both clones',
      () => backupHeldBy(site, name, clones, writingSince),
      {
        timeoutMs: 90_000,
        intervalMs: 500,
      },
    );
    await writer.waitForAcks(10);
  } catch (error) {
    await writer.kill();
    throw error;
  }
  // The node is lost: links cut and processes frozen, the client there with them.
  const lostAt = await site.loseHost(lost.host);
  await writer.kill();
  const acks: readonly AcknowledgedWrite[] = [...writer.acks];
  // What the clones had reported holding (a lower bound of what they held: reports lag a heartbeat).
  const heldAtLoss = await backups(site, name);
  if (options.restartMaster) await site.restartMaster();

  // Another node serves the tree's url.
  const promoted = await waitFor(
    'a clone serving the tree',
    async () => {
      const info = await site.serviceInfo(name);
      if (info.computer_guid === lost.id || typeof info.connection_parameters.url !== 'string') return false;
      const node = site.nodeOf(info.computer_guid);
      return (await answers(site, node.host, `${urlOf(info)}/health`)) ? { info, node } : false;
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

    // Recovery point: what was acknowledged before the newest backup the promoted clone held is there.
    const restored = [...heldAtLoss, ...(await backups(site, name))]
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
    const figures: TakeoverFigures = {
      lostToAnswerMs: answeredAt - lostAt,
      lostToFirstWriteMs: firstAck - lostAt,
      acknowledged: acks.length,
      lostWrites,
      backupAgeAtLossMs: lostAt - restored,
    };
    for (const ack of resumed.acks) assert.equal(stored[ack.key] ?? ack.value, ack.value);

    // The lost node comes back: fenced (its service stops), then a clone (a backup reaches it).
    await site.bringBack(lost.host);
    await waitFor(
      'the fenced service stopped',
      async () => !(await answers(site, lost.host, `${lostUrl}/health`)),
      {
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    const backAt = Date.now();
    await waitFor('a backup reaching the returned node', () => backupHeldBy(site, name, [lost], backAt), {
      timeoutMs: 90_000,
      intervalMs: 500,
    }).catch(async (error: unknown) => {
      throw new Error(
        `${String(error)}\nbackups: ${JSON.stringify(await backups(site, name).catch(() => []))}` +
          `\n--- the returned node (${lost.host}):\n${backupLines(site.agentLog(lost.host))}` +
          `\n--- the new main (${promoted.node.host}):\n${backupLines(site.agentLog(promoted.node.host))}`,
      );
    });
    assert.equal((await site.serviceInfo(name)).computer_guid, promoted.node.id, 'the new main stays');
    assert.equal(
      await answers(site, lost.host, `${lostUrl}/health`),
      false,
      'the fenced service stays stopped',
    );
    await resumed.waitForAcks(5);
    return figures;
  } finally {
    await resumed.kill();
  }
}

/** The figures as one line of text. */
export function describeTakeover(figures: TakeoverFigures): string {
  return (
    `node lost → clone answering ${figures.lostToAnswerMs} ms, first write acknowledged ` +
    `${figures.lostToFirstWriteMs} ms; ${figures.acknowledged} writes acknowledged by the lost main, ` +
    `${figures.lostWrites} not on the new main (newest backup it held started ${figures.backupAgeAtLossMs} ms before the loss)`
  );
}

export interface TakeoverSettings {
  heartbeatSeconds: number;
  failoverAfterSeconds: number;
  backupPeriodSeconds: number;
}

/** The product's detection defaults (node heartbeat 5 s, master failover_after 15 s). */
export const DEFAULT_TAKEOVER_SETTINGS: TakeoverSettings = {
  heartbeatSeconds: 5,
  failoverAfterSeconds: 15,
  backupPeriodSeconds: 2,
};

/**
 * One takeover on a site built for it (a master and three nodes, the example with two clones) and
 * destroyed after: what the resiliency benchmark prints. Needs root, like every test network.
 */
export async function measureTakeover(
  settings: TakeoverSettings = DEFAULT_TAKEOVER_SETTINGS,
): Promise<TakeoverFigures> {
  const site = await ResilientSite.create({
    heartbeatSeconds: settings.heartbeatSeconds,
    master: { failover_after: String(settings.failoverAfterSeconds) },
  });
  try {
    await deployResilientKv(site, {
      name: 'kv',
      clones: site.nodes.length - 1,
      backupPeriodSeconds: settings.backupPeriodSeconds,
    });
    return await loseMainAndTakeOver(site, { name: 'kv', phase: 'bench', restartMaster: false });
  } finally {
    await site.destroy();
  }
}

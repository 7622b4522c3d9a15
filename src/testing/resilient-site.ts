/**
 * The site the resiliency tests run on (issue 12): a master and compute nodes on separate hosts of
 * one test network (netns.ts), each node running the node agent (`slapos node run`) with its
 * backup repository server listening on its own address, a user on the `desk` host, every step the
 * `slapos` command on its host (hosts-site.ts). Built once per test file: building is most of the
 * cost. A node can be lost (its links cut and its processes frozen) and come back.
 *
 * Partition addresses are the node's loopback ones (sandbox mode), so a service is reached from
 * its own node's host (serviceHost), as a local frontend would.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseIni } from '../lib/ini.ts';
import { agentPaths, readAgentStatus } from '../node/agent/settings.ts';
import { renderIni } from '../lib/ini-render.ts';
import { HostsSite, SLAPOS, type RunningMaster } from './hosts-site.ts';
import { createTestNetwork, type TestNetwork } from './netns.ts';
import { makeTempDir } from './node.ts';
import { waitFor } from './supervisor.ts';

/** The port of every node's backup repository server. */
export const BACKUP_PORT = 8700;

export interface ResilientSiteOptions {
  /** Number of compute nodes, hosts `node1`…; default 3. */
  nodes?: number;
  /** `[backup] heartbeat` of the nodes (seconds). */
  heartbeatSeconds: number;
  /** Options of the master's `[master]` section (e.g. `failover_after`), besides where it listens. */
  master?: Readonly<Record<string, string>>;
}

export interface SiteNode {
  host: string;
  /** Its compute node id at the master (`COMP-n`). */
  id: string;
  /** Its slapos.cfg. */
  cfg: string;
}

/** The instance document `slapos service info NAME --json` prints (the keys used here). */
export interface ServiceInfo {
  instance_guid: string;
  computer_guid: string;
  compute_partition_id: string;
  connection_parameters: Record<string, unknown>;
}

/** Rewrites the INI file `file` with `options` set in their sections (other options kept). */
async function setIniOptions(
  file: string,
  options: Readonly<Record<string, Readonly<Record<string, string>>>>,
): Promise<void> {
  const document = parseIni(await readFile(file, 'utf8'), file);
  const names = [...new Set([...document.sections(), ...Object.keys(options)])];
  const sections = names.map((name) => {
    const merged = { ...(document.has(name) ? document.items(name) : {}), ...options[name] };
    return [name, Object.entries(merged)] as const;
  });
  await writeFile(file, renderIni(sections), { mode: 0o600 });
}

export class ResilientSite {
  private masterProcess: RunningMaster | undefined;
  private readonly agents = new Map<string, { child: ChildProcess; log: () => string }>();

  private constructor(
    readonly site: HostsSite,
    readonly nodes: readonly SiteNode[],
    private readonly clientCfg: string,
    private readonly masterArgs: readonly string[],
    master: RunningMaster,
  ) {
    this.masterProcess = master;
  }

  get network(): TestNetwork {
    return this.site.network;
  }

  /**
   * Builds the network (`master`, `desk`, `node1`…), starts the master, adds the user `alice` with
   * her client on `desk`, registers and formats the nodes (each with `[backup] listen` on its IPv4
   * address) and starts their agents. On failure, destroys what was made and rethrows.
   */
  static async create(options: ResilientSiteOptions): Promise<ResilientSite> {
    const nodeHosts = Array.from({ length: options.nodes ?? 3 }, (_, i) => `node${i + 1}`);
    const hosts = ['master', 'desk', ...nodeHosts];
    const site = new HostsSite(await createTestNetwork({ hosts }), await makeTempDir('slapos-resilient-'));
    const { network } = site;
    let master: RunningMaster | undefined;
    // Once the site object exists, its destroy() cleans up.
    let handedOver = false;
    try {
      await site.makeHostDirs();
      for (const host of hosts.slice(1))
        await network.setHostNames(host, { 'master.test': network.host('master').ipv4 });
      const masterArgs: string[] = [];
      if (options.master !== undefined && Object.keys(options.master).length > 0) {
        const cfg = join(site.hostDir('master'), 'master.cfg');
        await writeFile(cfg, renderIni([['master', Object.entries(options.master)]]));
        masterArgs.push('--cfg', cfg);
      }
      master = await site.startMaster('master', masterArgs);
      const token = await site.addUser('master', master, 'alice');
      await site.copyMasterCa(master, hosts.slice(1));
      const clientCfg = await site.configureClient('desk', 'alice', token);
      const nodes = await Promise.all(
        nodeHosts.map(async (host) => {
          const registered = JSON.parse(
            await site.register(host, await site.registrationToken('desk', clientCfg)),
          ) as { computer_id: string; config_file: string };
          const node = { host, id: registered.computer_id, cfg: registered.config_file };
          await setIniOptions(node.cfg, {
            backup: {
              listen: `${network.host(host).ipv4}:${BACKUP_PORT}`,
              heartbeat: String(options.heartbeatSeconds),
            },
          });
          await site.slapos(host, ['-q', 'node', 'format', '--cfg', node.cfg, '--now']);
          return node;
        }),
      );
      const resilient = new ResilientSite(site, nodes, clientCfg, masterArgs, master);
      handedOver = true;
      try {
        for (const node of nodes) await resilient.startAgent(node.host);
      } catch (error) {
        await resilient.destroy();
        throw error;
      }
      return resilient;
    } catch (error) {
      if (handedOver) throw error;
      await master?.stop().catch(() => undefined);
      await network.destroy();
      await rm(site.dir, { recursive: true, force: true });
      throw error;
    }
  }

  node(host: string): SiteNode {
    const found = this.nodes.find((n) => n.host === host);
    assert.ok(found, `no node on ${host}`);
    return found;
  }

  /** The node whose compute node id is `id`. */
  nodeOf(id: string): SiteNode {
    const found = this.nodes.find((n) => n.id === id);
    assert.ok(found, `no node ${id} on this site`);
    return found;
  }

  /** `slapos args` as alice on `desk`, asserted to exit with `code` (default 0); its stdout. */
  client(args: readonly string[], code = 0): Promise<string> {
    return this.site.slapos('desk', [...args, '--cfg', this.clientCfg], { code });
  }

  /** `slapos service info NAME --json`. */
  async serviceInfo(name: string): Promise<ServiceInfo> {
    return JSON.parse(await this.client(['service', 'info', name, '--json'])) as ServiceInfo;
  }

  /** Starts `slapos node run` on the node's host; resolves once it has written its status. */
  async startAgent(host: string): Promise<void> {
    const { cfg } = this.node(host);
    const child = this.network.spawn(host, [process.execPath, SLAPOS, 'node', 'run', '--cfg', cfg], {
      env: this.site.env(host),
    });
    let log = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    this.agents.set(host, { child, log: () => log });
    const instanceRoot = parseIni(await readFile(cfg, 'utf8'), cfg).get('slapos', 'instance_root');
    assert.ok(instanceRoot !== undefined, `${cfg} names its instance_root`);
    const { statusFile } = agentPaths(instanceRoot);
    await waitFor(
      `the agent of ${host} running`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`the agent of ${host} exited (${child.exitCode}): ${log}`);
        return (await readAgentStatus(statusFile)) !== undefined;
      },
      { timeoutMs: 30_000 },
    );
  }

  /** SIGTERM to the node's agent, asserted to exit 0 (its services keep running). */
  async stopAgent(host: string): Promise<void> {
    const agent = this.agents.get(host);
    if (agent === undefined) return;
    this.agents.delete(host);
    const { child } = agent;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    this.site.outputs.push(agent.log());
    assert.equal(child.exitCode, 0, `the agent of ${host} stopped: ${agent.log()}`);
  }

  /** The agent's output so far (diagnostics). */
  agentLog(host: string): string {
    return this.agents.get(host)?.log() ?? '';
  }

  /** Stops the master (SIGTERM) and starts it again on the same directory and settings. */
  async restartMaster(): Promise<void> {
    await this.masterProcess?.stop();
    this.masterProcess = undefined;
    this.masterProcess = await this.site.startMaster('master', this.masterArgs);
  }

  /** The host is lost: its links cut, then every process on it frozen. The time of the cut. */
  async loseHost(host: string): Promise<number> {
    const at = Date.now();
    await this.network.cutOff(host);
    await this.network.freeze(host);
    return at;
  }

  /** The host comes back: its processes continued, then its links up. */
  async bringBack(host: string): Promise<void> {
    this.network.thaw(host);
    await this.network.reconnect(host);
  }

  /** Stops every agent and supervisor, the master, and deletes the network and the directories. */
  async destroy(): Promise<void> {
    for (const host of this.network.hosts.map((h) => h.name)) this.network.thaw(host);
    for (const host of [...this.agents.keys()]) await this.stopAgent(host).catch(() => undefined);
    for (const { host, cfg } of this.nodes)
      await this.site
        .slapos(host, ['node', 'supervisorctl', '--cfg', cfg, 'shutdown'])
        .catch(() => undefined);
    await this.masterProcess?.stop().catch(() => undefined);
    await this.network.destroy();
    await rm(this.site.dir, { recursive: true, force: true });
  }
}

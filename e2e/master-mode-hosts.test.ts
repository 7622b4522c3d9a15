/**
 * Several machines, tested for real (issue 8): a master and compute nodes on separate hosts, each
 * host a network namespace of a test network (src/testing/netns.ts), every step the `slapos`
 * command as a user would type it on that host. Hosts: `master`, `desk` (where the users type
 * their commands), `node1` and `node2`; the master listens on all its addresses, node1 talks to it
 * over IPv4, node2 and the desk over IPv6. Nothing else can reach the master.
 *
 * The scenario, and where this test is:
 *   - the master started                            proxy mode (`slapos proxy start --insecure-listen`)
 *   - users A and B, their tokens                   not yet written (`slapos master` is being built)
 *   - nodes registered with tokens, over TLS        not yet written: the nodes format themselves
 *   - A deploys the example on node 1               written: supply, node software, request, node
 *                                                   instance, the service answering on node1
 *   - A's tree: root on node 1, child placed on     written: the root publishes the child's URL,
 *     node 2 by the computer_guid SLA               which node2 serves
 *   - B cannot see or touch A's trees or nodes,
 *     is allocated on the open node 3               not yet written (users, node3)
 *   - node 2's certificate cannot read node 1's
 *     partitions; revoking node 2 stops its calls   not yet written (certificates)
 *   - a reused and an expired token fail            not yet written (tokens)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cleanEnv } from '../src/lib/exec.ts';
import { packageRoot, slaposBinPath } from '../src/lib/package-root.ts';
import { createTestNetwork, fetchFrom, type TestNetwork } from '../src/testing/netns.ts';
import { makeTempDir, renderCfg, writeSandboxCfg } from '../src/testing/node.ts';
import { writeTestReleases } from '../src/testing/test-releases.ts';
import { waitFor } from '../src/testing/supervisor.ts';

const SLAPOS = slaposBinPath();
const EXAMPLE = join(packageRoot(), 'examples', 'hello', 'software.cfg');
const MASTER_PORT = 8080;

interface ServiceInfo {
  connection_parameters: Record<string, unknown>;
}

/**
 * The hosts of the test network with a directory each (`<dir>/<host>`, as a machine's disk) and a
 * HOME of their own in it: nothing of this machine's user configuration reaches the commands.
 */
class Site {
  constructor(
    readonly network: TestNetwork,
    readonly dir: string,
  ) {}

  hostDir(host: string): string {
    return join(this.dir, host);
  }

  env(host: string): Record<string, string> {
    return cleanEnv({ HOME: join(this.hostDir(host), 'home') });
  }

  /** `slapos args` on `host`, asserted to exit with `code` (default 0); its stdout. */
  async slapos(host: string, args: readonly string[], code = 0): Promise<string> {
    const result = await this.network.exec(host, [process.execPath, SLAPOS, ...args], {
      env: this.env(host),
      timeoutMs: 240_000,
    });
    assert.equal(
      result.exitCode,
      code,
      `slapos ${args.join(' ')} on ${host}: exit ${String(result.exitCode)}\n${result.stderr}${result.stdout}`,
    );
    return result.stdout;
  }

  /**
   * `slapos proxy start --cfg slapos.cfg` on `host`, listening on all its addresses; resolves once
   * it listens, with the function that stops it (SIGTERM, asserted to exit 0).
   */
  async startMaster(host: string): Promise<() => Promise<void>> {
    const cfg = join(this.hostDir(host), 'slapos.cfg');
    await writeFile(
      cfg,
      renderCfg({
        slapproxy: { host: '::', port: MASTER_PORT, database_uri: join(this.hostDir(host), 'proxy.db') },
      }),
    );
    const argv = [process.execPath, SLAPOS, 'proxy', 'start', '--insecure-listen', '--cfg', cfg];
    const master = this.network.spawn(host, argv, { env: this.env(host) });
    const exited = once(master, 'exit');
    let log = '';
    master.stdout?.resume();
    master.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    await waitFor('the master listening', () => {
      if (master.exitCode !== null) throw new Error(`the master exited (${master.exitCode}): ${log}`);
      return log.includes('"master listening"');
    });
    return async () => {
      if (master.exitCode === null && master.signalCode === null) master.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, `the master stopped: ${log}`);
    };
  }

  /** A sandbox compute node on `host`, formatted on the master at `masterUrl`; its slapos.cfg. */
  async formatNode(host: string, options: { computerId: string; masterUrl: string }): Promise<string> {
    const cfg = await writeSandboxCfg(this.hostDir(host), {
      slapos: { computer_id: options.computerId, master_url: `${options.masterUrl}/` },
      slapformat: { partition_amount: 2 },
    });
    await this.slapos(host, ['-q', 'node', 'format', '--cfg', cfg, '--now']);
    return cfg;
  }

  /** A client configuration on `host` naming the master: what `--cfg` of the client commands reads. */
  async clientConfig(host: string, masterUrl: string): Promise<string> {
    const cfg = join(this.hostDir(host), 'slapos-client.cfg');
    await writeFile(cfg, renderCfg({ slapconsole: { master_url: masterUrl } }));
    return cfg;
  }
}

test('a master and compute nodes on separate hosts: the example and an instance tree spanning two nodes', async () => {
  const hosts = ['master', 'desk', 'node1', 'node2'];
  const site = new Site(await createTestNetwork({ hosts }), await makeTempDir('slapos-hosts-'));
  for (const host of hosts) await mkdir(join(site.hostDir(host), 'home'), { recursive: true });
  let stopMaster: (() => Promise<void>) | undefined;
  const nodes = new Map<string, string>();
  try {
    const master = site.network.host('master');
    stopMaster = await site.startMaster('master');
    const overIpv4 = `http://${master.ipv4}:${MASTER_PORT}`;
    const overIpv6 = `http://[${master.ipv6}]:${MASTER_PORT}`;
    const deskCfg = await site.clientConfig('desk', overIpv6);
    const desk = (args: readonly string[]): Promise<string> =>
      site.slapos('desk', [...args, '--cfg', deskCfg]);
    const pass = (host: string, command: 'software' | 'instance', code = 0): Promise<string> =>
      site.slapos(host, ['-q', 'node', command, '--cfg', nodes.get(host) ?? '', '--now'], code);

    // The nodes: node1 talks to the master over IPv4, node2 over IPv6.
    const [node1Cfg, node2Cfg] = await Promise.all([
      site.formatNode('node1', { computerId: 'COMP-1', masterUrl: overIpv4 }),
      site.formatNode('node2', { computerId: 'COMP-2', masterUrl: overIpv6 }),
    ]);
    nodes.set('node1', node1Cfg).set('node2', node2Cfg);

    // The releases: examples/hello (pinning this Node.js, as a user would) and the composite one.
    const releases = join(site.hostDir('desk'), 'releases');
    const hello = join(releases, 'hello', 'software.cfg');
    await mkdir(dirname(hello), { recursive: true });
    await writeFile(hello, `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`);
    const { composite } = await writeTestReleases(releases);
    await desk(['supply', hello, 'COMP-1']);
    await desk(['supply', composite, 'COMP-1']);
    await desk(['supply', composite, 'COMP-2']);
    await Promise.all([pass('node1', 'software'), pass('node2', 'software')]);

    // User A deploys the example on node 1.
    await desk(['request', 'hello-a', hello, '--node', 'computer_guid=COMP-1', '--parameters', 'name=Alice']);
    await pass('node1', 'instance');
    const helloInfo = JSON.parse(await desk(['service', 'info', 'hello-a', '--json'])) as ServiceInfo;
    assert.equal(helloInfo.connection_parameters.name, 'Hello Alice!');
    const helloUrl = String(helloInfo.connection_parameters.url);
    assert.equal(
      await fetchFrom(site.network, 'node1', `${helloUrl}/`, { expect: 'Hello Alice!\n' }),
      'Hello Alice!\n',
    );

    // User A's instance tree: its root on node 1, its child placed on node 2 by the computer_guid
    // SLA; the root publishes the child's URL, which node 2 serves.
    await desk([
      'request',
      'tree-a',
      composite,
      '--node',
      'computer_guid=COMP-1',
      '--parameters',
      'name=Kid',
      'child-node=COMP-2',
    ]);
    await pass('node1', 'instance', 1); // the root fails: its child has no URL yet
    await pass('node2', 'instance');
    await pass('node1', 'instance');
    const treeInfo = JSON.parse(await desk(['service', 'info', 'tree-a', '--json'])) as ServiceInfo;
    const childUrl = String(treeInfo.connection_parameters['child-url']);
    assert.match(childUrl, /^http:\/\/127\./);
    assert.equal(
      await fetchFrom(site.network, 'node2', `${childUrl}/`, { expect: 'Hello Kid!\n' }),
      'Hello Kid!\n',
    );
    const node2Info = await desk(['computer', 'info', 'COMP-2', '--json']);
    assert.match(node2Info, /child-of-tree-a/);
    assert.doesNotMatch(node2Info, /hello-a/);
  } finally {
    for (const [host, cfg] of nodes)
      await site.slapos(host, ['node', 'supervisorctl', '--cfg', cfg, 'shutdown']).catch(() => undefined);
    await stopMaster?.();
    await site.network.destroy();
    await rm(site.dir, { recursive: true, force: true });
  }
});

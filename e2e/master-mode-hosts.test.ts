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
import { fileURLToPath } from 'node:url';
import { cleanEnv, type ExecResult } from '../src/lib/exec.ts';
import { createTestNetwork, fetchFrom, type TestNetwork } from '../src/testing/netns.ts';
import { makeTempDir, writeSandboxCfg } from '../src/testing/node.ts';
import { writeTestReleases } from '../src/testing/test-releases.ts';
import { waitFor } from '../src/testing/supervisor.ts';

const SLAPOS = fileURLToPath(new URL('../../bin/slapos.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/hello/software.cfg', import.meta.url));
const MASTER_PORT = 8080;

interface ServiceInfo {
  connection_parameters: Record<string, unknown>;
}

/** `slapos args` on `host`, asserted to exit with `code` (default 0). */
async function slapos(
  network: TestNetwork,
  host: string,
  args: readonly string[],
  code = 0,
): Promise<ExecResult> {
  const result = await network.exec(host, [process.execPath, SLAPOS, ...args], {
    env: cleanEnv(),
    timeoutMs: 240_000,
  });
  assert.equal(
    result.exitCode,
    code,
    `slapos ${args.join(' ')} on ${host}: exit ${String(result.exitCode)}\n${result.stderr}${result.stdout}`,
  );
  return result;
}

/** `slapos proxy start` on `host`, listening on all its addresses; resolves once it listens. */
async function startMaster(network: TestNetwork, host: string, dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const args = ['proxy', 'start', '--insecure-listen', '--host', '::', '--port', String(MASTER_PORT)];
  const master = network.spawn(host, [
    process.execPath,
    SLAPOS,
    ...args,
    '--database',
    join(dir, 'proxy.db'),
  ]);
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
async function formatNode(
  network: TestNetwork,
  host: string,
  options: { dir: string; computerId: string; masterUrl: string },
): Promise<string> {
  await mkdir(options.dir);
  const cfg = await writeSandboxCfg(options.dir, {
    slapos: { computer_id: options.computerId, master_url: `${options.masterUrl}/` },
    slapformat: { partition_amount: 2 },
  });
  await slapos(network, host, ['-q', 'node', 'format', '--cfg', cfg, '--now']);
  return cfg;
}

test('a master and compute nodes on separate hosts: the example and an instance tree spanning two nodes', async () => {
  const dir = await makeTempDir('slapos-hosts-');
  const network = await createTestNetwork({ hosts: ['master', 'desk', 'node1', 'node2'] });
  let stopMaster: (() => Promise<void>) | undefined;
  const nodes: { host: string; cfg: string }[] = [];
  try {
    const master = network.host('master');
    stopMaster = await startMaster(network, 'master', join(dir, 'master'));
    const overIpv4 = `http://${master.ipv4}:${MASTER_PORT}`;
    const overIpv6 = `http://[${master.ipv6}]:${MASTER_PORT}`;
    const desk = async (args: readonly string[]): Promise<string> =>
      (await slapos(network, 'desk', [...args, '--master-url', overIpv6])).stdout;
    const pass = async (host: string, command: 'software' | 'instance', code = 0): Promise<void> => {
      const node = nodes.find((n) => n.host === host);
      assert.ok(node);
      await slapos(network, host, ['-q', 'node', command, '--cfg', node.cfg, '--now'], code);
    };

    // The nodes: node1 talks to the master over IPv4, node2 over IPv6.
    const [node1Cfg, node2Cfg] = await Promise.all([
      formatNode(network, 'node1', { dir: join(dir, 'node1'), computerId: 'COMP-1', masterUrl: overIpv4 }),
      formatNode(network, 'node2', { dir: join(dir, 'node2'), computerId: 'COMP-2', masterUrl: overIpv6 }),
    ]);
    nodes.push({ host: 'node1', cfg: node1Cfg }, { host: 'node2', cfg: node2Cfg });

    // The releases: examples/hello (pinning this Node.js, as a user would) and the composite one.
    const hello = join(dir, 'releases', 'hello', 'software.cfg');
    await mkdir(dirname(hello), { recursive: true });
    await writeFile(hello, `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`);
    const { composite } = await writeTestReleases(join(dir, 'releases'));
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
      await fetchFrom(network, 'node1', `${helloUrl}/`, { expect: 'Hello Alice!\n' }),
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
      await fetchFrom(network, 'node2', `${childUrl}/`, { expect: 'Hello Kid!\n' }),
      'Hello Kid!\n',
    );
    const node2Info = JSON.parse(await desk(['computer', 'info', 'COMP-2', '--json'])) as unknown;
    assert.match(JSON.stringify(node2Info), /child-of-tree-a/);
    assert.doesNotMatch(JSON.stringify(node2Info), /hello-a/);
  } finally {
    for (const node of nodes)
      await network
        .exec(node.host, [process.execPath, SLAPOS, 'node', 'supervisorctl', '--cfg', node.cfg, 'shutdown'], {
          env: cleanEnv(),
          timeoutMs: 60_000,
        })
        .catch(() => undefined);
    await stopMaster?.();
    await network.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * Several machines, tested for real (issue 8): a master and compute nodes on separate hosts, each
 * host a network namespace of a test network (src/testing/netns.ts), every step the `slapos`
 * command as a user would type it on that host. Hosts: `master`, `desk` (where the users type
 * their commands) and `node1`; the master listens on all its addresses, node1 talks to it over
 * IPv4 and the desk over IPv6.
 *
 * The scenario, and where this test is:
 *   - the master started                            proxy mode (`slapos proxy start --insecure-listen`)
 *   - users A and B, their tokens                   not yet written (`slapos master` is being built)
 *   - nodes registered with tokens, over TLS        not yet written: node1 formats itself (`node format`)
 *   - A deploys the example on node 1               written: supply, node software, request, node
 *                                                   instance, the service answering on node1
 *   - A's tree with a child on node 2 (SLA)         not yet written (node2)
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
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, type ExecResult } from '../src/lib/exec.ts';
import { createTestNetwork, fetchFrom, type TestNetwork } from '../src/testing/netns.ts';
import { makeTempDir, writeSandboxCfg } from '../src/testing/node.ts';
import { waitFor } from '../src/testing/supervisor.ts';

const SLAPOS = fileURLToPath(new URL('../../bin/slapos.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/hello/software.cfg', import.meta.url));
const MASTER_PORT = 8080;

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

test('a master and a compute node on separate hosts: the hello example deployed over IPv4 and IPv6', async () => {
  const dir = await makeTempDir('slapos-hosts-');
  const network = await createTestNetwork({ hosts: ['master', 'desk', 'node1'] });
  let stopMaster: (() => Promise<void>) | undefined;
  let node1Cfg: string | undefined;
  try {
    const master = network.host('master');
    stopMaster = await startMaster(network, 'master', join(dir, 'master'));
    const overIpv4 = `http://${master.ipv4}:${MASTER_PORT}`;
    const overIpv6 = `http://[${master.ipv6}]:${MASTER_PORT}`;
    const desk = (args: readonly string[]): Promise<ExecResult> =>
      slapos(network, 'desk', [...args, '--master-url', overIpv6]);

    // Node 1: a sandbox compute node, formatted on the master (over IPv4).
    const node1Dir = join(dir, 'node1');
    await mkdir(node1Dir);
    node1Cfg = await writeSandboxCfg(node1Dir, {
      slapos: { computer_id: 'COMP-1', master_url: `${overIpv4}/` },
      slapformat: { partition_amount: 2 },
    });
    await slapos(network, 'node1', ['-q', 'node', 'format', '--cfg', node1Cfg, '--now']);

    // User A deploys the example on node 1: the release extends examples/hello, pinning this Node.js.
    const release = join(dir, 'releases', 'hello');
    await mkdir(release, { recursive: true });
    const url = join(release, 'software.cfg');
    await writeFile(url, `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`);
    await desk(['supply', url, 'COMP-1']);
    await slapos(network, 'node1', ['-q', 'node', 'software', '--cfg', node1Cfg, '--now']);
    await desk(['request', 'hello-a', url, '--node', 'computer_guid=COMP-1', '--parameters', 'name=Alice']);
    await slapos(network, 'node1', ['-q', 'node', 'instance', '--cfg', node1Cfg, '--now']);

    const info = JSON.parse((await desk(['service', 'info', 'hello-a', '--json'])).stdout) as {
      connection_parameters: Record<string, unknown>;
    };
    assert.equal(info.connection_parameters.name, 'Hello Alice!');
    const serviceUrl = info.connection_parameters.url;
    assert.equal(typeof serviceUrl, 'string');
    assert.equal(
      await fetchFrom(network, 'node1', `${String(serviceUrl)}/`, { expect: 'Hello Alice!\n' }),
      'Hello Alice!\n',
    );
    const computer = JSON.parse((await desk(['computer', 'info', 'COMP-1', '--json'])).stdout) as unknown;
    assert.match(JSON.stringify(computer), /hello-a/);
  } finally {
    if (node1Cfg !== undefined)
      await network
        .exec('node1', [process.execPath, SLAPOS, 'node', 'supervisorctl', '--cfg', node1Cfg, 'shutdown'], {
          env: cleanEnv(),
          timeoutMs: 60_000,
        })
        .catch(() => undefined);
    await stopMaster?.();
    await network.destroy();
    await rm(dir, { recursive: true, force: true });
  }
});

/**
 * Several machines, tested for real (issue 8): a master in master mode and compute nodes on
 * separate hosts, each host a network namespace of a test network (src/testing/netns.ts), every
 * step the `slapos` command a person types on that host, as README's "Your own SlapOS cloud" says.
 *
 * Hosts: `master`; `desk`, where users A (alice) and B (bob) type their commands; `node1`, `node2`
 * and `node3`. The master listens on all its addresses; its public name `master.test` resolves to
 * its IPv4 address on node1 and to its IPv6 address elsewhere, so both go through TLS with the one
 * server certificate. Only the test network's addresses are ever contacted.
 *
 * The scenario: alice registers three nodes with one-time tokens (a reused token fails); she
 * deploys the example on node 1, and an instance tree whose child the computer_guid SLA places on
 * node 2 and whose root publishes the child's URL; she opens node 3 to everybody. Bob sees none of
 * alice's services or nodes and is placed on node 3, never on her personal nodes. Revoking node 2
 * stops its calls at once while its service keeps answering. No output of any command but the two
 * that hand out tokens, no log of the master and no log file of any host holds a token or a private
 * key. Node 2's certificate cannot read node 1's partitions (refused as for a missing node).
 *
 * Not written here: an expired token (a token lives at least a minute, too long to wait for here:
 * src/master/master-mode-registration.test.ts has it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packageRoot } from '../src/lib/package-root.ts';
import { HostsSite, logFiles } from '../src/testing/hosts-site.ts';
import { createTestNetwork, fetchFrom } from '../src/testing/netns.ts';
import { makeTempDir } from '../src/testing/node.ts';
import { writeTestReleases } from '../src/testing/test-releases.ts';

const EXAMPLE = join(packageRoot(), 'examples', 'hello', 'software.cfg');

interface ServiceInfo {
  instance_guid: string;
  connection_parameters: Record<string, unknown>;
}

test('a master and three nodes on separate hosts, two users: tokens, TLS, placement, isolation, revocation', async () => {
  const hosts = ['master', 'desk', 'node1', 'node2', 'node3'];
  const site = new HostsSite(await createTestNetwork({ hosts }), await makeTempDir('slapos-hosts-'));
  const { network } = site;
  let stopMaster: (() => Promise<void>) | undefined;
  const nodes = new Map<string, { cfg: string; id: string }>();
  try {
    await site.makeHostDirs();
    await network.setHostNames('node1', { 'master.test': network.host('master').ipv4 });
    for (const host of ['desk', 'node2', 'node3'])
      await network.setHostNames(host, { 'master.test': network.host('master').ipv6 });

    // The master, and its users (on the master's machine).
    const master = await site.startMaster('master');
    stopMaster = master.stop;
    const aliceToken = await site.addUser('master', master, 'alice');
    const bobToken = await site.addUser('master', master, 'bob');

    // Every machine gets the master's CA (public) copied over.
    await site.copyMasterCa(master, hosts.slice(1));

    // The users configure their client on the desk.
    const aliceCfg = await site.configureClient('desk', 'alice', aliceToken);
    const bobCfg = await site.configureClient('desk', 'bob', bobToken);
    const alice = (args: readonly string[], code = 0): Promise<string> =>
      site.slapos('desk', [...args, '--cfg', aliceCfg], { code });
    const bob = (args: readonly string[], code = 0): Promise<string> =>
      site.slapos('desk', [...args, '--cfg', bobCfg], { code });

    // Alice registers three nodes, each with a one-time token; a reused token fails.
    const registrationToken = (): Promise<string> => site.registrationToken('desk', aliceCfg);
    const register = site.register.bind(site);
    const tokens = [await registrationToken(), await registrationToken(), await registrationToken()];
    await Promise.all(
      ['node1', 'node2', 'node3'].map(async (host, index) => {
        const registered = JSON.parse(await register(host, tokens[index] ?? '')) as {
          computer_id: string;
          config_file: string;
        };
        nodes.set(host, { cfg: registered.config_file, id: registered.computer_id });
        await site.slapos(host, ['-q', 'node', 'format', '--cfg', registered.config_file, '--now']);
      }),
    );
    await register('node3', tokens[0] ?? '', {
      configDir: 'again',
      code: 1,
      stderr: /refused the registration token/,
    });
    const node = (host: string): { cfg: string; id: string } => {
      const found = nodes.get(host);
      assert.ok(found, host);
      return found;
    };
    const pass = (host: string, command: 'software' | 'instance', code = 0): Promise<string> =>
      site.slapos(host, ['-q', 'node', command, '--cfg', node(host).cfg, '--now'], { code });

    // The releases (on the shared disk, as a URL all nodes reach): examples/hello pinning this
    // Node.js, and the composite one.
    const releases = join(site.dir, 'releases');
    const hello = join(releases, 'hello', 'software.cfg');
    await mkdir(dirname(hello), { recursive: true });
    await writeFile(hello, `[buildout]\nextends = ${EXAMPLE}\n\n[node]\nexecutable = ${process.execPath}\n`);
    const { composite } = await writeTestReleases(releases);
    await alice(['supply', hello, node('node1').id]);
    await alice(['supply', composite, node('node1').id]);
    await alice(['supply', composite, node('node2').id]);
    await alice(['supply', hello, node('node3').id]);
    await Promise.all([pass('node1', 'software'), pass('node2', 'software'), pass('node3', 'software')]);

    // Alice deploys the example on node 1.
    await alice([
      'request',
      'hello-a',
      hello,
      '--node',
      `computer_guid=${node('node1').id}`,
      '--parameters',
      'name=Alice',
    ]);
    await pass('node1', 'instance');
    const helloInfo = JSON.parse(await alice(['service', 'info', 'hello-a', '--json'])) as ServiceInfo;
    assert.equal(helloInfo.connection_parameters.name, 'Hello Alice!');
    assert.equal(
      await fetchFrom(network, 'node1', `${String(helloInfo.connection_parameters.url)}/`, {
        expect: 'Hello Alice!\n',
      }),
      'Hello Alice!\n',
    );

    // Alice's instance tree: its root on node 1, its child placed on node 2 by the computer_guid
    // SLA; the root publishes the child's URL, which node 2 serves.
    await alice(
      ['request', 'tree-a', composite, '--node', `computer_guid=${node('node1').id}`].concat([
        '--parameters',
        'name=Kid',
        `child-node=${node('node2').id}`,
      ]),
    );
    await pass('node1', 'instance', 1); // the root fails: its child has no URL yet
    await pass('node2', 'instance');
    await pass('node1', 'instance');
    const treeInfo = JSON.parse(await alice(['service', 'info', 'tree-a', '--json'])) as ServiceInfo;
    const childUrl = `${String(treeInfo.connection_parameters['child-url'])}/`;
    assert.match(childUrl, /^http:\/\/127\./);
    assert.equal(await fetchFrom(network, 'node2', childUrl, { expect: 'Hello Kid!\n' }), 'Hello Kid!\n');
    const node2Info = await alice(['computer', 'info', node('node2').id, '--json']);
    assert.match(node2Info, /child-of-tree-a/);

    // Bob sees none of alice's services or nodes, and is placed on node 3 once alice opens it.
    await alice(['computer', 'update', node('node3').id, '--allocation-scope', 'open']);
    const bobServices = await bob(['service', 'list', '--json']);
    assert.doesNotMatch(bobServices, /hello-a|tree-a/);
    // Refused exactly as a missing object is: bob learns nothing of what exists.
    const refusal = async (args: readonly string[], name: string): Promise<string> => {
      const result = await site.run('desk', [...args, '--cfg', bobCfg]);
      assert.equal(result.exitCode, 1, result.stderr);
      return result.stderr.replaceAll(name, 'NAME');
    };
    assert.equal(
      await refusal(['service', 'info', 'hello-a'], 'hello-a'),
      await refusal(['service', 'info', 'hello-z'], 'hello-z'),
    );
    assert.equal(
      await refusal(['computer', 'info', node('node1').id], node('node1').id),
      await refusal(['computer', 'info', 'COMP-999'], 'COMP-999'),
    );
    await bob(['supply', hello, node('node1').id], 1);
    await bob(['request', 'hello-b', hello, '--parameters', 'name=Bob'], 0);
    await pass('node3', 'instance');
    const bobInfo = JSON.parse(await bob(['service', 'info', 'hello-b', '--json'])) as ServiceInfo;
    assert.equal(bobInfo.connection_parameters.name, 'Hello Bob!');
    assert.match(await alice(['computer', 'info', node('node3').id, '--json']), /hello-b/);
    for (const host of ['node1', 'node2'])
      assert.doesNotMatch(await alice(['computer', 'info', node(host).id, '--json']), /hello-b/);
    assert.equal(
      await fetchFrom(network, 'node3', `${String(bobInfo.connection_parameters.url)}/`, {
        expect: 'Hello Bob!\n',
      }),
      'Hello Bob!\n',
    );

    // Node 2's certificate cannot read node 1's partitions: refused as a missing node is.
    const asNode2 = async (computerId: string): Promise<string> => {
      const args = [
        '-q',
        'node',
        'instance',
        '--cfg',
        node('node2').cfg,
        '--now',
        '--computer-id',
        computerId,
      ];
      const result = await site.run('node2', args);
      assert.notEqual(result.exitCode, 0, result.stdout);
      const said = result.stderr.replaceAll(computerId, 'NODE');
      assert.match(said, /NODE/, 'the refusal is about the node asked for');
      return said;
    };
    assert.equal(await asNode2(node('node1').id), await asNode2('COMP-999'));

    // Revoking node 2 stops its calls at once; its service keeps running.
    await site.slapos('master', ['master', 'node', 'revoke', node('node2').id, '--dir', master.dir]);
    await site.slapos('node2', ['-q', 'node', 'instance', '--cfg', node('node2').cfg, '--now'], {
      code: 1,
      stderr: /certificate refused: it has been revoked[^]*must be registered again/,
    });
    assert.equal(await fetchFrom(network, 'node2', childUrl, { expect: 'Hello Kid!\n' }), 'Hello Kid!\n');

    await stopMaster();
    stopMaster = undefined;
    const logs = await logFiles(site.dir);
    for (const name of ['/supervisord.log', '/instance.log', '/hello-web.log'])
      assert.ok(
        logs.some((file) => file.endsWith(name)),
        `${name} among ${logs.join(' ')}`,
      );
    for (const file of logs) site.outputs.push(await readFile(file, 'utf8'));
    const everything = site.outputs.join('\n');
    for (const secret of site.secrets)
      assert.ok(!everything.includes(secret), 'a token was printed or logged');
    assert.ok(!everything.includes('PRIVATE KEY'), 'a private key was printed or logged');
  } finally {
    for (const [host, { cfg }] of nodes)
      await site.slapos(host, ['node', 'supervisorctl', '--cfg', cfg, 'shutdown']).catch(() => undefined);
    await stopMaster?.().catch(() => undefined);
    await network.destroy();
    await rm(site.dir, { recursive: true, force: true });
  }
});

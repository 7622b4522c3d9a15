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
import { once } from 'node:events';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cleanEnv, type ExecResult } from '../src/lib/exec.ts';
import { packageRoot, slaposBinPath } from '../src/lib/package-root.ts';
import { createTestNetwork, fetchFrom, type TestNetwork } from '../src/testing/netns.ts';
import { makeTempDir } from '../src/testing/node.ts';
import { writeTestReleases } from '../src/testing/test-releases.ts';
import { waitFor } from '../src/testing/supervisor.ts';

const SLAPOS = slaposBinPath();
const EXAMPLE = join(packageRoot(), 'examples', 'hello', 'software.cfg');
const MASTER_URL = 'https://master.test:8443';

interface ServiceInfo {
  instance_guid: string;
  connection_parameters: Record<string, unknown>;
}

/**
 * The hosts of the test network with a directory each (`<dir>/<host>`, as a machine's disk) and a
 * HOME of their own in it: nothing of this machine's user configuration reaches the commands.
 * Every output is kept, to be searched for secrets.
 */
class Site {
  /** Outputs of the commands and logs of the daemons (not those meant to print a token). */
  readonly outputs: string[] = [];
  readonly secrets: string[] = [];

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

  /** `slapos args` on `host`, whatever its exit code; `printsSecret`: its job is to print a token. */
  async run(
    host: string,
    args: readonly string[],
    options: { printsSecret?: boolean } = {},
  ): Promise<ExecResult> {
    const result = await this.network.exec(host, [process.execPath, SLAPOS, ...args], {
      env: this.env(host),
      timeoutMs: 240_000,
    });
    // What is printed to hand out a token is kept out of the outputs searched for secrets.
    if (options.printsSecret === true) this.outputs.push(result.stderr);
    else this.outputs.push(result.stdout, result.stderr);
    return result;
  }

  /** `slapos args` on `host`, asserted to exit with `code` (default 0) and print `stderr`; its stdout. */
  async slapos(
    host: string,
    args: readonly string[],
    options: { code?: number; printsSecret?: boolean; stderr?: RegExp } = {},
  ): Promise<string> {
    const result = await this.run(host, args, options);
    assert.equal(
      result.exitCode,
      options.code ?? 0,
      `slapos ${args.join(' ')} on ${host}: exit ${String(result.exitCode)}\n${result.stderr}${result.stdout}`,
    );
    if (options.stderr !== undefined) assert.match(result.stderr, options.stderr);
    return result.stdout;
  }

  /**
   * `slapos master start` on `host`, on all its addresses, reached as MASTER_URL; resolves once it
   * listens, with its directory and the function that stops it (SIGTERM, asserted to exit 0).
   */
  async startMaster(host: string): Promise<{ dir: string; stop: () => Promise<void> }> {
    const dir = join(this.hostDir(host), 'master');
    const argv = [process.execPath, SLAPOS, 'master', 'start', '--dir', dir, '--host', '::'];
    argv.push('--port', new URL(MASTER_URL).port, '--public-url', MASTER_URL);
    const master = this.network.spawn(host, argv, { env: this.env(host) });
    const exited = once(master, 'exit');
    let log = '';
    master.stdout?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    master.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    await waitFor('the master listening', () => {
      if (master.exitCode !== null) throw new Error(`the master exited (${master.exitCode}): ${log}`);
      return log.includes('SlapOS master listening on');
    });
    const stop = async (): Promise<void> => {
      if (master.exitCode === null && master.signalCode === null) master.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      this.outputs.push(log);
      assert.equal(code, 0, `the master stopped: ${log}`);
    };
    return { dir, stop };
  }
}

/** Every log file under `dir` (`*.log`, or in a `log` directory). */
async function logFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && (e.name.endsWith('.log') || /(^|\/)log$/.test(e.parentPath)))
    .map((e) => join(e.parentPath, e.name));
}

test('a master and three nodes on separate hosts, two users: tokens, TLS, placement, isolation, revocation', async () => {
  const hosts = ['master', 'desk', 'node1', 'node2', 'node3'];
  const site = new Site(await createTestNetwork({ hosts }), await makeTempDir('slapos-hosts-'));
  const { network } = site;
  let stopMaster: (() => Promise<void>) | undefined;
  const nodes = new Map<string, { cfg: string; id: string }>();
  try {
    for (const host of hosts) await mkdir(join(site.hostDir(host), 'home'), { recursive: true });
    await network.setHostNames('node1', { 'master.test': network.host('master').ipv4 });
    for (const host of ['desk', 'node2', 'node3'])
      await network.setHostNames(host, { 'master.test': network.host('master').ipv6 });

    // The master, and its users (on the master's machine).
    const master = await site.startMaster('master');
    stopMaster = master.stop;
    const addUser = async (name: string): Promise<string> => {
      const added = await site.slapos(
        'master',
        ['master', 'user', 'add', name, '--dir', master.dir, '--json'],
        {
          printsSecret: true,
        },
      );
      const { token } = JSON.parse(added) as { token: string };
      site.secrets.push(token);
      return token;
    };
    const aliceToken = await addUser('alice');
    const bobToken = await addUser('bob');

    // Every machine gets the master's CA (public) copied over.
    const caFile = (host: string): string => join(site.hostDir(host), 'master-ca.crt');
    for (const host of hosts.slice(1)) await copyFile(join(master.dir, 'ca.crt'), caFile(host));

    // The users configure their client on the desk.
    const configure = async (user: string, token: string): Promise<string> => {
      const cfg = join(site.hostDir('desk'), `${user}.cfg`);
      const args = ['configure', 'client', '--master-url', MASTER_URL, '--token', token];
      await site.slapos('desk', [...args, '--ca-file', caFile('desk'), '--cfg', cfg]);
      return cfg;
    };
    const aliceCfg = await configure('alice', aliceToken);
    const bobCfg = await configure('bob', bobToken);
    const alice = (args: readonly string[], code = 0): Promise<string> =>
      site.slapos('desk', [...args, '--cfg', aliceCfg], { code });
    const bob = (args: readonly string[], code = 0): Promise<string> =>
      site.slapos('desk', [...args, '--cfg', bobCfg], { code });

    // Alice registers three nodes, each with a one-time token; a reused token fails.
    const registrationToken = async (): Promise<string> => {
      const created = await site.slapos(
        'desk',
        ['token', 'create', '--expires', '10m', '--json', '--cfg', aliceCfg],
        {
          printsSecret: true,
        },
      );
      const { token } = JSON.parse(created) as { token: string };
      site.secrets.push(token);
      return token;
    };
    const register = (
      host: string,
      token: string,
      options: { configDir?: string; code?: number; stderr?: RegExp } = {},
    ): Promise<string> =>
      site.slapos(
        host,
        [
          'node',
          'register',
          host,
          '--master-url',
          MASTER_URL,
          '--token',
          token,
          '--ca-file',
          caFile(host),
        ].concat([
          '--config-dir',
          join(site.hostDir(host), options.configDir ?? 'node'),
          '--sandbox',
          '--partition-number',
          '2',
          '--json',
        ]),
        options,
      );
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

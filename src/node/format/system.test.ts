/**
 * System mode, for real: users and groups are created on this machine (unique test prefix, deleted
 * afterwards) and addresses inside a network namespace this test creates, never on the host's own
 * interfaces. Needs root; without it the test fails, it does not skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from '../../lib/exec.ts';
import { makeTempDir, RecordingRegistrar, writeSandboxCfg } from '../../testing/node.ts';
import { loadNodeConfig } from '../config.ts';
import { formatComputeNode } from './format.ts';
import { Host } from './host.ts';
import { loadFormatState, stateFilePath } from './state.ts';

async function sh(argv: string[]): Promise<string> {
  const [file = '', ...args] = argv;
  const result = await execFile(file, args, { timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function tryRun(argv: string[]): Promise<void> {
  const [file = '', ...args] = argv;
  await execFile(file, args, { timeoutMs: 30_000 });
}

/** (interface, address) pairs of the host's own network namespace. */
async function hostAddressPairs(): Promise<string[]> {
  const links = JSON.parse(await sh(['ip', '-json', 'address', 'show'])) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  return links.flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}`)).sort();
}

test('system mode creates users, addresses, ranges and owned directories inside a netns, idempotently', async () => {
  assert.equal(
    process.getuid?.(),
    0,
    'this test must run as root (it creates users and a network namespace)',
  );
  const tag = randomBytes(3).toString('hex');
  const netns = `slapfmt-${tag}`;
  const prefix = `t${tag}`;
  const users = [`${prefix}u0`, `${prefix}u1`, `${prefix}u2`, `${prefix}u3`, `${prefix}soft`];
  const dir = await makeTempDir('slapos-format-system-');
  const hostBefore = await hostAddressPairs();
  try {
    await sh(['ip', 'netns', 'add', netns]);
    await sh(['ip', '-n', netns, 'link', 'set', 'lo', 'up']);
    await sh(['ip', '-n', netns, 'link', 'add', 'slap0', 'type', 'veth', 'peer', 'name', 'peer0']);
    await sh(['ip', '-n', netns, 'link', 'set', 'slap0', 'up']);
    await sh(['ip', '-n', netns, 'link', 'set', 'peer0', 'up']);
    await sh(['ip', '-n', netns, '-6', 'address', 'add', '2001:db8:5:1::1/64', 'dev', 'slap0', 'nodad']);
    await sh(['ip', '-n', netns, '-4', 'address', 'add', '10.99.0.1/24', 'dev', 'slap0']);

    // A user left from elsewhere with the wrong home and shell gets fixed (usermod), not recreated.
    await sh(['useradd', '-r', '-U', '-d', '/nonexistent', '-s', '/bin/false', `${prefix}u1`]);

    const cfg = await writeSandboxCfg(dir, {
      slapos: { sandbox: false },
      slapformat: {
        partition_amount: 2,
        interface_name: 'slap0',
        ipv4_local_network: '10.99.0.0/24',
        user_base_name: `${prefix}u`,
        software_user: `${prefix}soft`,
      },
    });
    const registrar = new RecordingRegistrar();
    const format = async (overrides: Record<string, number> = {}) => {
      const config = await loadNodeConfig({ cfg, overrides, isRoot: true });
      const host = new Host({ netns });
      const result = await formatComputeNode(config, { registrar, host, isRoot: true });
      return { result, host };
    };

    const first = await format();
    assert.equal(first.result.mode, 'system');
    assert.equal(first.result.posted, true);
    const kinds = first.result.actions.map((a) => a.kind);
    for (const kind of ['groupadd', 'useradd', 'sysctl', 'address', 'local-route', 'mkdir', 'chown'])
      assert.ok(kinds.includes(kind as never), `a ${kind} action was applied`);

    assert.ok(
      first.result.actions.some((a) => a.kind === 'usermod' && a.user === `${prefix}u1`),
      'the existing user is modified',
    );
    const fixed = (await sh(['getent', 'passwd', `${prefix}u1`])).trim().split(':');
    assert.deepEqual([fixed[5], fixed[6]], [join(dir, 'srv', 'slappart1'), '/bin/sh']);
    assert.match(await sh(['id', '-nG', `${prefix}u1`]), new RegExp(`\\b${prefix}soft\\b`));

    const passwd = await sh(['getent', 'passwd', `${prefix}u0`]);
    const [, , uid, gid, , home, shell] = passwd.trim().split(':');
    const partition0 = join(dir, 'srv', 'slappart0');
    assert.equal(home, partition0);
    assert.equal(shell, '/bin/sh');
    assert.match(await sh(['id', '-nG', `${prefix}u0`]), new RegExp(`\\b${prefix}soft\\b`));
    const info = await stat(partition0);
    assert.equal(info.mode & 0o7777, 0o750);
    assert.equal(info.uid, Number(uid));
    assert.equal(info.gid, Number(gid));
    const softwareRoot = await stat(join(dir, 'opt'));
    assert.equal(softwareRoot.uid, Number((await sh(['id', '-u', `${prefix}soft`])).trim()));

    // Partition addresses: the lowest free IPv4 of the pool (10.99.0.1 is the interface's) and
    // prefix::2, ::3 for IPv6; each partition has a local route for its /80 range.
    const description = registrar.received[0]?.compute_partition_list ?? [];
    assert.deepEqual(
      description.map((p) => p.ip_list?.map((ip) => `${ip['ip-address']}/${ip.netmask}`)),
      [
        ['10.99.0.2/255.255.255.255', '2001:db8:5:1::2/ffff:ffff:ffff:ffff::'],
        ['10.99.0.3/255.255.255.255', '2001:db8:5:1::3/ffff:ffff:ffff:ffff::'],
      ],
    );
    const inNs = await sh(['ip', '-n', netns, 'address', 'show', 'dev', 'slap0']);
    for (const address of ['10.99.0.2/32', '10.99.0.3/32', '2001:db8:5:1::2/64', '2001:db8:5:1::3/64'])
      assert.ok(inNs.includes(address), `${address} is on slap0 in the namespace`);
    const routes = await sh(['ip', '-n', netns, '-6', 'route', 'show', 'table', 'local', 'type', 'local']);
    assert.match(routes, /2001:db8:5:1:4001::\/80 dev lo/);
    assert.match(routes, /2001:db8:5:1:4002::\/80 dev lo/);
    assert.equal(
      (await sh(['ip', 'netns', 'exec', netns, 'sysctl', '-n', 'net.ipv6.ip_nonlocal_bind'])).trim(),
      '1',
    );
    assert.deepEqual(first.result.layout.partitions[0]?.ipv6Range, {
      addr: '2001:db8:5:1:4001::',
      netmask: 'ffff:ffff:ffff:ffff:ffff::',
      network: '2001:db8:5:1:4001::/80',
      prefixlen: 80,
    });

    // Second run: nothing to do, only read-only commands.
    const second = await format();
    assert.deepEqual(second.result.actions, []);
    assert.deepEqual(
      second.host.commandLog.map((c) => c.argv.slice(0, 3).join(' ')),
      ['ip -json address', 'ip -6 -json', 'sysctl -n net.ipv6.ip_nonlocal_bind'],
    );
    assert.deepEqual(registrar.received[1], registrar.received[0]);

    // Growth keeps the existing addresses and adds one partition.
    const grown = await format({ partition_amount: 3 });
    assert.deepEqual(
      grown.result.actions
        .filter((a) => a.kind === 'address')
        .map((a) => (a.kind === 'address' ? a.address : '')),
      ['10.99.0.4', '2001:db8:5:1::4'],
    );
    assert.deepEqual(registrar.received[2]?.compute_partition_list.slice(0, 2), description);

    // Lost addresses (a reboot) come back on the next run, the same ones.
    await sh(['ip', '-n', netns, 'address', 'del', '10.99.0.2/32', 'dev', 'slap0']);
    const repaired = await format({ partition_amount: 3 });
    assert.deepEqual(repaired.result.actions, [
      { kind: 'address', address: '10.99.0.2', prefixLength: 32, interface: 'slap0' },
    ]);

    // A run that fails half-way (here: adding the IPv6 of a 4th partition) keeps its allocation:
    // the next run finishes the job with the same addresses.
    const failingExec: typeof execFile = (file, args, options) =>
      args.includes('2001:db8:5:1::5/64')
        ? Promise.resolve({
            exitCode: 2,
            signal: null,
            stdout: '',
            stderr: 'simulated failure',
            timedOut: false,
            durationMs: 0,
          })
        : execFile(file, args, options);
    const crashing = await loadNodeConfig({ cfg, overrides: { partition_amount: 4 }, isRoot: true });
    await assert.rejects(
      formatComputeNode(crashing, { registrar, host: new Host({ netns, exec: failingExec }), isRoot: true }),
      /simulated failure/,
    );
    const saved = await loadFormatState(stateFilePath(join(dir, 'srv')));
    assert.deepEqual(
      saved?.partitions[3]?.addresses.map((a) => a.addr),
      ['10.99.0.5', '2001:db8:5:1::5'],
    );
    const finished = await format({ partition_amount: 4 });
    assert.deepEqual(
      finished.result.actions.map((a) => a.kind),
      ['address', 'local-route', 'mkdir', 'chown', 'resource-file'],
    );
    assert.deepEqual(finished.result.layout.partitions[3]?.addresses, saved?.partitions[3]?.addresses);
    assert.deepEqual((await format({ partition_amount: 4 })).result.actions, []);

    assert.deepEqual(await hostAddressPairs(), hostBefore, "the host's own addresses are untouched");
  } finally {
    for (const user of users) await tryRun(['userdel', user]);
    for (const group of users) await tryRun(['groupdel', group]);
    await tryRun(['ip', 'netns', 'del', netns]);
    await rm(dir, { recursive: true, force: true });
  }
  const leftovers = await execFile('getent', ['passwd', ...users]);
  assert.equal(leftovers.stdout, '', 'test users are deleted');
});

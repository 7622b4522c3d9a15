/**
 * The multi-host test network, for real (root, iproute2): two hosts reach each other over IPv4 and
 * IPv6 through the switch's bridge, nothing is added to the host's own namespace and nothing routes
 * out of the test network, destroy() removes every namespace (and the processes left in them), and
 * the sweeper deletes what a dead process left. Without root or `ip` the test fails, it does not skip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execFile } from '../lib/exec.ts';
import { hostileString, seededRandom } from './hostile-strings.ts';
import { pidAlive, waitFor } from './supervisor.ts';
import { createTestNetwork, fetchFrom, sweepStaleTestNetworks, type TestNetwork } from './netns.ts';

async function ip(argv: string[]): Promise<string> {
  const result = await execFile('ip', argv, { timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new Error(`ip ${argv.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Links and addresses of the host's own namespace, as `ifname address` lines. */
async function hostNamespace(): Promise<string[]> {
  const links = JSON.parse(await ip(['-json', 'address', 'show'])) as {
    ifname: string;
    addr_info: { local: string }[];
  }[];
  return links.flatMap((l) => [l.ifname, ...l.addr_info.map((a) => `${l.ifname} ${a.local}`)]).sort();
}

async function namespaceNames(): Promise<string[]> {
  return (await ip(['netns', 'list'])).split('\n').map((line) => line.split(' ')[0] ?? '');
}

/** An HTTP server in `host` on its IPv4 and its IPv6 address (port 8000), answering with the peer's address. */
async function startEchoServer(network: TestNetwork, host: string): Promise<ChildProcess> {
  const { ipv4, ipv6 } = network.host(host);
  const script = [
    "const http = require('node:http');",
    'let ready = 0;',
    'for (const address of process.argv.slice(1)) {',
    "  http.createServer((req, res) => res.end('peer ' + req.socket.remoteAddress))",
    "    .listen(8000, address, () => { if (++ready === 2) process.stdout.write('ready\\n'); });",
    '}',
  ].join('\n');
  const server = network.spawn(host, [process.execPath, '-e', script, ipv4, ipv6]);
  let output = '';
  server.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  server.stdout?.setEncoding('utf8');
  const ready = new Promise<void>((resolve, reject) => {
    server.stdout?.on('data', (chunk: string) => chunk.includes('ready') && resolve());
    server.once('exit', (code) => reject(new Error(`the server exited (${String(code)}): ${output}`)));
  });
  await ready;
  return server;
}

test('two hosts reach each other over IPv4 and IPv6; the host namespace is untouched; destroy removes all', async () => {
  const before = await hostNamespace();
  const network = await createTestNetwork({ hosts: ['alpha', 'beta'] });
  let server: ChildProcess | undefined;
  try {
    const [alpha, beta] = network.hosts;
    assert.ok(alpha && beta);
    assert.deepEqual(
      network.hosts.map((h) => h.name),
      ['alpha', 'beta'],
    );
    assert.match(network.ipv4Subnet, /^10\.(2[0-4]\d|250)\.\d{1,3}\.0\/24$/);
    assert.match(network.ipv6Subnet, /^fd[0-9a-f]{2}:[1-9a-f][0-9a-f]{0,3}:[1-9a-f][0-9a-f]{0,3}::\/64$/);
    assert.notEqual(alpha.ns, beta.ns);
    assert.ok(alpha.ns.includes(String(process.pid)), 'the namespace names carry the pid');

    server = await startEchoServer(network, 'alpha');
    const exited = once(server, 'exit');
    assert.equal(await fetchFrom(network, 'beta', `http://${alpha.ipv4}:8000/`), `peer ${beta.ipv4}`);
    assert.equal(await fetchFrom(network, 'beta', `http://[${alpha.ipv6}]:8000/`), `peer ${beta.ipv6}`);

    // A name resolving, inside beta only, to alpha's IPv6 address.
    await network.setHostNames('beta', { 'alpha.test': alpha.ipv6 });
    assert.equal(await fetchFrom(network, 'beta', 'http://alpha.test:8000/'), `peer ${beta.ipv6}`);
    assert.equal(existsSync(`/etc/netns/${alpha.ns}/hosts`), false);
    for (const names of [{ 'a b': alpha.ipv4 }, { 'a\nb': alpha.ipv4 }, { 'alpha.test': 'alpha' }])
      await assert.rejects(network.setHostNames('beta', names), /not a host name|not an IP address/);

    // Nothing in the host's own namespace: no link, no address of ours.
    assert.deepEqual(await hostNamespace(), before);
    // And nothing routes out of the test network (the kernel answers without sending anything).
    for (const target of ['192.0.2.1', '2001:db8::1']) {
      const lookup = await network.exec('beta', ['ip', 'route', 'get', target]);
      assert.notEqual(lookup.exitCode, 0, `${target} has no route from a test host`);
      assert.match(lookup.stderr, /unreachable/i);
    }

    const names = network.hosts.map((h) => h.ns);
    const listed = await namespaceNames();
    for (const ns of names) assert.ok(listed.includes(ns), `${ns} is listed`);

    await network.destroy();
    // The server left in alpha was killed with its namespace.
    assert.deepEqual(await exited, [null, 'SIGKILL']);
    const after = await namespaceNames();
    const pidPrefix = alpha.ns.slice(0, alpha.ns.lastIndexOf('-h-'));
    assert.deepEqual(
      after.filter((ns) => ns.startsWith(pidPrefix)),
      [],
    );
    assert.deepEqual(await hostNamespace(), before);
    assert.equal(existsSync(`/etc/netns/${beta.ns}`), false, "beta's /etc files are removed");
    await network.destroy();
    assert.throws(() => network.spawn('alpha', ['true']), /destroyed/);
  } finally {
    await network.destroy();
    if (server?.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
});

test('a process that exits without destroy() leaves no namespace, and no process in them', async () => {
  const module = new URL('./netns.js', import.meta.url).href;
  const script = `
    const { createTestNetwork } = await import(${JSON.stringify(module)});
    const network = await createTestNetwork({ hosts: ['solo'] });
    const sleeper = network.spawn('solo', ['sleep', '600'], { stdio: 'ignore' });
    sleeper.unref();
    process.stdout.write(JSON.stringify({ ns: network.host('solo').ns, sleeper: sleeper.pid }));
  `;
  const child = await execFile(process.execPath, ['--input-type=module', '-e', script], {
    timeoutMs: 60_000,
  });
  assert.equal(child.exitCode, 0, child.stderr);
  const { ns, sleeper } = JSON.parse(child.stdout) as { ns: string; sleeper: number };
  assert.match(ns, /^slapos-tn-\d+-0-h-solo$/);
  const prefix = ns.slice(0, -'-h-solo'.length);
  assert.deepEqual(
    (await namespaceNames()).filter((name) => name.startsWith(prefix)),
    [],
  );
  await waitFor('the process left in the namespace killed', () => !pidAlive(sleeper));
});

test('the sweeper deletes the namespaces of a dead process, and the processes in them', async () => {
  const dead = spawn('true');
  await once(dead, 'exit');
  const ns = `slapos-tn-${String(dead.pid)}-0-sw`;
  await ip(['netns', 'add', ns]);
  const left = spawn('ip', ['netns', 'exec', ns, 'sleep', '600'], { stdio: 'ignore' });
  const leftExit = once(left, 'exit');
  try {
    const alive = `slapos-tn-${String(process.pid)}-999-sw`;
    await ip(['netns', 'add', alive]);
    try {
      // (Another test process creating a network at this moment may sweep it first: same code.)
      const swept = sweepStaleTestNetworks();
      assert.ok(!swept.includes(alive), 'the namespaces of a live process stay');
      assert.deepEqual(await leftExit, [null, 'SIGKILL']);
      assert.ok(!(await namespaceNames()).includes(ns));
      assert.ok((await namespaceNames()).includes(alive));
    } finally {
      await ip(['netns', 'delete', alive]);
    }
  } finally {
    if (left.exitCode === null && left.signalCode === null) left.kill('SIGKILL');
    if ((await namespaceNames()).includes(ns)) await ip(['netns', 'delete', ns]);
  }
});

test('host names other than [a-z][a-z0-9-]{0,31}, repeated or none are refused before anything is created', async () => {
  const before = await namespaceNames();
  const random = seededRandom(8);
  const bad = ['', 'Node1', '1node', 'a'.repeat(33), 'node_1', 'node 1', 'a/b', 'a\n', '-a'];
  for (let i = 0; i < 50; i++) bad.push(`n${hostileString(random)}x`.replace(/^n[a-z0-9-]*x$/, 'n_'));
  for (const name of bad)
    await assert.rejects(createTestNetwork({ hosts: [name] }), /does not match/, JSON.stringify(name));
  await assert.rejects(createTestNetwork({ hosts: ['a', 'a'] }), /repeat/);
  await assert.rejects(createTestNetwork({ hosts: [] }), /at least one host/);
  assert.deepEqual(await namespaceNames(), before);
});

/** The state letter of `pid` in /proc (`T`: stopped). */
async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

test('a host cut off is unreachable until reconnected (both addresses back); a frozen host answers nothing until thawed', async () => {
  const network = await createTestNetwork({ hosts: ['alpha', 'beta'] });
  try {
    const alpha = network.host('alpha');
    const server = await startEchoServer(network, 'alpha');
    const v4 = `http://${alpha.ipv4}:8000/`;
    const v6 = `http://[${alpha.ipv6}]:8000/`;
    const unreachable = (url: string): Promise<unknown> =>
      assert.rejects(fetchFrom(network, 'beta', url, { timeoutMs: 1500 }), /GET .* from beta/);

    await network.cutOff('alpha');
    await unreachable(v4);
    await unreachable(v6);
    const link = await network.exec('alpha', ['ip', '-json', 'link', 'show', 'eth0']);
    assert.match(link.stdout, /NO-CARRIER/, 'alpha sees its link without carrier');
    await network.reconnect('alpha');
    const peer = network.host('beta');
    assert.equal(await fetchFrom(network, 'beta', v4), `peer ${peer.ipv4}`);
    assert.equal(await fetchFrom(network, 'beta', v6), `peer ${peer.ipv6}`);

    // Frozen: every process of alpha stopped (the server and its `ip netns exec` parent alike).
    const sleeper = network.spawn('alpha', ['sleep', '600'], { stdio: 'ignore' });
    // Once `ip netns exec` has joined alpha and run sleep (same pid).
    await waitFor('the sleeper in alpha', async () => {
      const comm = await readFile(`/proc/${sleeper.pid ?? 0}/comm`, 'utf8').catch(() => '');
      return comm.trim() === 'sleep';
    });
    const frozen = await network.freeze('alpha');
    assert.ok(frozen.includes(server.pid ?? -1), 'the server is among the stopped');
    assert.ok(frozen.includes(sleeper.pid ?? -1), 'the sleeper is among the stopped');
    for (const pid of frozen) assert.equal(await processState(pid), 'T', `process ${pid} is stopped`);
    await unreachable(v4);
    assert.ok(!frozen.includes(process.pid), 'the test process is not in alpha');

    network.thaw('alpha');
    await waitFor('every process of alpha running again', async () =>
      (await Promise.all(frozen.map(processState))).every((state) => state !== 'T'),
    );
    assert.equal(await fetchFrom(network, 'beta', v4), `peer ${peer.ipv4}`);
    await assert.rejects(network.cutOff('gamma'), /no host "gamma"/);
    await assert.rejects(network.freeze('gamma'), /no host "gamma"/);
  } finally {
    await network.destroy();
  }
});

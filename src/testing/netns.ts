/**
 * An isolated test network of several "machines" on this one: a switch namespace holding a bridge,
 * and one network namespace per host, each joined to the bridge by a veth pair, with an IPv4 address
 * in a private /24 and an IPv6 ULA in a /64 (nodad: usable at once). Nothing is added to the host's
 * own namespace, and the namespaces have no route out: only their own addresses are ever contacted.
 *
 * Names carry the pid of the creating process (several test files run at once); networks left by a
 * dead process are swept by the next creation. Needs root and iproute2's `ip`.
 */
import { spawn as spawnChild, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { cleanEnv, execFile, type ExecOptions, type ExecResult } from '../lib/exec.ts';

/** Where `ip netns` keeps its named namespaces (iproute2's NETNS_RUN_DIR). */
const NETNS_DIR = '/var/run/netns';
/** Per-namespace files `ip netns exec` mounts over /etc (iproute2's NETNS_ETC_DIR). */
const NETNS_ETC_DIR = '/etc/netns';
const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const NAME_PREFIX = 'slapos-tn-';
const OWN_NAME = new RegExp(`^${NAME_PREFIX}(\\d+)-`);
const HOST_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const IP_TIMEOUT_MS = 30_000;
const EXEC_TIMEOUT_MS = 120_000;

export interface TestHost {
  /** The name given to createTestNetwork (`master`, `node1`…). */
  name: string;
  /** Its network namespace (`ip netns exec <ns> …`). */
  ns: string;
  ipv4: string;
  ipv6: string;
}

export interface TestNetwork {
  hosts: TestHost[];
  /** The IPv4 /24 and the IPv6 /64 of the network, in CIDR notation. */
  ipv4Subnet: string;
  ipv6Subnet: string;
  host(name: string): TestHost;
  /** Runs argv inside the host's namespace (clean environment unless `env`; default deadline 120 s). */
  exec(host: string, argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Starts argv inside the host's namespace, in its own process group; killed by destroy() at the latest. */
  spawn(
    host: string,
    argv: readonly string[],
    options?: { env?: Record<string, string>; cwd?: string; stdio?: StdioOptions },
  ): ChildProcess;
  /**
   * What names resolve to inside `host` (its own /etc/hosts, mounted by `ip netns exec`), besides
   * localhost: as a DNS name with A and AAAA records would, each host may get either address.
   */
  setHostNames(host: string, names: Readonly<Record<string, string>>): Promise<void>;
  /**
   * Cuts the host off: its port on the switch goes down, so its link loses its carrier (its own
   * addresses stay, as on a machine whose cable is pulled). `reconnect` puts the port up again.
   */
  cutOff(host: string): Promise<void>;
  reconnect(host: string): Promise<void>;
  /**
   * Stops (SIGSTOP) every process in the host's namespace, as a hung machine; resolves, once
   * every one is stopped, with their pids.
   * `thaw` continues (SIGCONT) every process in it.
   */
  freeze(host: string): Promise<number[]>;
  thaw(host: string): void;
  /** Kills every process left in the namespaces and deletes them (and their /etc files); idempotent. */
  destroy(): Promise<void>;
}

export interface TestNetworkOptions {
  hosts: readonly string[];
}

interface LiveNetwork {
  namespaces: readonly string[];
  /** What spawn() started: killed by their process group too, in case one was not in its namespace yet. */
  spawned: Set<ChildProcess>;
}

/** Networks of this process not destroyed yet: deleted when the process exits. */
const live = new Map<string, LiveNetwork>();
let sequence = 0;
let exitHookInstalled = false;

function ipFailure(argv: readonly string[], result: ExecResult): Error {
  const why = result.timedOut ? 'timed out' : `exit ${String(result.exitCode ?? result.signal)}`;
  return new Error(`ip ${argv.join(' ')} failed (${why}): ${result.stderr.trim() || result.stdout.trim()}`);
}

/** Runs `ip argv`; with `batch`, `ip argv -batch -` reading those commands (one process for all). */
async function ip(argv: readonly string[], batch?: readonly string[][]): Promise<string> {
  let result: ExecResult;
  try {
    result =
      batch === undefined
        ? await execFile('ip', argv, { timeoutMs: IP_TIMEOUT_MS })
        : await execFile('ip', [...argv, '-batch', '-'], {
            timeoutMs: IP_TIMEOUT_MS,
            input: batch.map((command) => `${command.join(' ')}\n`).join(''),
          });
  } catch (error) {
    throw new Error(
      `test networks need iproute2's ip (apt-get install iproute2): ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (result.exitCode !== 0) throw ipFailure(argv, result);
  return result.stdout;
}

function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new Error(
      'test networks need root (network namespaces, veth pairs, a bridge): run the tests as root, as CI does',
    );
}

/** A /24 in 10.200.0.0-10.250.255.0 that no route of the host's namespace covers. */
async function freeIpv4Subnet(): Promise<string> {
  const routes = JSON.parse(await ip(['-json', '-4', 'route', 'show', 'table', 'all'])) as { dst?: string }[];
  const taken = routes.flatMap((route) => {
    const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(route.dst ?? '');
    return match ? [{ base: ipv4Number(match.slice(1, 5).map(Number)), bits: Number(match[5] ?? 32) }] : [];
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    const subnet = ipv4Number([10, randomInt(200, 251), randomInt(0, 256), 0]);
    const overlaps = taken.some(({ base, bits }) => {
      const common = Math.min(bits, 24);
      const mask = common === 0 ? 0 : (0xffffffff << (32 - common)) >>> 0;
      return (base & mask) >>> 0 === (subnet & mask) >>> 0;
    });
    if (!overlaps) return ipv4Text(subnet).replace(/\.0$/, '');
  }
  throw new Error('no free /24 in 10.200.0.0-10.250.255.255 (every one is routed on this host)');
}

function ipv4Number(octets: readonly number[]): number {
  return octets.reduce((value, octet) => value * 256 + octet, 0);
}

function ipv4Text(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

/**
 * A random ULA /64 prefix (RFC 4193: fd + 40 random bits, subnet 0) written as the first three
 * groups, non-zero so that `<prefix>::<n>` is the canonical text of an address (as peers print it).
 */
function randomUlaPrefix(): string {
  for (;;) {
    const id = randomBytes(5).toString('hex');
    const groups = [`fd${id.slice(0, 2)}`, id.slice(2, 6), id.slice(6, 10)].map((g) => parseInt(g, 16));
    if (groups.every((g) => g !== 0)) return groups.map((g) => g.toString(16)).join(':');
  }
}

function namespaceExists(ns: string): boolean {
  try {
    return readdirSync(NETNS_DIR).includes(ns);
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of the processes whose network namespace is one of `namespaces` (as `ip netns pids` finds them). */
function pidsIn(namespaces: readonly string[]): number[] {
  const wanted = new Set<string>();
  for (const ns of namespaces) {
    try {
      const info = statSync(`${NETNS_DIR}/${ns}`);
      wanted.add(`${info.dev}:${info.ino}`);
    } catch {
      // not there (deleted meanwhile)
    }
  }
  if (wanted.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const info = statSync(`/proc/${entry}/ns/net`);
      if (wanted.has(`${info.dev}:${info.ino}`)) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return pids;
}

/** Sends `name` to `pid`; false when it is gone. */
function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

/** Whether `pid` is stopped (or gone): its state in /proc is `T` or `t`. */
function stoppedOrGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'T' || state === 't' || state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/**
 * SIGSTOPs every process in `ns` and waits until each is stopped (a signal takes effect when the
 * process next runs), scanning again until a scan finds none not stopped yet (a process forking
 * meanwhile has its child stopped by the next scan; stopped ones fork no more).
 */
async function freezeNamespace(ns: string): Promise<number[]> {
  const stopped = new Set<number>();
  for (let round = 0; round < 100; round++) {
    const fresh = pidsIn([ns]).filter((pid) => !stopped.has(pid));
    if (fresh.length === 0) return [...stopped].sort((a, b) => a - b);
    for (const pid of fresh) if (signal(pid, 'SIGSTOP')) stopped.add(pid);
    const deadline = Date.now() + IP_TIMEOUT_MS;
    while (!fresh.every(stoppedOrGone)) {
      if (Date.now() > deadline) throw new Error(`the processes of ${ns} do not stop`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  throw new Error(`the processes of ${ns} keep forking: cannot freeze them`);
}

/**
 * SIGKILLs every process in the namespaces, then deletes them (veth pairs and bridges go with
 * them). Synchronous: it also runs when the process exits.
 */
function deleteNamespacesSync(namespaces: readonly string[]): void {
  const present = namespaces.filter(namespaceExists);
  for (const pid of pidsIn(present)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const ns of namespaces) rmSync(`${NETNS_ETC_DIR}/${ns}`, { recursive: true, force: true });
  if (present.length === 0) return;
  const commands = present.map((ns) => `netns delete ${ns}\n`).join('');
  try {
    execFileSync('ip', ['-force', '-batch', '-'], { input: commands, stdio: 'pipe', timeout: IP_TIMEOUT_MS });
  } catch (error) {
    const left = present.filter(namespaceExists);
    if (left.length > 0)
      throw new Error(`cannot delete the network namespaces ${left.join(', ')}: ${String(error)}`, {
        cause: error,
      });
  }
}

function teardownSync(network: LiveNetwork): void {
  for (const child of network.spawned) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  deleteNamespacesSync(network.namespaces);
}

function destroyAllSync(): void {
  for (const [id, network] of live) {
    try {
      teardownSync(network);
    } catch {
      // best effort at exit; the next run's sweeper retries
    }
    live.delete(id);
  }
}

/** Deletes the namespaces of test networks whose creating process is dead; their names. */
export function sweepStaleTestNetworks(): string[] {
  const names = new Set<string>();
  for (const dir of [NETNS_DIR, NETNS_ETC_DIR]) {
    try {
      for (const name of readdirSync(dir)) names.add(name);
    } catch {
      // no such directory: nothing there
    }
  }
  const stale = [...names].filter((name) => {
    const match = OWN_NAME.exec(name);
    return match !== null && Number(match[1]) !== process.pid && !pidAlive(Number(match[1]));
  });
  deleteNamespacesSync(stale);
  return stale;
}

/** Creates the network; on failure, deletes what was created and rethrows. */
export async function createTestNetwork(options: TestNetworkOptions): Promise<TestNetwork> {
  requireRoot();
  const names = [...options.hosts];
  if (names.length === 0) throw new Error('a test network needs at least one host');
  for (const name of names)
    if (!HOST_NAME.test(name))
      throw new Error(`host name ${JSON.stringify(name)} does not match ${HOST_NAME}`);
  if (new Set(names).size !== names.length) throw new Error(`host names repeat: ${names.join(', ')}`);
  if (names.length > 250) throw new Error('at most 250 hosts on one test network');
  await ip(['netns', 'list']);
  sweepStaleTestNetworks();

  const id = `${NAME_PREFIX}${process.pid}-${sequence++}`;
  const switchNs = `${id}-sw`;
  const ipv4Prefix = await freeIpv4Subnet();
  const ipv6Prefix = randomUlaPrefix();
  const hosts: TestHost[] = names.map((name, index) => ({
    name,
    ns: `${id}-h-${name}`,
    ipv4: `${ipv4Prefix}.${index + 1}`,
    ipv6: `${ipv6Prefix}::${(index + 1).toString(16)}`,
  }));
  const namespaces = [switchNs, ...hosts.map((host) => host.ns)];
  const network: LiveNetwork = { namespaces, spawned: new Set() };
  live.set(id, network);
  if (!exitHookInstalled) {
    process.once('exit', destroyAllSync);
    exitHookInstalled = true;
  }

  let destroyed = false;
  // eslint-disable-next-line @typescript-eslint/require-await -- async: a failure is a rejection
  const destroy = async (): Promise<void> => {
    destroyed = true;
    teardownSync(network);
    live.delete(id);
  };

  try {
    await ip([], [['netns', 'add', switchNs], ...hosts.map((host) => ['netns', 'add', host.ns])]);
    await ip(
      ['-n', switchNs],
      [
        ['link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0'],
        ['link', 'set', 'br0', 'up'],
        ...hosts.flatMap((host, index) => [
          ['link', 'add', `p${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns],
          ['link', 'set', `p${index}`, 'master', 'br0', 'up'],
        ]),
      ],
    );
    for (const host of hosts) {
      await ip(
        ['-n', host.ns],
        [
          ['link', 'set', 'lo', 'up'],
          ['address', 'add', `${host.ipv4}/24`, 'dev', 'eth0'],
          ['address', 'add', `${host.ipv6}/64`, 'dev', 'eth0', 'nodad'],
          ['link', 'set', 'eth0', 'up'],
        ],
      );
    }
  } catch (error) {
    await destroy();
    throw error;
  }

  const host = (name: string): TestHost => {
    const found = hosts.find((h) => h.name === name);
    if (found === undefined) throw new Error(`no host ${JSON.stringify(name)} on this test network`);
    return found;
  };
  const switchPort = async (name: string, state: 'up' | 'down'): Promise<void> => {
    if (destroyed) throw new Error('this test network is destroyed');
    await ip(['-n', switchNs, 'link', 'set', `p${hosts.indexOf(host(name))}`, state]);
  };
  const inNamespace = (name: string, argv: readonly string[]): string[] => {
    if (destroyed) throw new Error('this test network is destroyed');
    if (argv.length === 0) throw new Error('nothing to run');
    return ['netns', 'exec', host(name).ns, ...argv];
  };
  return {
    hosts,
    ipv4Subnet: `${ipv4Prefix}.0/24`,
    ipv6Subnet: `${ipv6Prefix}::/64`,
    host,
    exec: (name, argv, execOptions = {}) =>
      execFile('ip', inNamespace(name, argv), { timeoutMs: EXEC_TIMEOUT_MS, ...execOptions }),
    spawn: (name, argv, spawnOptions = {}) => {
      const child = spawnChild('ip', inNamespace(name, argv), {
        detached: true,
        env: spawnOptions.env ?? cleanEnv(),
        stdio: spawnOptions.stdio ?? ['ignore', 'pipe', 'pipe'],
        ...(spawnOptions.cwd === undefined ? {} : { cwd: spawnOptions.cwd }),
      });
      network.spawned.add(child);
      child.once('exit', () => network.spawned.delete(child));
      return child;
    },
    cutOff: (name) => switchPort(name, 'down'),
    reconnect: (name) => switchPort(name, 'up'),
    freeze: async (name) => freezeNamespace(host(name).ns),
    thaw: (name) => {
      for (const pid of pidsIn([host(name).ns])) signal(pid, 'SIGCONT');
    },
    async setHostNames(name, names) {
      const lines = ['127.0.0.1 localhost', '::1 localhost'];
      for (const [dnsName, address] of Object.entries(names)) {
        if (!DNS_NAME.test(dnsName) || dnsName.length > 253)
          throw new Error(`${JSON.stringify(dnsName)} is not a host name`);
        if (isIP(address) === 0) throw new Error(`${JSON.stringify(address)} is not an IP address`);
        lines.push(`${address} ${dnsName}`);
      }
      const dir = `${NETNS_ETC_DIR}/${host(name).ns}`;
      await mkdir(dir, { recursive: true });
      await writeFile(`${dir}/hosts`, `${lines.join('\n')}\n`);
    },
    destroy,
  };
}

/**
 * GETs `url` from inside `host` (Node.js's fetch under `ip netns exec`) and returns the body; with
 * `expect`, retries until the body is exactly that (a service needs a moment to listen). Rejects
 * with the last error once `timeoutMs` (default 30 s) has passed.
 */
export async function fetchFrom(
  network: TestNetwork,
  host: string,
  url: string,
  options: { expect?: string; timeoutMs?: number } = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const script = `
    const [url, expectedJson, timeoutMs] = process.argv.slice(1);
    const expected = JSON.parse(expectedJson);
    const deadline = Date.now() + Number(timeoutMs);
    const attempt = async () => {
      let outcome;
      try {
        const signal = AbortSignal.timeout(Math.min(5000, Number(timeoutMs)));
        const body = await (await fetch(url, { signal })).text();
        if (expected === null || body === expected) return process.stdout.write(body);
        outcome = 'answered ' + JSON.stringify(body);
      } catch (error) {
        outcome = String(error.cause ?? error);
      }
      if (Date.now() > deadline) {
        process.stderr.write(outcome);
        process.exit(1);
      }
      setTimeout(attempt, 100);
    };
    attempt();
  `;
  const argv = [
    process.execPath,
    '-e',
    script,
    url,
    JSON.stringify(options.expect ?? null),
    String(timeoutMs),
  ];
  const result = await network.exec(host, argv, { timeoutMs: timeoutMs + 15_000 });
  if (result.exitCode !== 0) throw new Error(`GET ${url} from ${host}: ${result.stderr.trim()}`);
  return result.stdout;
}

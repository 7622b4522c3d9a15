/**
 * What `node format` reads from and changes on the host: users and groups (read from the passwd and
 * group files, changed with groupadd/useradd/usermod/passwd), addresses and local routes (read with
 * `ip -json`, changed with `ip`), one sysctl. Network commands can be run inside a network namespace
 * (`ip netns exec NS …`), which is how the system-mode tests stay off the host's own interfaces.
 */
import { readFile } from 'node:fs/promises';
import { SlapError } from '../../core/errors.ts';
import { execFile, type ExecResult } from '../../lib/exec.ts';
import type { Logger } from '../../lib/logger.ts';
import { silentLogger } from '../../lib/logger.ts';
import { canonicalAddress, parseCidr, cidrText, type IpFamily } from './ip.ts';

export interface HostAddress {
  readonly ifname: string;
  readonly family: IpFamily;
  /** Canonical text. */
  readonly address: string;
  readonly prefixLength: number;
  /** `global`, `host`, `link`… */
  readonly scope: string;
  readonly tentative: boolean;
  readonly dadFailed: boolean;
}

export interface UnixUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

export interface UnixGroup {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

export type ExecFn = typeof execFile;

export interface HostOptions {
  /** Run network commands (ip, sysctl) inside this network namespace. */
  netns?: string | undefined;
  passwdFile?: string;
  groupFile?: string;
  exec?: ExecFn;
  logger?: Logger;
  signal?: AbortSignal | undefined;
  /** Per command (default 60 s). */
  commandTimeoutMs?: number;
}

/** One command a format step runs, for plans, logs and tests. */
export interface HostCommand {
  readonly argv: readonly string[];
  /** Runs in the network namespace when there is one. */
  readonly network: boolean;
}

export class Host {
  readonly netns: string | undefined;
  /** Every command run (read-only ones included), in order: what tests and `--json` look at. */
  readonly commandLog: HostCommand[] = [];
  private readonly passwdFile: string;
  private readonly groupFile: string;
  private readonly execFn: ExecFn;
  private readonly logger: Logger;
  private readonly signal: AbortSignal | undefined;
  private readonly timeoutMs: number;

  constructor(options: HostOptions = {}) {
    this.netns = options.netns;
    this.passwdFile = options.passwdFile ?? '/etc/passwd';
    this.groupFile = options.groupFile ?? '/etc/group';
    this.execFn = options.exec ?? execFile;
    this.logger = options.logger ?? silentLogger();
    this.signal = options.signal;
    this.timeoutMs = options.commandTimeoutMs ?? 60_000;
  }

  async users(): Promise<Map<string, UnixUser>> {
    const users = new Map<string, UnixUser>();
    for (const fields of await readColonFile(this.passwdFile)) {
      const [name = '', , uid = '', gid = '', , home = '', shell = ''] = fields;
      users.set(name, { name, uid: Number(uid), gid: Number(gid), home, shell });
    }
    return users;
  }

  async groups(): Promise<Map<string, UnixGroup>> {
    const groups = new Map<string, UnixGroup>();
    for (const fields of await readColonFile(this.groupFile)) {
      const [name = '', , gid = '', members = ''] = fields;
      groups.set(name, { name, gid: Number(gid), members: members.split(',').filter((m) => m !== '') });
    }
    return groups;
  }

  /** Every address of every interface (`ip -json address show`). */
  async addresses(): Promise<HostAddress[]> {
    const output = await this.run({ argv: ['ip', '-json', 'address', 'show'], network: true });
    const links = parseJson<IpLink[]>(output, 'ip -json address show');
    const out: HostAddress[] = [];
    for (const link of links) {
      for (const info of link.addr_info ?? []) {
        if (info.family !== 'inet' && info.family !== 'inet6') continue;
        if (info.local === undefined || info.prefixlen === undefined) continue;
        out.push({
          ifname: link.ifname,
          family: info.family === 'inet' ? 4 : 6,
          address: canonicalAddress(info.local),
          prefixLength: info.prefixlen,
          scope: info.scope ?? 'global',
          tentative: info.tentative === true,
          dadFailed: info.dadfailed === true,
        });
      }
    }
    return out;
  }

  /** IPv6 networks routed as `local` through `lo` (table local), canonical `addr/len`. */
  async localRoutes6(): Promise<Set<string>> {
    const output = await this.run({
      argv: ['ip', '-6', '-json', 'route', 'show', 'table', 'local', 'type', 'local', 'dev', 'lo'],
      network: true,
    });
    const routes = parseJson<{ dst?: string }[]>(output, 'ip -json route show');
    const out = new Set<string>();
    for (const route of routes) {
      if (route.dst === undefined) continue;
      try {
        out.add(cidrText(parseCidr(route.dst)));
      } catch {
        // `default` or another non-address destination
      }
    }
    return out;
  }

  /** A kernel setting: read from /proc/sys (no process) unless it belongs to another namespace. */
  async sysctl(key: string): Promise<string> {
    if (this.netns === undefined)
      return (await readFile(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8')).trim();
    return (await this.run({ argv: ['sysctl', '-n', key], network: true })).trim();
  }

  /** Runs a command; a non-zero exit is a SLAP_ERR_SYSTEM_COMMAND naming it with its output. */
  async run(command: HostCommand): Promise<string> {
    this.commandLog.push(command);
    const argv =
      command.network && this.netns !== undefined
        ? ['ip', 'netns', 'exec', this.netns, ...command.argv]
        : [...command.argv];
    const [file = '', ...args] = argv;
    this.logger.debug({ argv }, 'format: run');
    let result: ExecResult;
    try {
      result = await this.execFn(file, args, {
        timeoutMs: this.timeoutMs,
        ...(this.signal === undefined ? {} : { signal: this.signal }),
      });
    } catch (error) {
      throw new SlapError('SLAP_ERR_SYSTEM_COMMAND', `cannot run ${file}: ${(error as Error).message}`, {
        hint: file === 'ip' ? 'install iproute2' : `install the package providing ${file}`,
        cause: error,
      });
    }
    if (result.exitCode !== 0)
      throw new SlapError(
        'SLAP_ERR_SYSTEM_COMMAND',
        `${argv.join(' ')} failed (${result.timedOut ? 'timed out' : `exit ${String(result.exitCode ?? result.signal)}`}): ${result.stderr.trim() || result.stdout.trim()}`,
        { details: { argv } },
      );
    return result.stdout;
  }
}

interface IpLink {
  ifname: string;
  addr_info?: {
    family?: string;
    local?: string;
    prefixlen?: number;
    scope?: string;
    tentative?: boolean;
    dadfailed?: boolean;
  }[];
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text === '' ? '[]' : text) as T;
  } catch (error) {
    throw new SlapError('SLAP_ERR_SYSTEM_COMMAND', `${what} printed something that is not JSON`, {
      cause: error,
    });
  }
}

async function readColonFile(path: string): Promise<string[][]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

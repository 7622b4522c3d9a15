/**
 * Several machines on a test network (netns.ts), each with a directory of its own as its disk and a
 * HOME in it, every step the `slapos` command a person types on that host: what the multi-host
 * tests share (e2e/master-mode-hosts.test.ts, e2e/resiliency.test.ts through resilient-site.ts).
 * Every output is kept, to be searched for secrets.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv, type ExecResult } from '../lib/exec.ts';
import { slaposBinPath } from '../lib/package-root.ts';
import type { TestNetwork } from './netns.ts';
import { waitFor } from './supervisor.ts';

export const SLAPOS = slaposBinPath();
/** The master's public URL: `master.test` is made to resolve to its addresses on every other host. */
export const MASTER_URL = 'https://master.test:8443';

export interface RunningMaster {
  dir: string;
  /** SIGTERM, asserted to exit 0. */
  stop: () => Promise<void>;
}

export class HostsSite {
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

  /** The master's CA (public) as copied onto `host` by copyMasterCa. */
  caFile(host: string): string {
    return join(this.hostDir(host), 'master-ca.crt');
  }

  /** Makes every host's directory and HOME. */
  async makeHostDirs(): Promise<void> {
    for (const { name } of this.network.hosts)
      await mkdir(join(this.hostDir(name), 'home'), { recursive: true });
  }

  /** Copies the master's CA onto each of `hosts` (as a person copies it over). */
  async copyMasterCa(master: RunningMaster, hosts: readonly string[]): Promise<void> {
    for (const host of hosts) await copyFile(join(master.dir, 'ca.crt'), this.caFile(host));
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
   * `slapos master start` on `host`, on all its addresses, reached as MASTER_URL (`extraArgs`, e.g.
   * `--cfg FILE`, appended); resolves once it listens.
   */
  async startMaster(host: string, extraArgs: readonly string[] = []): Promise<RunningMaster> {
    const dir = join(this.hostDir(host), 'master');
    const argv = [process.execPath, SLAPOS, 'master', 'start', '--dir', dir, '--host', '::'];
    argv.push('--port', new URL(MASTER_URL).port, '--public-url', MASTER_URL, ...extraArgs);
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

  /** `slapos master user add NAME` on the master's host; the user's token (kept as a secret). */
  async addUser(host: string, master: RunningMaster, name: string): Promise<string> {
    const added = await this.slapos(host, ['master', 'user', 'add', name, '--dir', master.dir, '--json'], {
      printsSecret: true,
    });
    const { token } = JSON.parse(added) as { token: string };
    this.secrets.push(token);
    return token;
  }

  /** `slapos configure client` on `host` for `user`: the client configuration file written. */
  async configureClient(host: string, user: string, token: string): Promise<string> {
    const cfg = join(this.hostDir(host), `${user}.cfg`);
    const args = ['configure', 'client', '--master-url', MASTER_URL, '--token', token];
    await this.slapos(host, [...args, '--ca-file', this.caFile(host), '--cfg', cfg]);
    return cfg;
  }

  /** `slapos token create` on `host` with the client configuration `cfg`: a registration token. */
  async registrationToken(host: string, cfg: string): Promise<string> {
    const created = await this.slapos(host, ['token', 'create', '--expires', '10m', '--json', '--cfg', cfg], {
      printsSecret: true,
    });
    const { token } = JSON.parse(created) as { token: string };
    this.secrets.push(token);
    return token;
  }

  /**
   * `slapos node register HOST` on `host` (sandbox mode, 2 partitions unless said, configuration in
   * `<host>/<configDir>`, default `node`), asserted to exit with `code` (default 0): its stdout.
   */
  register(
    host: string,
    token: string,
    options: { configDir?: string; code?: number; stderr?: RegExp; partitions?: number } = {},
  ): Promise<string> {
    const args = ['node', 'register', host, '--master-url', MASTER_URL, '--token', token];
    args.push('--ca-file', this.caFile(host));
    args.push('--config-dir', join(this.hostDir(host), options.configDir ?? 'node'), '--sandbox');
    args.push('--partition-number', String(options.partitions ?? 2), '--json');
    return this.slapos(host, args, options);
  }
}

/** Every log file under `dir` (`*.log`, or in a `log` directory). */
export async function logFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && (e.name.endsWith('.log') || /(^|\/)log$/.test(e.parentPath)))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * The node's configuration (slapos.cfg) as a typed, validated value. Every node command reads it
 * through `loadNodeConfig`. Merge rules are the original's (docs node.md §1):
 * - node commands read `[slapos]`, then CLI overrides (an override that is not `undefined` wins);
 * - `node format` reads `[slapformat]`, overlaid by `[slapos]`, overlaid by CLI overrides;
 * - `[networkcache]` is kept as a map of its options.
 * Our extension: `sandbox` (see README, "Configuration"): partitions share the running user and get
 * loopback addresses, nothing on the host is changed; it is the default when not running as root.
 */
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { ACCESS_TOKEN_RULE, isAccessToken, MASTER_TOKEN_OPTION } from '../core/access-token.ts';
import { MASTER_APIS, type MasterApi } from '../core/master-apis.ts';
import { parseIni, type IniDocument } from '../lib/ini.ts';
import { parseCidr, type Cidr } from './format/ip.ts';

export const DEFAULT_CONFIG_PATH = '/etc/opt/slapos/slapos.cfg';

export const MAX_INSTANCE_CONCURRENCY = 256;

/**
 * Partitions deployed at once unless `instance_concurrency` says otherwise: four per core, at most
 * 32. Deploying a partition mostly waits (its buildout's calls to the master, the file system, the
 * supervisor starting its services), so one per core would leave the cores idle; a partition gives
 * its slot back once its services are started, while it waits for its promises. The cap: in sandbox
 * mode every buildout runs in the node's one process, whatever the number of cores.
 */
export function defaultInstanceConcurrency(cores = availableParallelism()): number {
  return Math.min(4 * cores, 32);
}

/** Values given on the command line, keyed by the option's name in slapos.cfg; `undefined` = not given. */
export type ConfigOverrides = Readonly<Record<string, string | number | boolean | undefined>>;

export interface NodeConfig {
  /** Absolute path of the file read. */
  readonly file: string;
  /** Sandbox mode (our extension): same user for every partition, loopback addresses, no host change. */
  readonly sandbox: boolean;
  readonly computerId: string;
  /** Always ends with `/`. */
  readonly masterUrl: string;
  readonly masterRestUrl: string | undefined;
  /** `master_token` (our addition): sent as `Authorization: Bearer` to a master that requires it. */
  readonly masterToken: string | undefined;
  /** `master_api` (our addition): the JSON API, the legacy SLAP API, or auto (probed; the default). */
  readonly masterApi: MasterApi;
  readonly softwareRoot: string;
  readonly instanceRoot: string;
  /** Node certificate and key (both or neither). */
  readonly keyFile: string | undefined;
  readonly certFile: string | undefined;
  /** Directory of the partitions' certificates `<partition>.crt|.key`. */
  readonly certificateRepositoryPath: string | undefined;
  readonly masterCaFile: string | undefined;
  /** Shared parts directories; only the last one is writable. */
  readonly sharedPartList: readonly string[];
  readonly buildTimePartList: readonly string[];
  readonly buildout: string | undefined;
  /** Refuse to run unless root (system mode only; ignored in sandbox mode). */
  readonly rootCheck: boolean;
  readonly forbidSupervisordAutomaticLaunch: boolean;
  readonly pidfileSoftware: string;
  readonly pidfileInstance: string;
  readonly pidfileReport: string;
  /** Seconds: random sleep before grid commands unless `--now`. */
  readonly maximalDelay: number;
  /** Seconds between two runs of an unchanged partition's profile. */
  readonly maximumPeriodicity: number;
  /** Seconds allowed to each promise. */
  readonly promiseTimeout: number;
  /** Seconds after which an instance profile run is killed (none: no limit). */
  readonly partitionTimeout: number | undefined;
  /** Which buildout runs instance profiles of releases that provide `bin/buildout`. */
  readonly instanceBuildout: InstanceBuildoutMode;
  /** Partitions deployed at once (`instance_concurrency`; see defaultInstanceConcurrency). */
  readonly instanceConcurrency: number;
  /** Bytes. */
  readonly softwareMinFreeSpace: number;
  readonly instanceMinFreeSpace: number;
  readonly instanceStorageHome: string | undefined;
  readonly ipv4GlobalNetwork: string | undefined;
  readonly managerList: readonly string[];
  readonly powerUserList: readonly string[];
  /** `[networkcache]` options as written. */
  readonly networkcache: Readonly<Record<string, string>>;
  /** `[slapos]` with CLI overrides applied, as strings, for options not typed above. */
  readonly options: Readonly<Record<string, string>>;
  /** `[slapformat]` < `[slapos]` < CLI overrides: what `formatConfig` validates. */
  readonly formatOptions: Readonly<Record<string, string>>;
  /** The whole file, for sections read by one command only ([firewall], [slapproxy], ...). */
  readonly document: IniDocument;
}

/**
 * `[slapos] instance_buildout`: `auto` runs an instance profile on the native engine when every
 * recipe it names is native, else with the release's `bin/buildout` if it has one; `native` always
 * the engine; `release` always the release's buildout.
 */
export const INSTANCE_BUILDOUT_MODES = ['auto', 'native', 'release'] as const;
export type InstanceBuildoutMode = (typeof INSTANCE_BUILDOUT_MODES)[number];

/** What `node format` needs; validated only when format (or boot) asks for it. */
export interface FormatConfig {
  readonly partitionAmount: number;
  readonly partitionBaseName: string;
  readonly userBaseName: string;
  readonly softwareUser: string;
  readonly alterUser: boolean;
  readonly alterNetwork: boolean;
  /** Interface that receives the partitions' IPv4 (system mode). */
  readonly interfaceName: string | undefined;
  /** Interface whose global IPv6 prefix is used (default: interfaceName). */
  readonly ipv6Interface: string | undefined;
  /** Pool of the partitions' local IPv4 (/32 each), system mode. */
  readonly ipv4LocalNetwork: Cidr | undefined;
  readonly partitionHasIpv6Range: boolean;
  readonly ipv6Prefixshift: number;
  /** Loopback range of the partitions' IPv4 in sandbox mode. */
  readonly sandboxIpv4Network: Cidr;
}

export interface LoadNodeConfigOptions {
  /** `--cfg`: wins over SLAPOS_CONFIGURATION and the default path. */
  cfg?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  overrides?: ConfigOverrides;
  /** Default: whether this process runs as uid 0. */
  isRoot?: boolean;
}

/** `--cfg`, else `SLAPOS_CONFIGURATION`, else /etc/opt/slapos/slapos.cfg; `~` expanded, relative to cwd. */
export function resolveConfigPath(options: LoadNodeConfigOptions = {}): string {
  const env = options.env ?? process.env;
  const chosen = options.cfg ?? (env.SLAPOS_CONFIGURATION || undefined) ?? DEFAULT_CONFIG_PATH;
  return resolve(options.cwd ?? process.cwd(), expandHome(chosen, env));
}

export async function loadNodeConfig(options: LoadNodeConfigOptions = {}): Promise<NodeConfig> {
  const file = resolveConfigPath(options);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SlapError(
      'SLAP_ERR_CONFIG',
      code === 'ENOENT'
        ? `Configuration file ${file} does not exist`
        : `Cannot read configuration file ${file}: ${(error as Error).message}`,
      {
        hint: 'give the file with --cfg or the SLAPOS_CONFIGURATION environment variable',
        cause: error,
        details: { file },
      },
    );
  }
  const config = parseNodeConfig(text, {
    file,
    env: options.env ?? process.env,
    overrides: options.overrides ?? {},
    isRoot: options.isRoot ?? process.getuid?.() === 0,
  });
  await checkFiles(config);
  return config;
}

export interface ParseNodeConfigOptions {
  /** Absolute path the text comes from (relative paths in it are resolved against its directory). */
  file: string;
  env?: NodeJS.ProcessEnv;
  overrides?: ConfigOverrides;
  isRoot: boolean;
}

/** Parses and validates the text of a slapos.cfg (no file system access). */
export function parseNodeConfig(text: string, options: ParseNodeConfigOptions): NodeConfig {
  const document = parseIni(text, options.file);
  if (!document.has('slapos'))
    throw configError(options.file, 'slapos', undefined, 'the [slapos] section is missing');
  const overrides = normaliseOverrides(options.overrides ?? {});
  const slapos = { ...document.items('slapos'), ...overrides };
  const formatOptions = {
    ...(document.has('slapformat') ? document.items('slapformat') : {}),
    ...document.items('slapos'),
    ...overrides,
  };
  const env = options.env ?? process.env;
  const read = new OptionReader(options.file, 'slapos', slapos, env);

  const sandbox =
    new OptionReader(options.file, 'slapos', formatOptions, env).boolean('sandbox') ?? !options.isRoot;
  const computerId = read.string('computer_id', { required: true });
  const masterUrl = read.url('master_url');
  const softwareRoot = read.path('software_root', { required: true });
  const instanceRoot = read.path('instance_root', { required: true });
  const keyFile = read.path('key_file');
  const certFile = read.path('cert_file');
  const certificateRepositoryPath = read.path('certificate_repository_path');
  if ((keyFile === undefined) !== (certFile === undefined))
    throw configError(
      options.file,
      'slapos',
      keyFile === undefined ? 'key_file' : 'cert_file',
      'key_file and cert_file must be given together',
    );
  if (keyFile !== undefined && certificateRepositoryPath === undefined)
    throw configError(
      options.file,
      'slapos',
      'certificate_repository_path',
      'is required when key_file and cert_file are set',
    );
  const runDir = sandbox ? join(instanceRoot, 'var', 'run') : '/opt/slapos';
  const pidfile = read.path('pidfile');

  return {
    file: options.file,
    sandbox,
    computerId,
    masterUrl,
    masterRestUrl: read.string('master_rest_url'),
    masterToken: read.accessToken(MASTER_TOKEN_OPTION),
    masterApi: read.choice('master_api', MASTER_APIS) ?? 'auto',
    softwareRoot,
    instanceRoot,
    keyFile,
    certFile,
    certificateRepositoryPath,
    masterCaFile: read.path('master_ca_file'),
    sharedPartList: read.list('shared_part_list').map((entry) => read.resolvePath(entry)),
    buildTimePartList: read.list('build_time_part_list').map((entry) => read.resolvePath(entry)),
    buildout: read.path('buildout'),
    rootCheck: read.boolean('root_check') ?? true,
    forbidSupervisordAutomaticLaunch: read.boolean('forbid_supervisord_automatic_launch') ?? false,
    pidfileSoftware: read.path('pidfile_software') ?? pidfile ?? join(runDir, 'slapgrid-sr.pid'),
    pidfileInstance: read.path('pidfile_instance') ?? pidfile ?? join(runDir, 'slapgrid-cp.pid'),
    pidfileReport: read.path('pidfile_report') ?? pidfile ?? join(runDir, 'slapgrid-ur.pid'),
    maximalDelay: read.integer('maximal_delay', { min: 0 }) ?? 0,
    maximumPeriodicity: read.integer('maximum_periodicity') ?? 86400,
    promiseTimeout: read.integer('promise_timeout', { min: 1 }) ?? 20,
    partitionTimeout: read.integer('partition_timeout', { min: 1 }),
    instanceBuildout: read.choice('instance_buildout', INSTANCE_BUILDOUT_MODES) ?? 'auto',
    instanceConcurrency:
      read.integer('instance_concurrency', { min: 1, max: MAX_INSTANCE_CONCURRENCY }) ??
      // Its earlier name, when only the agent read it.
      read.integer('agent_partition_concurrency', { min: 1, max: MAX_INSTANCE_CONCURRENCY }) ??
      defaultInstanceConcurrency(),
    softwareMinFreeSpace: read.byteSize('software_min_free_space') ?? parseByteSize('1000M'),
    instanceMinFreeSpace: read.byteSize('instance_min_free_space') ?? parseByteSize('1000M'),
    instanceStorageHome: read.path('instance_storage_home'),
    ipv4GlobalNetwork: read.string('ipv4_global_network'),
    managerList: read.words('manager_list'),
    powerUserList: read.words('power_user_list'),
    networkcache: document.has('networkcache') ? document.items('networkcache') : {},
    options: slapos,
    formatOptions,
    document,
  };
}

/** Validates the options `node format` reads ([slapformat] < [slapos] < CLI). */
export function formatConfig(config: NodeConfig, env: NodeJS.ProcessEnv = process.env): FormatConfig {
  const read = new OptionReader(config.file, 'slapformat', config.formatOptions, env);
  for (const deprecated of ['bridge_name', 'no_bridge'])
    if (read.string(deprecated) !== undefined)
      throw configError(
        config.file,
        'slapformat',
        deprecated,
        'is obsolete and no longer allowed; remove it',
      );
  for (const unsupported of ['create_tap', 'create_tun'])
    if (read.boolean(unsupported) === true)
      throw configError(
        config.file,
        'slapformat',
        unsupported,
        'is not supported yet (tap/tun interfaces for virtual machines); set it to false',
      );
  if (read.string('input_definition_file') !== undefined)
    throw configError(config.file, 'slapformat', 'input_definition_file', 'is not supported yet');

  const interfaceName = read.string('interface_name');
  const alterUser = read.boolean('alter_user');
  const alterNetwork = read.boolean('alter_network');
  if (config.sandbox) {
    if (alterUser === true)
      throw configError(config.file, 'slapformat', 'alter_user', 'cannot be true in sandbox mode');
    if (alterNetwork === true)
      throw configError(config.file, 'slapformat', 'alter_network', 'cannot be true in sandbox mode');
  }
  const partitionAmount = read.integer('partition_amount', { required: true, min: 0 });
  const ipv6Prefixshift = read.integer('ipv6_prefixshift', { min: 2, max: 64 }) ?? 16;
  const partitionHasIpv6Range = read.boolean('partition_has_ipv6_range') ?? true;
  if (!config.sandbox && partitionHasIpv6Range && 2 ** ipv6Prefixshift < 4 * partitionAmount)
    throw configError(
      config.file,
      'slapformat',
      'ipv6_prefixshift',
      `${ipv6Prefixshift} is too small for ${partitionAmount} partitions (2^shift must be >= 4 * partition_amount)`,
    );
  const ipv4LocalNetwork = read.cidr('ipv4_local_network', 4);
  const resolvedAlterNetwork = config.sandbox ? false : (alterNetwork ?? true);
  if (resolvedAlterNetwork) {
    if (interfaceName === undefined)
      throw configError(
        config.file,
        'slapformat',
        'interface_name',
        'is required when alter_network is true',
      );
    if (ipv4LocalNetwork === undefined)
      throw configError(
        config.file,
        'slapformat',
        'ipv4_local_network',
        'is required when alter_network is true',
      );
  }
  const sandboxIpv4Network =
    read.cidr('sandbox_ipv4_network', 4) ?? defaultSandboxNetwork(config.instanceRoot);
  if (!isLoopbackV4(sandboxIpv4Network))
    throw configError(config.file, 'slapformat', 'sandbox_ipv4_network', 'must be inside 127.0.0.0/8');

  return {
    partitionAmount,
    partitionBaseName: read.name('partition_base_name') ?? 'slappart',
    userBaseName: read.name('user_base_name') ?? 'slapuser',
    softwareUser: read.name('software_user') ?? 'slapsoft',
    alterUser: config.sandbox ? false : (alterUser ?? true),
    alterNetwork: resolvedAlterNetwork,
    interfaceName,
    ipv6Interface: read.string('ipv6_interface') ?? interfaceName,
    ipv4LocalNetwork,
    partitionHasIpv6Range: config.sandbox ? false : partitionHasIpv6Range,
    ipv6Prefixshift,
    sandboxIpv4Network,
  };
}

/**
 * The default sandbox range: a /24 inside 127.0.0.0/8 derived from the instance root, so that two
 * sandboxes of one machine (tests, several standalone directories) do not share addresses. It never
 * falls in 127.0.x.x (127.0.0.1, and Debian's 127.0.1.1 for the host name).
 */
export function defaultSandboxNetwork(instanceRoot: string): Cidr {
  const digest = createHash('sha256').update(instanceRoot).digest();
  const second = 1 + ((digest[0] ?? 0) % 254);
  const third = digest[1] ?? 0;
  return parseCidr(`127.${second}.${third}.0/24`);
}

function isLoopbackV4(cidr: Cidr): boolean {
  return cidr.family === 4 && cidr.prefixLength >= 8 && cidr.network >> 24n === 127n;
}

/** `1000M`, `2G`, `512KiB`, `10k`, `123` (bytes): 1024-based, as the original. */
export function parseByteSize(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgtpe])(i?b?)|(b))?\s*$/i.exec(value);
  if (!match) throw new Error(`not a byte size: ${JSON.stringify(value)} (e.g. 500M, 2G, 1024)`);
  const unit = (match[2] ?? '').toLowerCase();
  const power = unit === '' ? 0 : 'kmgtpe'.indexOf(unit) + 1;
  return Math.round(Number(match[1]) * 1024 ** power);
}

const TRUE_WORDS = new Set(['1', 'yes', 'true', 'on']);
const FALSE_WORDS = new Set(['0', 'no', 'false', 'off']);

/** ConfigParser's booleans: 1/yes/true/on and 0/no/false/off, any case. */
export function parseBoolean(value: string): boolean {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new Error(`not a boolean: ${JSON.stringify(value)} (use true or false)`);
}

function configError(file: string, section: string, option: string | undefined, message: string): SlapError {
  const where = option === undefined ? `[${section}]` : `[${section}] ${option}`;
  return new SlapError('SLAP_ERR_CONFIG', `${file}: ${where}: ${message}`, {
    details: { file, section, ...(option === undefined ? {} : { option }) },
  });
}

function normaliseOverrides(overrides: ConfigOverrides): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides))
    if (value !== undefined) out[key.toLowerCase().replace(/-/g, '_')] = String(value);
  return out;
}

/** A path read from slapos.cfg: `~` expanded, a relative path taken from the file's directory. */
export function configPath(file: string, value: string, env: NodeJS.ProcessEnv = process.env): string {
  const expanded = expandHome(value, env);
  return isAbsolute(expanded) ? expanded : resolve(dirname(file), expanded);
}

function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  if (path === '~' || path.startsWith('~/')) return join(env.HOME ?? '/', path.slice(1));
  return path;
}

interface ReadOptions {
  required?: boolean;
}

/** Reads typed values out of one merged namespace, naming the section and option on error. */
class OptionReader {
  constructor(
    private readonly file: string,
    private readonly section: string,
    private readonly values: Readonly<Record<string, string>>,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** The raw value: `name`, else its dashed spelling; empty counts as unset. */
  private raw(name: string): string | undefined {
    const value = this.values[name] ?? this.values[name.replace(/_/g, '-')];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  private fail(name: string, message: string): SlapError {
    return configError(this.file, this.section, name, message);
  }

  string(name: string, options: { required: true }): string;
  string(name: string, options?: ReadOptions): string | undefined;
  string(name: string, options: ReadOptions = {}): string | undefined {
    const value = this.raw(name);
    if (value === undefined && options.required) throw this.fail(name, 'is required');
    return value;
  }

  /** One of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value !== undefined && !(choices as readonly string[]).includes(value))
      throw this.fail(name, `${JSON.stringify(value)} is not one of ${choices.join(', ')}`);
    return value as T | undefined;
  }

  /** A bearer access token (the value is never shown in messages). */
  accessToken(name: string): string | undefined {
    const value = this.string(name);
    if (value !== undefined && !isAccessToken(value))
      throw this.fail(name, `is not a valid access token (${ACCESS_TOKEN_RULE})`);
    return value;
  }

  /** A word usable in user and directory names. */
  name(name: string): string | undefined {
    const value = this.string(name);
    if (value !== undefined && !/^[a-z_][a-z0-9_-]*$/i.test(value))
      throw this.fail(name, `${JSON.stringify(value)} is not a valid name (letters, digits, _ and -)`);
    return value;
  }

  resolvePath(value: string): string {
    return configPath(this.file, value, this.env);
  }

  path(name: string, options: { required: true }): string;
  path(name: string, options?: ReadOptions): string | undefined;
  path(name: string, options: ReadOptions = {}): string | undefined {
    const value = this.string(name, options);
    return value === undefined ? undefined : this.resolvePath(value);
  }

  url(name: string): string {
    const value = this.string(name, { required: true });
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw this.fail(name, `${JSON.stringify(value)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw this.fail(name, `${JSON.stringify(value)} must be an http:// or https:// URL`);
    const text = url.toString();
    return text.endsWith('/') ? text : `${text}/`;
  }

  boolean(name: string): boolean | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    try {
      return parseBoolean(value);
    } catch (error) {
      throw this.fail(name, (error as Error).message);
    }
  }

  integer(name: string, options: { required: true; min?: number; max?: number }): number;
  integer(name: string, options?: ReadOptions & { min?: number; max?: number }): number | undefined;
  integer(name: string, options: ReadOptions & { min?: number; max?: number } = {}): number | undefined {
    const value = this.string(name, options);
    if (value === undefined) return undefined;
    if (!/^-?\d+$/.test(value)) throw this.fail(name, `${JSON.stringify(value)} is not an integer`);
    const number = Number(value);
    if (options.min !== undefined && number < options.min)
      throw this.fail(name, `${number} is lower than ${options.min}`);
    if (options.max !== undefined && number > options.max)
      throw this.fail(name, `${number} is greater than ${options.max}`);
    return number;
  }

  byteSize(name: string): number | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    try {
      return parseByteSize(value);
    } catch (error) {
      throw this.fail(name, (error as Error).message);
    }
  }

  cidr(name: string, family: 4 | 6): Cidr | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    let cidr: Cidr;
    try {
      cidr = parseCidr(value);
    } catch (error) {
      throw this.fail(name, (error as Error).message);
    }
    if (cidr.family !== family) throw this.fail(name, `${value} is not an IPv${family} network`);
    return cidr;
  }

  /** A newline-separated list (blank lines dropped). */
  list(name: string): string[] {
    return (this.raw(name) ?? '')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
  }

  /** A comma- or space-separated list. */
  words(name: string): string[] {
    return (this.raw(name) ?? '').split(/[\s,]+/).filter((word) => word !== '');
  }
}

/** The original refuses a key_file/cert_file/CA file that does not exist. */
async function checkFiles(config: NodeConfig): Promise<void> {
  const files: [string, string | undefined][] = [
    ['key_file', config.keyFile],
    ['cert_file', config.certFile],
    ['master_ca_file', config.masterCaFile],
  ];
  for (const [option, path] of files) {
    if (path === undefined) continue;
    try {
      await access(path, constants.R_OK);
    } catch {
      throw configError(config.file, 'slapos', option, `${path} does not exist or is not readable`);
    }
  }
}

/**
 * A node in system mode changes users and interfaces: its commands must run as root (unless
 * `root_check = false`). `what` names the command in the error.
 */
export function requireRootUnlessSandbox(
  config: NodeConfig,
  what: string,
  isRoot: boolean = process.getuid?.() === 0,
): void {
  if (!config.sandbox && config.rootCheck && !isRoot)
    throw new SlapError('SLAP_ERR_ROOT_REQUIRED', `${what} in system mode must run as root`, {
      hint: 'run it as root, set sandbox = true for a single-user node, or root_check = false',
    });
}

/** `[backup]` of slapos.cfg (docs/node-config.md, "Backups"): the node's backup agent. */
export interface BackupSettings {
  /** Local repositories (served to the peers), staging, state. */
  readonly directory: string;
  /** The repository server's address; undefined: none (the node can still be main or single). */
  readonly listen: { host: string; port: number } | undefined;
  /** The server's URL as given to the master (`https://HOST:PORT`). */
  readonly url: string | undefined;
  /** Milliseconds between two syncs with the master; undefined: what the master says (5 s). */
  readonly heartbeatMs: number | undefined;
}

const LISTEN_ADDRESS = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

/** `ADDRESS:PORT` with an IP address (IPv6 in brackets); undefined when it is not one. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const match = LISTEN_ADDRESS.exec(text);
  const host = match?.[1] ?? match?.[2] ?? '';
  const port = Number(match?.[3]);
  if (!match || isIP(host) === 0 || (match[1] !== undefined && isIP(host) !== 6) || port > 65535)
    return undefined;
  return { host, port };
}

export function backupSettings(config: NodeConfig, env: NodeJS.ProcessEnv = process.env): BackupSettings {
  const section = config.document.has('backup') ? config.document.items('backup') : {};
  const read = new OptionReader(config.file, 'backup', section, env);
  const directory = read.path('directory') ?? join(dirname(config.instanceRoot), 'backup');
  const listenText = read.string('listen');
  const listen = listenText === undefined ? undefined : parseListenAddress(listenText);
  if (listenText !== undefined && (listen === undefined || listen.port === 0))
    throw configError(
      config.file,
      'backup',
      'listen',
      `${JSON.stringify(listenText)}: expected ADDRESS:PORT (an IP address; IPv6 in brackets: [::1]:8700)`,
    );
  let url = read.string('url');
  if (url !== undefined && listen === undefined)
    throw configError(
      config.file,
      'backup',
      'url',
      'is the address of the repository server: set listen too',
    );
  if (url !== undefined) {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (
      parsed?.protocol !== 'https:' ||
      parsed.port === '' ||
      (parsed.pathname !== '/' && parsed.pathname !== '') ||
      parsed.username !== '' ||
      parsed.search !== '' ||
      parsed.hash !== ''
    )
      throw configError(config.file, 'backup', 'url', `${JSON.stringify(url)}: expected https://HOST:PORT`);
    url = `https://${parsed.host}`;
  } else if (listen !== undefined) {
    if (listen.host === '0.0.0.0' || listen.host === '::')
      throw configError(
        config.file,
        'backup',
        'url',
        'is required when listen is a wildcard address (the peers need an address to reach)',
      );
    url = `https://${isIP(listen.host) === 6 ? `[${listen.host}]` : listen.host}:${listen.port}`;
  }
  const heartbeat = read.string('heartbeat');
  let heartbeatMs: number | undefined;
  if (heartbeat !== undefined) {
    const value = Number(heartbeat);
    if (!/^\d+(\.\d+)?$/.test(heartbeat) || value < 0.1 || value > 3600)
      throw configError(
        config.file,
        'backup',
        'heartbeat',
        `${heartbeat}: expected seconds between 0.1 and 3600`,
      );
    heartbeatMs = Math.round(value * 1000);
  }
  return { directory, listen, url, heartbeatMs };
}

/**
 * What every client command (supply, request, service …, computer …) shares: the `--master-url`,
 * `--cfg` and `--json` options, finding the master URL, and one MasterClient per command run.
 *
 * The master URL is, in order: `--master-url`; `$SLAPOS_MASTER_URL`; `[slapconsole] master_url`, then
 * `[slapos] master_url` of the client configuration file. That file is `--cfg`, else
 * `$SLAPOS_CLIENT_CONFIGURATION`, else `~/.slapos/slapos-client.cfg` (as the original `slapos`), else
 * the node's `$SLAPOS_CONFIGURATION`. A file named by `--cfg` or an environment variable must exist;
 * the default one may be missing.
 *
 * The master's access token (a standalone's local secret) is `$SLAPOS_MASTER_TOKEN`, else
 * `[slapconsole] master_token`, then `[slapos] master_token` of that file; like the TLS material,
 * it is kept when `--master-url` or `$SLAPOS_MASTER_URL` names the master. So is the API to speak,
 * `[slapconsole] master_api`, then `[slapos] master_api` (auto, json or legacy; default auto).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { MasterClient } from '../client/master-client.ts';
import type { TlsMaterial } from '../client/json-transport.ts';
import { SlapError, isSlapError, toSlapError, type ErrorCode } from '../core/errors.ts';
import { ACCESS_TOKEN_RULE, isAccessToken, MASTER_TOKEN_OPTION } from '../core/access-token.ts';
import { isMasterApi, MASTER_APIS, type MasterApi } from '../core/master-apis.ts';
import type { IniDocument } from '../lib/ini.ts';
import { resolveStandaloneDir, standaloneConfigFile } from '../standalone/location.ts';
import type { CliContext } from './context.ts';
import { readSlaposConfig } from './slapos-config.ts';

export interface ClientCommandOptions {
  masterUrl?: string;
  cfg?: string;
  json?: boolean;
}

export interface ClientConfig {
  masterUrl: string;
  /** Where the master URL came from (for messages). */
  source: string;
  tls?: TlsMaterial;
  /** Sent as `Authorization: Bearer` (never printed). */
  accessToken?: string;
  /** The API to speak (default auto: probed). */
  masterApi?: MasterApi;
}

export const DEFAULT_CLIENT_CONFIGURATION = '~/.slapos/slapos-client.cfg';

/** Adds the options every client command takes. */
export function addClientOptions(command: Command, options: { json?: boolean } = {}): Command {
  command
    .addOption(new Option('--master-url <url>', 'URL of the SlapOS master (default: from the configuration)'))
    .addOption(
      new Option(
        '--cfg <path>',
        `client configuration file (default: $SLAPOS_CLIENT_CONFIGURATION or ${DEFAULT_CLIENT_CONFIGURATION})`,
      ),
    );
  if (options.json !== false) command.option('--json', 'print machine-readable JSON');
  return command;
}

interface ConfigFile {
  path: string;
  ini: IniDocument;
}

function expandPath(path: string, ctx: Pick<CliContext, 'env' | 'cwd'>): string {
  const home = ctx.env.HOME ?? homedir();
  const expanded = path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
  return isAbsolute(expanded) ? expanded : resolve(ctx.cwd, expanded);
}

function readConfigFile(path: string, required: boolean): ConfigFile | undefined {
  if (!required && !existsSync(path)) return undefined;
  return { path, ini: readSlaposConfig(path) };
}

/** The configuration file the client reads, if any. */
function findConfigFile(
  options: ClientCommandOptions,
  ctx: Pick<CliContext, 'env' | 'cwd'>,
): ConfigFile | undefined {
  if (options.cfg !== undefined) return readConfigFile(expandPath(options.cfg, ctx), true);
  const fromEnv = ctx.env.SLAPOS_CLIENT_CONFIGURATION;
  if (fromEnv) return readConfigFile(expandPath(fromEnv, ctx), true);
  const fromHome = readConfigFile(expandPath(DEFAULT_CLIENT_CONFIGURATION, ctx), false);
  if (fromHome) return fromHome;
  const nodeFile = ctx.env.SLAPOS_CONFIGURATION;
  return nodeFile ? readConfigFile(expandPath(nodeFile, ctx), true) : undefined;
}

function tlsFrom(file: ConfigFile, ctx: Pick<CliContext, 'env' | 'cwd'>): TlsMaterial | undefined {
  const setting = (key: string): string | undefined =>
    file.ini.get('slapconsole', key) ?? file.ini.get('slapos', key) ?? undefined;
  const read = (key: string): Buffer | undefined => {
    const value = setting(key);
    if (!value) return undefined;
    const path = expandPath(value, ctx);
    try {
      return readFileSync(path);
    } catch (error) {
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `Cannot read ${key} ${path} (from ${file.path}): ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  };
  const cert = read('cert_file');
  const key = read('key_file');
  const ca = read('master_ca_file');
  if (!cert && !key && !ca) return undefined;
  return { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) };
}

function checkedToken(token: string, where: string): string {
  if (!isAccessToken(token))
    throw new SlapError('SLAP_ERR_CONFIG', `${where} is not a valid access token`, {
      hint: `a token is ${ACCESS_TOKEN_RULE}`,
    });
  return token;
}

function accessTokenFrom(file: ConfigFile | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.SLAPOS_MASTER_TOKEN;
  if (fromEnv) return checkedToken(fromEnv, '$SLAPOS_MASTER_TOKEN');
  for (const section of ['slapconsole', 'slapos']) {
    const token = file?.ini.get(section, MASTER_TOKEN_OPTION)?.trim();
    if (token) return checkedToken(token, `[${section}] ${MASTER_TOKEN_OPTION} of ${file?.path}`);
  }
  return undefined;
}

function masterApiFrom(file: ConfigFile | undefined): MasterApi | undefined {
  for (const section of ['slapconsole', 'slapos']) {
    const value = file?.ini.get(section, 'master_api')?.trim();
    if (!value) continue;
    if (!isMasterApi(value))
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `[${section}] master_api of ${file?.path} is ${JSON.stringify(value)}, not one of ${MASTER_APIS.join(', ')}`,
      );
    return value;
  }
  return undefined;
}

/** Finds the master URL (and TLS material, access token, API) for a client command. */
export function resolveClientConfig(
  options: ClientCommandOptions,
  ctx: Pick<CliContext, 'env' | 'cwd'>,
): ClientConfig {
  const file = findConfigFile(options, ctx);
  const tls = file && tlsFrom(file, ctx);
  const accessToken = accessTokenFrom(file, ctx.env);
  const masterApi = masterApiFrom(file);
  const withCredentials = (config: ClientConfig): ClientConfig => ({
    ...config,
    ...(tls ? { tls } : {}),
    ...(accessToken === undefined ? {} : { accessToken }),
    ...(masterApi === undefined ? {} : { masterApi }),
  });
  if (options.masterUrl !== undefined)
    return withCredentials({ masterUrl: options.masterUrl, source: '--master-url' });
  if (ctx.env.SLAPOS_MASTER_URL)
    return withCredentials({ masterUrl: ctx.env.SLAPOS_MASTER_URL, source: '$SLAPOS_MASTER_URL' });
  for (const section of ['slapconsole', 'slapos']) {
    const url = file?.ini.get(section, 'master_url');
    if (url) return withCredentials({ masterUrl: url, source: `[${section}] master_url of ${file?.path}` });
  }
  const standalone = file ? undefined : nearbyStandaloneConfig(ctx);
  throw new SlapError(
    'SLAP_ERR_USAGE',
    file ? `No master URL: ${file.path} has no [slapconsole] or [slapos] master_url` : 'No master URL given',
    {
      hint: standalone
        ? `a standalone SlapOS is here: pass --cfg ${standalone} (its master's URL is in it), or --master-url http://HOST:PORT`
        : 'pass --master-url http://HOST:PORT (`slapos proxy start` listens on http://127.0.0.1:8080 by default), set $SLAPOS_MASTER_URL, ' +
          `or set master_url in the [slapconsole] section of ${DEFAULT_CLIENT_CONFIGURATION}`,
    },
  );
}

/**
 * The slapos.cfg of a standalone SlapOS found where `slapos standalone` would look ($SLAPOS_STANDALONE_DIR,
 * else ./.slapos) or in the current directory itself, as the shortest path to type; undefined when none.
 */
function nearbyStandaloneConfig(ctx: Pick<CliContext, 'env' | 'cwd'>): string | undefined {
  for (const dir of [resolveStandaloneDir(undefined, ctx), ctx.cwd]) {
    const config = standaloneConfigFile(dir);
    if (!existsSync(config)) continue;
    const fromHere = relative(ctx.cwd, config);
    return fromHere.startsWith('..') || isAbsolute(fromHere) ? config : fromHere;
  }
  return undefined;
}

/** Runs `action` with a MasterClient for the command's master, closing it afterwards. */
export async function withMasterClient<T>(
  ctx: CliContext,
  options: ClientCommandOptions,
  action: (client: MasterClient) => Promise<T>,
): Promise<T> {
  const config = resolveClientConfig(options, ctx);
  // Loaded here, not at start-up: `slapos --help` and the commands that never call a master stay fast.
  const { createMasterClient } = await import('../client/master-api.ts');
  let client: MasterClient;
  try {
    client = createMasterClient({
      api: config.masterApi,
      masterUrl: config.masterUrl,
      logger: ctx.logger(),
      ...(config.tls ? { tls: config.tls } : {}),
      ...(config.accessToken === undefined ? {} : { accessToken: config.accessToken }),
    });
  } catch (error) {
    if (error instanceof SlapError && error.code === 'SLAP_ERR_CONFIG') {
      throw new SlapError(error.code, `${error.message} (from ${config.source})`, {
        ...(error.hint ? { hint: error.hint } : {}),
        cause: error,
      });
    }
    throw error;
  }
  try {
    return await action(client);
  } finally {
    await client.close();
  }
}

/**
 * A rejection handler that restates a master error of `code` in the command's words (keeping the
 * master's error as the cause) and lets every other error through.
 */
export function restate(code: ErrorCode, message: string, hint: string): (error: unknown) => never {
  return (error: unknown) => {
    if (isSlapError(error) && error.code === code) throw new SlapError(code, message, { cause: error, hint });
    throw error;
  };
}

/**
 * An extension's answer, or undefined when the master has none to give (no extension, or the call
 * failed: noted, the rest of the information is still worth showing).
 */
export async function optionalAnswer<T>(
  ctx: CliContext,
  what: string,
  call: () => Promise<T | undefined>,
): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    ctx.note(`warning: could not read ${what}: ${toSlapError(error).message}`);
    return undefined;
  }
}

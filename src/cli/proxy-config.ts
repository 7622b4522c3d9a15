/**
 * The settings of `slapos proxy start`: explicit flags, else slapos.cfg (`[slapos] computer_id`,
 * `[slapproxy] host, port, database_uri`), else defaults.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SlapError } from '../core/errors.ts';
import type { IniDocument } from '../lib/ini.ts';
import { parseDatabaseLocation, type DatabaseLocation } from '../master/storage/database-location.ts';

export interface ProxyStartFlags {
  host?: string | undefined;
  port?: string | undefined;
  database?: string | undefined;
  computerId?: string | undefined;
}

export interface ProxySettings {
  host: string;
  port: number;
  /** Where the port came from, for messages: `--port`, `<cfg> [slapproxy] port` or `the default`. */
  portSource: string;
  database: DatabaseLocation;
  computerId: string | undefined;
  /** `[slapproxy] software_product_list`: product name → software release URL (`slapos request product.<name>`). */
  softwareProducts: Map<string, string>;
}

export const DEFAULT_PROXY_HOST = '127.0.0.1';
export const DEFAULT_PROXY_PORT = 8080;

/** Where the database goes when neither a flag nor slapos.cfg says: $XDG_DATA_HOME/slapos/proxy.db. */
export function defaultDatabasePath(env: NodeJS.ProcessEnv): string {
  const dataHome = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return join(dataHome, 'slapos', 'proxy.db');
}

export function parsePort(text: string, where: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new SlapError('SLAP_ERR_USAGE', `${where}: invalid port ${JSON.stringify(text)} (0-65535)`);
  }
  return Number(text);
}

/** `software_product_list`: one `name url` pair per line, as slapproxy reads it. */
export function parseSoftwareProducts(text: string | undefined, where: string): Map<string, string> {
  const products = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length === 1 && words[0] === '') continue;
    const [name, url] = words;
    if (words.length !== 2 || name === undefined || url === undefined)
      throw new SlapError(
        'SLAP_ERR_USAGE',
        `${where}: expected "name url" per line, not ${JSON.stringify(line)}`,
      );
    products.set(name, url);
  }
  return products;
}

export function resolveProxySettings(
  flags: ProxyStartFlags,
  options: {
    config?: IniDocument | undefined;
    configPath?: string | undefined;
    env: NodeJS.ProcessEnv;
    cwd: string;
  },
): ProxySettings {
  const { config } = options;
  const fromConfig = (section: string, key: string): string | undefined => {
    const value = config?.get(section, key)?.trim();
    return value === '' ? undefined : value;
  };
  const where = options.configPath ?? 'slapos.cfg';
  const portText = flags.port ?? fromConfig('slapproxy', 'port');
  const databaseUri = flags.database ?? fromConfig('slapproxy', 'database_uri');
  const portSource =
    flags.port !== undefined
      ? '--port'
      : portText !== undefined
        ? `${where} [slapproxy] port`
        : 'the default';
  return {
    host: flags.host ?? fromConfig('slapproxy', 'host') ?? DEFAULT_PROXY_HOST,
    port: portText === undefined ? DEFAULT_PROXY_PORT : parsePort(portText, portSource),
    portSource,
    database:
      databaseUri === undefined
        ? { kind: 'sqlite', path: defaultDatabasePath(options.env) }
        : parseDatabaseLocation(
            databaseUri,
            flags.database === undefined ? `${where} [slapproxy] database_uri` : '--database',
            { cwd: options.cwd },
          ),
    computerId: flags.computerId ?? fromConfig('slapos', 'computer_id'),
    softwareProducts: parseSoftwareProducts(
      fromConfig('slapproxy', 'software_product_list'),
      `${where} [slapproxy] software_product_list`,
    ),
  };
}

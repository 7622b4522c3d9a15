/**
 * The settings of `slapos master start` and of the `slapos master user|node|invoice` administration:
 * explicit flags, else the `[master]` section of `--cfg` (`dir`, `host`, `port`, `database_uri`,
 * `public_url`, `regularisation_stop_after_days`, `regularisation_destroy_after_days`,
 * `failover_after`, `failover_grace_after_start`), else
 * defaults. Relative paths are relative to the current directory.
 */
import { resolve } from 'node:path';
import { SlapError } from '../core/errors.ts';
import { regularisationPolicy, type RegularisationPolicy } from '../core/regularisation-policy.ts';
import { parseDatabaseLocation, type DatabaseLocation } from '../master/storage/database-location.ts';
import { parsePort } from './proxy-config.ts';
import { readSlaposConfig } from './slapos-config.ts';

export interface MasterFlags {
  cfg?: string | undefined;
  dir?: string | undefined;
  host?: string | undefined;
  port?: string | undefined;
  database?: string | undefined;
  publicUrl?: string | undefined;
  regularisationStopAfterDays?: string | undefined;
  regularisationDestroyAfterDays?: string | undefined;
  failoverAfter?: string | undefined;
  failoverGraceAfterStart?: string | undefined;
}

export interface MasterSettings {
  dir: string;
  host: string;
  port: number;
  /** Undefined: the SQLite file DIR/master.db. */
  database: DatabaseLocation | undefined;
  publicUrl: string | undefined;
  /** Undefined: the regularisation policy is off. */
  regularisation: RegularisationPolicy | undefined;
  /** When a resilient tree's main is declared lost (seconds; undefined: the defaults). */
  failover: { afterSeconds: number | undefined; graceAfterStartSeconds: number | undefined };
}

export const DEFAULT_MASTER_HOST = '127.0.0.1';
export const DEFAULT_MASTER_PORT = 8443;

export function resolveMasterSettings(flags: MasterFlags, ctx: { cwd: string }): MasterSettings {
  const configPath = flags.cfg === undefined ? undefined : resolve(ctx.cwd, flags.cfg);
  const config = configPath === undefined ? undefined : readSlaposConfig(configPath);
  const fromConfig = (key: string): string | undefined => {
    const value = config?.get('master', key)?.trim();
    return value === '' ? undefined : value;
  };
  const dir = flags.dir ?? fromConfig('dir');
  if (dir === undefined)
    throw new SlapError('SLAP_ERR_USAGE', 'no master directory', {
      hint: 'pass --dir DIR (or `dir` in the [master] section of --cfg)',
    });
  const days = (flag: string | undefined, flagName: string): number | undefined => {
    const key = flagName.slice(2).replaceAll('-', '_');
    const text = flag ?? fromConfig(key);
    if (text === undefined) return undefined;
    if (!/^[0-9]{1,9}$/.test(text))
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `${flag === undefined ? `${configPath} [master] ${key}` : flagName}: a whole number of days, not ${JSON.stringify(text)}`,
      );
    return Number(text);
  };
  const seconds = (flag: string | undefined, flagName: string): number | undefined => {
    const key = flagName.slice(2).replaceAll('-', '_');
    const text = flag ?? fromConfig(key);
    if (text === undefined) return undefined;
    if (!/^[0-9]{1,6}$/.test(text) || Number(text) < 1)
      throw new SlapError(
        'SLAP_ERR_CONFIG',
        `${flag === undefined ? `${configPath} [master] ${key}` : flagName}: a whole number of seconds from 1, not ${JSON.stringify(text)}`,
      );
    return Number(text);
  };
  const portText = flags.port ?? fromConfig('port');
  const databaseUri = flags.database ?? fromConfig('database_uri');
  return {
    dir: resolve(ctx.cwd, dir),
    host: flags.host ?? fromConfig('host') ?? DEFAULT_MASTER_HOST,
    port:
      portText === undefined
        ? DEFAULT_MASTER_PORT
        : parsePort(portText, flags.port === undefined ? `${configPath} [master] port` : '--port'),
    database:
      databaseUri === undefined
        ? undefined
        : parseDatabaseLocation(
            databaseUri,
            flags.database === undefined ? `${configPath} [master] database_uri` : '--database',
            { cwd: ctx.cwd },
          ),
    publicUrl: flags.publicUrl ?? fromConfig('public_url'),
    regularisation: regularisationPolicy({
      stopAfterDays: days(flags.regularisationStopAfterDays, '--regularisation-stop-after-days'),
      destroyAfterDays: days(flags.regularisationDestroyAfterDays, '--regularisation-destroy-after-days'),
    }),
    failover: {
      afterSeconds: seconds(flags.failoverAfter, '--failover-after'),
      graceAfterStartSeconds: seconds(flags.failoverGraceAfterStart, '--failover-grace-after-start'),
    },
  };
}

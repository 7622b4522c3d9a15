/**
 * `slapos proxy start`: the local SlapOS master in proxy mode, until SIGTERM or SIGINT. Like
 * slapproxy it authenticates nobody (and says so: any local user can drive it), unless given
 * `--token-file`: then every call needs `Authorization: Bearer <token>` (the standalone starts it so).
 */
import type { Command } from 'commander';
import { readAccessTokenFile } from '../../lib/access-token.ts';
import { resolve } from 'node:path';
import { isSlapError, SlapError } from '../../core/errors.ts';
import { parseMasterApiSelection } from '../../master/api-selection.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { positiveInteger } from '../node-pass.ts';
import { resolveProxySettings } from '../proxy-config.ts';
import { locateSlaposConfig, readSlaposConfig } from '../slapos-config.ts';
import { watchStopSignals } from '../stop-signals.ts';

interface ProxyStartOptions {
  cfg?: string;
  host?: string;
  port?: string;
  database?: string;
  computerId?: string;
  insecureListen?: boolean;
  tokenFile?: string;
  api?: string;
  maxConnections?: number;
}

async function proxyStart(ctx: CliContext, options: ProxyStartOptions): Promise<void> {
  const configPath = locateSlaposConfig({ cfg: options.cfg, env: ctx.env, cwd: ctx.cwd });
  const config = configPath === undefined ? undefined : readSlaposConfig(configPath);
  const settings = resolveProxySettings(options, { config, configPath, env: ctx.env, cwd: ctx.cwd });
  const accessToken =
    options.tokenFile === undefined
      ? undefined
      : await readAccessTokenFile(resolve(ctx.cwd, options.tokenFile));
  const api = parseMasterApiSelection(options.api ?? 'both', '--api');
  const logger = ctx.logger('daemon');
  const { startMaster } = await import('../../master/server.ts');
  // Watch for the stop signals before starting, so that a stop during startup is graceful too.
  const stop = watchStopSignals();
  if (accessToken === undefined) {
    logger.warn(
      { host: settings.host, port: settings.port },
      'no authentication (slapproxy): any local user can drive this master, and so run commands as this user; ' +
        'give --token-file FILE to require a token',
    );
  }
  try {
    const master = await startMaster({
      host: settings.host,
      port: settings.port,
      database: settings.database,
      computerId: settings.computerId,
      logger,
      insecureListen: options.insecureListen === true,
      accessToken,
      api,
      softwareProducts: settings.softwareProducts,
      ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    }).catch((error: unknown) => {
      if (!isSlapError(error) || error.code !== 'SLAP_ERR_LISTEN_FAILED') throw error;
      throw new SlapError(error.code, error.message, {
        cause: error,
        hint: `the port is ${settings.portSource} (${settings.port}): choose another with --port, or \`port\` under [slapproxy] of --cfg`,
      });
    });
    if (settings.computerId === undefined) {
      logger.warn('no default compute node ([slapos] computer_id or --computer-id): requests must name one');
    }
    const signal = await stop.stopped;
    logger.info({ signal }, 'stopping');
    await master.close();
  } finally {
    stop.dispose();
  }
}

export function registerProxyStart(program: Command, ctx: CliContext): void {
  commandGroup(program, 'proxy')
    .command('start')
    .description(
      'start the SlapOS master in proxy mode (no authentication unless --token-file: loopback only unless ' +
        '--insecure-listen); stops on SIGTERM or SIGINT',
    )
    .option(
      '--cfg <file>',
      'slapos.cfg to read (default: $SLAPOS_CONFIGURATION, else /etc/opt/slapos/slapos.cfg)',
    )
    .option('--host <address>', 'address to listen on ([slapproxy] host; default 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any free one ([slapproxy] port; default 8080)')
    .option(
      '--database <uri>',
      'SQLite file (a path or sqlite:///path) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB ([slapproxy] database_uri; default $XDG_DATA_HOME/slapos/proxy.db)',
    )
    .option('--computer-id <id>', 'the default compute node ([slapos] computer_id)')
    .option('--insecure-listen', 'allow a non-loopback address although nothing is authenticated')
    .option(
      '--token-file <file>',
      'require Authorization: Bearer <token> on every call, the token being the content of FILE (mode 0600)',
    )
    .option(
      '--api <which>',
      'the APIs served: both (default), json (JSON API v0 only) or legacy (the SLAP XML protocol only)',
    )
    .option(
      '--max-connections <n>',
      'connections served at once, the others answered 503 (default 512; each watching node holds one)',
      positiveInteger,
    )
    .action(async (options: ProxyStartOptions) => {
      await proxyStart(ctx, options);
    });
}

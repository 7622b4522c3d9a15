/**
 * `slapos master start`: a SlapOS master in master mode, in the foreground until SIGTERM or SIGINT.
 * HTTPS only; the first start creates DIR (0700) with the certificate authority, the server
 * certificate and the database. Prints where it listens once ready.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { readAccessTokenFile } from '../../lib/access-token.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import {
  DEFAULT_MASTER_HOST,
  DEFAULT_MASTER_PORT,
  resolveMasterSettings,
  type MasterFlags,
} from '../master-config.ts';
import { positiveInteger } from '../node-pass.ts';
import { watchStopSignals } from '../stop-signals.ts';

interface MasterStartFlags extends MasterFlags {
  maxConnections?: number;
  metricsTokenFile?: string;
}

async function masterStart(ctx: CliContext, flags: MasterStartFlags): Promise<void> {
  const settings = resolveMasterSettings(flags, ctx);
  const logger = ctx.logger('daemon');
  const metricsToken =
    flags.metricsTokenFile === undefined
      ? undefined
      : await readAccessTokenFile(resolve(ctx.cwd, flags.metricsTokenFile));
  const { startMasterMode } = await import('../../master/master-mode.ts');
  const stop = watchStopSignals();
  try {
    const master = await startMasterMode({
      dir: settings.dir,
      host: settings.host,
      port: settings.port,
      database: settings.database,
      publicUrl: settings.publicUrl,
      ...(flags.maxConnections === undefined ? {} : { maxConnections: flags.maxConnections }),
      metricsToken,
      regularisation: settings.regularisation === undefined ? undefined : { policy: settings.regularisation },
      failover: settings.failover,
      logger,
    });
    ctx.print(`SlapOS master listening on ${master.url} (certificate authority: ${settings.dir}/ca.crt)`);
    const signal = await stop.stopped;
    logger.info({ signal }, 'stopping');
    await master.close();
  } finally {
    stop.dispose();
  }
}

export function registerMasterStart(program: Command, ctx: CliContext): void {
  commandGroup(program, 'master')
    .command('start')
    .description(
      'start a SlapOS master in master mode (HTTPS only; users, certificates, registered compute nodes); ' +
        'the first start creates DIR; stops on SIGTERM or SIGINT',
    )
    .option('--dir <dir>', 'the master directory: CA, server key and certificate, database ([master] dir)')
    .option('--host <address>', `address to listen on ([master] host; default ${DEFAULT_MASTER_HOST})`)
    .option(
      '--port <port>',
      `port to listen on, 0 for any free one ([master] port; default ${DEFAULT_MASTER_PORT})`,
    )
    .option(
      '--database <uri>',
      'SQLite file (a path or sqlite:///path) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB ([master] database_uri; default DIR/master.db)',
    )
    .option(
      '--public-url <url>',
      'https:// URL nodes and users reach the master by; its host goes into the server certificate ([master] public_url)',
    )
    .option(
      '--regularisation-stop-after-days <days>',
      "stop a user's instance trees when an invoice of theirs is unpaid this many days after its issue " +
        '([master] regularisation_stop_after_days; with the next option; default: no regularisation)',
    )
    .option(
      '--regularisation-destroy-after-days <days>',
      'destroy them when it is unpaid this many days after (more than the previous one) ([master] regularisation_destroy_after_days)',
    )
    .option(
      '--failover-after <seconds>',
      "promote a resilient instance's clone when its main's node and promises were silent this long " +
        '([master] failover_after; default 15)',
    )
    .option(
      '--failover-grace-after-start <seconds>',
      'declare no main lost before the master has been up this long ([master] failover_grace_after_start; default: --failover-after)',
    )
    .option('--cfg <file>', 'configuration file whose [master] section gives the options above')
    .option(
      '--max-connections <n>',
      'connections served at once, the others answered 503 (default 512; each watching node holds one)',
      positiveInteger,
    )
    .option(
      '--metrics-token-file <file>',
      'a file (mode 0600) holding a token that may read /metrics, besides admin users',
    )
    .action(async (options: MasterStartFlags) => {
      await masterStart(ctx, options);
    });
}

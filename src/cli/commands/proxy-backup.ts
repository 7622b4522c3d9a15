/**
 * `slapos proxy backup --out FILE`: an online backup of the proxy's SQLite database (the one
 * `slapos proxy start` uses with the same --database and --cfg), taken while the proxy runs.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { addBackupOptions, runDatabaseBackup, type BackupFlags } from '../database-backup.ts';
import { commandGroup } from '../group.ts';
import { resolveProxySettings } from '../proxy-config.ts';
import { locateSlaposConfig, readSlaposConfig } from '../slapos-config.ts';

type ProxyBackupFlags = BackupFlags & { cfg?: string; database?: string };

export function registerProxyBackup(program: Command, ctx: CliContext): void {
  addBackupOptions(
    commandGroup(program, 'proxy')
      .command('backup')
      .description(
        "copy the proxy's SQLite database to FILE while the proxy runs (a consistent snapshot, integrity checked)",
      )
      .option(
        '--cfg <file>',
        'slapos.cfg to read (default: $SLAPOS_CONFIGURATION, else /etc/opt/slapos/slapos.cfg)',
      )
      .option(
        '--database <path>',
        'SQLite database file ([slapproxy] database_uri; default $XDG_DATA_HOME/slapos/proxy.db)',
      ),
  ).action(async (flags: ProxyBackupFlags) => {
    const configPath = locateSlaposConfig({ cfg: flags.cfg, env: ctx.env, cwd: ctx.cwd });
    const config = configPath === undefined ? undefined : readSlaposConfig(configPath);
    const settings = resolveProxySettings(
      { database: flags.database },
      { config, configPath, env: ctx.env, cwd: ctx.cwd },
    );
    await runDatabaseBackup(ctx, settings.database, flags);
  });
}

/**
 * `slapos master backup --dir DIR --out FILE`: an online backup of a master's SQLite database,
 * taken while the master runs (see master/storage/sqlite-backup.ts). The master directory's
 * certificate authority files are not in it: back them up once, apart (docs/operations.md).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { addBackupOptions, runDatabaseBackup, type BackupFlags } from '../database-backup.ts';
import { commandGroup } from '../group.ts';
import { resolveMasterSettings, type MasterFlags } from '../master-config.ts';

type MasterBackupFlags = BackupFlags & Pick<MasterFlags, 'cfg' | 'dir' | 'database'>;

export function registerMasterBackup(program: Command, ctx: CliContext): void {
  addBackupOptions(
    commandGroup(program, 'master')
      .command('backup')
      .description(
        "copy the master's SQLite database to FILE while the master runs (a consistent snapshot, integrity checked)",
      )
      .option('--dir <dir>', 'the master directory ([master] dir of --cfg)')
      .option('--database <uri>', 'SQLite database file ([master] database_uri; default DIR/master.db)')
      .option('--cfg <file>', 'configuration file whose [master] section gives --dir and --database'),
  ).action(async (flags: MasterBackupFlags) => {
    const settings = resolveMasterSettings(flags, ctx);
    const { MASTER_DATABASE_FILE } = await import('../../master/master-mode.ts');
    await runDatabaseBackup(
      ctx,
      settings.database ?? { kind: 'sqlite', path: join(settings.dir, MASTER_DATABASE_FILE) },
      flags,
    );
  });
}

/**
 * What the `slapos master user|node` commands share: `--dir` (or `--cfg` with a `[master]` section),
 * `--database`, `--json`, and the master directory's administration opened for one command run.
 */
import type { Command } from 'commander';
import type { MasterAdmin } from '../master/master-admin.ts';
import type { CliContext } from './context.ts';
import type { Logger } from '../lib/logger.ts';
import { resolveMasterSettings, type MasterFlags, type MasterSettings } from './master-config.ts';

export interface MasterAdminFlags extends Pick<MasterFlags, 'cfg' | 'dir' | 'database'> {
  json?: boolean;
}

export function addMasterAdminOptions(command: Command, options: { json?: boolean } = {}): Command {
  command
    .option('--dir <dir>', 'the master directory ([master] dir of --cfg)')
    .option(
      '--database <uri>',
      'the database: a SQLite file or a postgresql:// URI ([master] database_uri; default DIR/master.db)',
    )
    .option('--cfg <file>', 'configuration file whose [master] section gives --dir and --database');
  if (options.json !== false) command.option('--json', 'print machine-readable JSON');
  return command;
}

/** What opens on a master directory: the master database and the settings beside it. */
export interface MasterDirectoryOptions {
  dir: string;
  database: MasterSettings['database'];
  logger: Logger;
}

/** Runs `action` on what `open` opens on the master directory (`--dir`/`--cfg`), closing it afterwards. */
export async function withMasterDirectory<Opened extends { close(): Promise<void> }, T>(
  ctx: CliContext,
  flags: MasterAdminFlags,
  open: (options: MasterDirectoryOptions) => Promise<Opened>,
  action: (opened: Opened) => Promise<T>,
): Promise<T> {
  const settings = resolveMasterSettings(flags, ctx);
  const opened = await open({ dir: settings.dir, database: settings.database, logger: ctx.logger() });
  try {
    return await action(opened);
  } finally {
    await opened.close();
  }
}

/** Runs `action` on the master directory's administration, closing it afterwards. */
export function withMasterAdmin<T>(
  ctx: CliContext,
  flags: MasterAdminFlags,
  action: (admin: MasterAdmin) => Promise<T>,
): Promise<T> {
  return withMasterDirectory(
    ctx,
    flags,
    async (options) => (await import('../master/master-admin.ts')).openMasterAdmin(options),
    action,
  );
}

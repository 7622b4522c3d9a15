/**
 * What `slapos master backup` and `slapos proxy backup` share: `--out`, `--force`, `--json`, and
 * the backup itself (master/storage/sqlite-backup.ts), with its progress on stderr.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { SlapError } from '../core/errors.ts';
import type { DatabaseLocation } from '../master/storage/database-location.ts';
import type { CliContext } from './context.ts';

export interface BackupFlags {
  out: string;
  force?: boolean;
  json?: boolean;
}

export function addBackupOptions(command: Command): Command {
  return command
    .requiredOption('--out <file>', 'the backup file to write (mode 0600; refused if it exists)')
    .option('--force', 'replace --out if it exists')
    .option('--json', 'print machine-readable JSON');
}

/** How often progress is written to stderr while a big database is copied. */
const PROGRESS_INTERVAL_MS = 1000;

function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export async function runDatabaseBackup(
  ctx: CliContext,
  database: DatabaseLocation,
  flags: BackupFlags,
): Promise<void> {
  if (database.kind !== 'sqlite')
    throw new SlapError('SLAP_ERR_USAGE', 'this command backs up a SQLite database, not a PostgreSQL one', {
      hint: "back up a PostgreSQL database with PostgreSQL's own tools: pg_dump, or point-in-time recovery (docs/operations.md)",
    });
  const databasePath = database.path;
  const { backupSqliteDatabase } = await import('../master/storage/sqlite-backup.ts');
  const out = resolve(ctx.cwd, flags.out);
  let lastNote = Date.now();
  const result = await backupSqliteDatabase(databasePath, out, {
    force: flags.force === true,
    onProgress: ({ totalPages, remainingPages, pageSize }) => {
      if (Date.now() - lastNote < PROGRESS_INTERVAL_MS) return;
      lastNote = Date.now();
      const copied = totalPages - remainingPages;
      ctx.note(
        `backup: ${Math.floor((100 * copied) / Math.max(1, totalPages))}% ` +
          `(${mebibytes(copied * pageSize)} of ${mebibytes(totalPages * pageSize)})`,
      );
    },
  });
  if (flags.json)
    ctx.printJson({ database: databasePath, out: result.path, bytes: result.bytes, pages: result.pages });
  else ctx.print(`${result.path} (${mebibytes(result.bytes)}, integrity checked)`);
}

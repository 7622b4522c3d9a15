/**
 * `slapos service backups NAME`: the backups of a service and the compute nodes holding each, then
 * the service's last restore (pending or finished) when it has one.
 */
import type { Command } from 'commander';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { backupTable, restoreLine, unknownService } from '../service-backup-text.ts';
import { oneLine } from '../text-block.ts';

export function registerServiceBackups(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('backups')
    .description(
      'list the backups of a service (newest first) and the compute nodes holding each, then its last restore',
    )
    .argument('<reference>', 'your instance reference (its title)');
  addClientOptions(command).action((reference: string, options: ClientCommandOptions) =>
    listBackups(ctx, reference, options),
  );
}

async function listBackups(ctx: CliContext, reference: string, options: ClientCommandOptions): Promise<void> {
  const { backups, restore } = await withMasterClient(ctx, options, (client) =>
    client.getBackupState(reference),
  ).catch(unknownService(reference));
  if (options.json) {
    // `restore` only when the master reports it (an older master does not): the shape stays.
    ctx.printJson({ backup_list: backups, ...(restore === undefined ? {} : { restore }) });
    return;
  }
  const lines = backups.length === 0 ? [`No backup of ${oneLine(reference)} yet.`] : backupTable(backups);
  if (restore) lines.push(restoreLine(restore));
  ctx.print(lines.join('\n'));
}

/** `slapos service backups NAME`: the backups of a service and the compute nodes holding each. */
import type { Command } from 'commander';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { backupTable, unknownService } from '../service-backup-text.ts';

export function registerServiceBackups(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('backups')
    .description('list the backups of a service (newest first) and the compute nodes holding each')
    .argument('<reference>', 'your instance reference (its title)');
  addClientOptions(command).action((reference: string, options: ClientCommandOptions) =>
    listBackups(ctx, reference, options),
  );
}

async function listBackups(ctx: CliContext, reference: string, options: ClientCommandOptions): Promise<void> {
  const backups = await withMasterClient(ctx, options, (client) => client.listBackups(reference)).catch(
    unknownService(reference),
  );
  if (options.json) {
    ctx.printJson({ backup_list: backups });
    return;
  }
  if (backups.length === 0) {
    ctx.print(`No backup of ${reference} yet.`);
    return;
  }
  ctx.print(backupTable(backups).join('\n'));
}

/**
 * `slapos service restore NAME [--backup ID]`: asks the main's node to restore a backup (default:
 * the latest) into the service; prints the request id (the result comes back as an instance event).
 */
import type { Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { unknownService } from '../service-backup-text.ts';

interface RestoreOptions extends ClientCommandOptions {
  backup?: string;
  into?: string;
}

export function registerServiceRestore(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('restore')
    .description('restore a backup into a service (its services are stopped during the restore)')
    .argument('<reference>', 'your instance reference (its title)')
    .option(
      '--backup <id>',
      'the backup to restore (`slapos service backups` lists them; default: the latest)',
    )
    .option('--into <name>', 'restore into a new service instead (not supported yet)');
  addClientOptions(command).action((reference: string, options: RestoreOptions) =>
    restore(ctx, reference, options),
  );
}

async function restore(ctx: CliContext, reference: string, options: RestoreOptions): Promise<void> {
  if (options.into !== undefined) {
    throw new SlapError(
      'SLAP_ERR_NOT_SUPPORTED',
      'restoring into a new service (--into) is not supported yet',
      {
        hint: `restore into the service itself: slapos service restore ${JSON.stringify(reference)} [--backup ID]`,
      },
    );
  }
  const { requestId } = await withMasterClient(ctx, options, (client) =>
    client.requestRestore({ title: reference, backupId: options.backup }),
  ).catch(unknownService(reference));
  if (options.json) {
    ctx.printJson({ request_id: requestId });
    return;
  }
  ctx.note(
    `Restore of ${options.backup === undefined ? 'the latest backup' : `backup ${options.backup}`} requested; ` +
      'its result will show as a `restored` event of the instance (its timeline in the panel).',
  );
  ctx.print(requestId);
}

/**
 * `slapos service backup NAME [--wait]`: asks the main's node of a service to take a backup now.
 * With --wait, polls the service's backups until one that started after the request is listed.
 */
import type { Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { isoTime, unknownService } from '../service-backup-text.ts';
import { addWaitOptions, pollUntil, type WaitOptions } from '../service-wait.ts';
import { oneLine } from '../text-block.ts';

type BackupOptions = ClientCommandOptions & WaitOptions;

export function registerServiceBackup(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('backup')
    .description("take a backup of a service now (its main's node takes it at its next sync)")
    .argument('<reference>', 'your instance reference (its title)');
  addWaitOptions(command, 'wait until the backup is listed (`slapos service backups`)');
  addClientOptions(command).action((reference: string, options: BackupOptions) =>
    backup(ctx, reference, options),
  );
}

async function backup(ctx: CliContext, reference: string, options: BackupOptions): Promise<void> {
  const { requestedAt, taken } = await withMasterClient(ctx, options, async (client) => {
    const { requestedAt } = await client.requestBackup(reference);
    if (!options.wait) return { requestedAt, taken: undefined };
    ctx.note(
      `Backup of ${oneLine(reference)} requested at ${isoTime(requestedAt)}; waiting for it (at most ${options.timeout} s)…`,
    );
    // The first backup that started at or after the request.
    const taken = await pollUntil(ctx, {
      read: () => client.listBackups(reference),
      settle: (listed) =>
        listed
          .filter((backup) => backup.time >= requestedAt)
          .reduce<(typeof listed)[number] | undefined>(
            (first, backup) => (first === undefined || backup.time < first.time ? backup : first),
            undefined,
          ),
      options,
      what: 'the backup',
    });
    if (taken === undefined) {
      throw new SlapError(
        'SLAP_ERR_TIMEOUT',
        `no backup of ${reference} taken after ${isoTime(requestedAt)} was listed within ${options.timeout} s`,
        {
          hint:
            "the main's node takes it at its next sync: check that the node is up (slapos service info); " +
            'the request stays, the backup may still come (slapos service backups)',
        },
      );
    }
    return { requestedAt, taken };
  }).catch(unknownService(reference));
  if (options.json) {
    ctx.printJson({ requested_at: requestedAt, ...(options.wait ? { backup: taken } : {}) });
    return;
  }
  if (taken === undefined) {
    ctx.print(`Backup of ${oneLine(reference)} requested at ${isoTime(requestedAt)}.`);
    return;
  }
  const nodes = taken.computer_guid_list.map(oneLine).join(', ');
  ctx.print(`Backup ${taken.backup_id} taken at ${isoTime(taken.time)}, held by ${nodes || 'no node yet'}.`);
}

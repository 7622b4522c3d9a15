/**
 * `slapos service restore NAME [--backup ID] [--into NEW_NAME] [--wait]`: asks the node of a service
 * (NAME, or NEW_NAME: requested like NAME when it does not exist) to restore a backup of NAME (default:
 * the latest) in place; prints the request id. With --wait, polls the restore status of the service
 * restored into until the node reports the outcome of this request.
 */
import type { Command } from 'commander';
import type { BackupState, RestoreStatus } from '../../client/types.ts';
import { SlapError } from '../../core/errors.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { unknownService } from '../service-backup-text.ts';
import { addWaitOptions, pollUntil, type WaitOptions } from '../service-wait.ts';
import { oneLine, textLines } from '../text-block.ts';

type RestoreOptions = ClientCommandOptions &
  WaitOptions & {
    backup?: string;
    into?: string;
  };

export function registerServiceRestore(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('restore')
    .description('restore a backup into a service (its services are stopped during the restore)')
    .argument('<reference>', 'your instance reference (its title): the service whose backup is restored')
    .option(
      '--backup <id>',
      'the backup to restore (`slapos service backups` lists them; default: the latest)',
    )
    .option(
      '--into <name>',
      'restore into this service instead (your instance of that title, requested like <reference> when it does not exist)',
    );
  addWaitOptions(
    command,
    "wait for the outcome: print the node's message (exit 0), or why it failed (exit 1)",
  );
  addClientOptions(command).action((reference: string, options: RestoreOptions) =>
    restore(ctx, reference, options),
  );
}

async function restore(ctx: CliContext, reference: string, options: RestoreOptions): Promise<void> {
  // The service the request is on: the one restored into.
  const target = options.into ?? reference;
  const backup = options.backup === undefined ? 'the latest backup' : `backup ${oneLine(options.backup)}`;
  const what = `${backup} of ${oneLine(reference)}${options.into === undefined ? '' : ` into ${oneLine(target)}`}`;
  const { requestId, outcome } = await withMasterClient(ctx, options, async (client) => {
    const { requestId } = await client
      .requestRestore({ title: reference, backupId: options.backup, into: options.into })
      .catch(unknownService(reference));
    if (!options.wait) return { requestId, outcome: undefined };
    ctx.note(
      `Restore of ${what} requested (${oneLine(requestId)}); waiting for its outcome (at most ${options.timeout} s)…`,
    );
    const outcome = await pollUntil(ctx, {
      read: () => client.getBackupState(target),
      settle: (state) => settledRestore(state, requestId, target),
      options,
      what: 'the restore',
    }).catch(unknownService(target));
    if (outcome === undefined) {
      throw new SlapError(
        'SLAP_ERR_TIMEOUT',
        `the restore ${oneLine(requestId)} of ${oneLine(target)} did not finish within ${options.timeout} s`,
        {
          hint:
            'the node restores at its next sync: check that it is up (slapos service info); the request stays, ' +
            `its outcome will show in \`slapos service backups ${quoted(target)}\``,
        },
      );
    }
    return { requestId, outcome };
  });
  if (outcome === undefined) {
    if (options.json) {
      ctx.printJson({ request_id: requestId });
      return;
    }
    ctx.note(
      `Restore of ${what} requested; its outcome will show as the last restore of ` +
        `\`slapos service backups ${quoted(target)}\` (and a \`restored\` event of the instance).`,
    );
    ctx.print(requestId);
    return;
  }
  if (options.json) ctx.printJson(outcome);
  if (outcome.state === 'failed') {
    throw new SlapError('SLAP_ERR_RESTORE_FAILED', oneLine(outcome.message || 'the node gave no reason'), {
      hint: `\`slapos service backups ${quoted(reference)}\` lists the backups; restore another with --backup ID`,
    });
  }
  if (!options.json) {
    const message = outcome.message || `restored ${outcome.restored_backup_id ?? 'the backup'}`;
    ctx.print(textLines(message).join('\n'));
  }
}

/**
 * The outcome of the request once the node reported it (undefined while pending). Another request id
 * means a newer request replaced this one before the node took it.
 */
function settledRestore(state: BackupState, requestId: string, target: string): RestoreStatus | undefined {
  const { restore } = state;
  if (restore === undefined) {
    throw new SlapError(
      'SLAP_ERR_NOT_SUPPORTED',
      'the master does not report the outcome of restores (it is older than this client)',
      {
        hint: `the restore ${oneLine(requestId)} stays requested: its outcome will show as a \`restored\` event of the instance`,
      },
    );
  }
  // Null: the master has not recorded the request yet (it does so with the request): look again.
  if (restore === null) return undefined;
  if (restore.request_id !== requestId) {
    throw new SlapError(
      'SLAP_ERR_CONFLICT',
      `the restore ${oneLine(requestId)} of ${oneLine(target)} was superseded by ${oneLine(restore.request_id)}`,
      { hint: `\`slapos service backups ${quoted(target)}\` shows the last restore` },
    );
  }
  return restore.state === 'pending' ? undefined : restore;
}

/** A title as typed in a shell command of a hint, on one line. */
function quoted(title: string): string {
  return oneLine(JSON.stringify(title));
}

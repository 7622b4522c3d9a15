/**
 * `slapos service backup NAME [--wait]`: asks the main's node of a service to take a backup now.
 * With --wait, polls the service's backups until one that started after the request is listed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { BackupListEntry } from '../../client/types.ts';
import { SlapError } from '../../core/errors.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { isoTime, positiveSeconds, unknownService } from '../service-backup-text.ts';
import { oneLine } from '../text-block.ts';

interface BackupOptions extends ClientCommandOptions {
  wait?: boolean;
  timeout: number;
  pollInterval: number;
}

/** How often --wait says it is still waiting. */
const PROGRESS_EVERY_MS = 10_000;

export function registerServiceBackup(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('backup')
    .description("take a backup of a service now (its main's node takes it at its next sync)")
    .argument('<reference>', 'your instance reference (its title)')
    .option('--wait', 'wait until the backup is listed (`slapos service backups`)')
    .option('--timeout <seconds>', 'with --wait: give up after this long', positiveSeconds, 600)
    .option('--poll-interval <seconds>', 'with --wait: how often to look', positiveSeconds, 2);
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
    const taken = await waitForBackup(ctx, {
      list: () => client.listBackups(reference),
      requestedAt,
      timeoutMs: options.timeout * 1000,
      pollIntervalMs: options.pollInterval * 1000,
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

/**
 * The first backup that started at or after the request, polling the list until the deadline;
 * undefined when none came in time.
 */
async function waitForBackup(
  ctx: CliContext,
  input: {
    list: () => Promise<BackupListEntry[]>;
    requestedAt: number;
    timeoutMs: number;
    pollIntervalMs: number;
  },
): Promise<BackupListEntry | undefined> {
  const start = performance.now();
  let nextProgress = PROGRESS_EVERY_MS;
  for (;;) {
    const listed = await listOrNothing(ctx, input.list);
    const answering = listed.filter((backup) => backup.time >= input.requestedAt);
    if (answering.length > 0)
      return answering.reduce((first, backup) => (backup.time < first.time ? backup : first));
    const elapsed = performance.now() - start;
    if (elapsed >= input.timeoutMs) return undefined;
    if (elapsed >= nextProgress) {
      ctx.note(`still waiting for the backup (${Math.round(elapsed / 1000)} s)…`);
      nextProgress += PROGRESS_EVERY_MS;
    }
    await sleep(Math.min(input.pollIntervalMs, input.timeoutMs - elapsed));
  }
}

/**
 * The list, or nothing while the master cannot answer (restarting, unreachable, 5xx): the wait goes
 * on until its deadline. Any other failure (refused, an answer off the contract) ends it.
 */
async function listOrNothing(
  ctx: CliContext,
  list: () => Promise<BackupListEntry[]>,
): Promise<BackupListEntry[]> {
  try {
    return await list();
  } catch (error) {
    const transient =
      error instanceof SlapError && error.code === 'SLAP_ERR_UNAVAILABLE' && error.details?.status !== 200;
    if (!transient) throw error;
    ctx.note(`warning: ${error.message}; trying again`);
    return [];
  }
}

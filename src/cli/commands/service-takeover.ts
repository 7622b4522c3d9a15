/**
 * `slapos service takeover NAME [--clone CLONE]`: promotes a clone of a resilient service to main
 * now (the named one, or the most up-to-date live clone), as the master does when the main's node
 * is lost. The former main is fenced.
 */
import type { Command } from 'commander';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { unknownService } from '../service-backup-text.ts';
import { oneLine } from '../text-block.ts';

interface TakeoverOptions extends ClientCommandOptions {
  clone?: string;
}

export function registerServiceTakeover(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('takeover')
    .description('promote a clone of a resilient service to main now; the former main is fenced')
    .argument('<reference>', 'your instance reference (its title)')
    .option(
      '--clone <title>',
      'the clone to promote, e.g. "NAME (clone 2)" (default: the most up-to-date live one)',
    );
  addClientOptions(command).action((reference: string, options: TakeoverOptions) =>
    takeover(ctx, reference, options),
  );
}

async function takeover(ctx: CliContext, reference: string, options: TakeoverOptions): Promise<void> {
  const result = await withMasterClient(ctx, options, (client) =>
    client.takeOverInstanceTree({ title: reference, clone: options.clone }),
  ).catch(unknownService(reference));
  if (options.json) {
    ctx.printJson(result);
    return;
  }
  ctx.print(
    `${oneLine(result.title)} now runs on ${oneLine(result.compute_node_id)} ${oneLine(result.partition_id)} ` +
      `(epoch ${result.epoch}); the former main is fenced.`,
  );
}

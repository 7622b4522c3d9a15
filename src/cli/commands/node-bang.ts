/** `slapos node bang -m MESSAGE`: ask the master to have every instance of this compute node processed again. */
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addNodeOptions, loadCliNodeConfig, type NodeCommandOptions } from '../node-options.ts';

export function registerNodeBang(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('bang')
    .description(
      'tell the master something happened to this compute node (its instances are processed again)',
    )
    .requiredOption('-m, --message <text>', 'why');
  addNodeOptions(command).action(async (options: NodeCommandOptions & { message: string }) => {
    const config = await loadCliNodeConfig(ctx, options);
    const { createNodeMasterClient } = await import('../../node/master.ts');
    const master = await createNodeMasterClient(config, { logger: ctx.logger() });
    try {
      ctx.note(`Banging to ${config.masterUrl}`);
      await master.bangComputeNode({ computerGuid: config.computerId, message: options.message });
    } finally {
      await master.close();
    }
    if (options.json)
      ctx.printJson({ computer_guid: config.computerId, message: options.message, banged: true });
    else ctx.print(`Compute node ${config.computerId} banged.`);
  });
}

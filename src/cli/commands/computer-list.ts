/** `slapos computer list`: the compute nodes the master knows. */
import type { Command } from 'commander';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';

export function registerComputerList(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'computer').command('list').description('list the compute nodes');
  addClientOptions(command).action(async (options: ClientCommandOptions) => {
    const nodes = await withMasterClient(ctx, options, (client) => client.listComputeNodes());
    if (options.json) ctx.printJson(nodes);
    else if (nodes.length === 0) ctx.print('No existing computer.');
    // Reference, then title: the JSON API has no separate title, so the reference is both (as slapproxy).
    else
      ctx.print(
        ['List of Computers:', ...nodes.map((n) => `${n.computer_guid} ${n.computer_guid}`)].join('\n'),
      );
  });
}

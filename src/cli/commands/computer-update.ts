/** `slapos computer update NODE --allocation-scope S [--friend USER …]`: who may deploy on a node. */
import { Option, type Command } from 'commander';
import { ALLOCATION_SCOPES, type AllocationScope } from '../../core/allocation-scope.ts';
import { SlapError } from '../../core/errors.ts';
import { addClientOptions, restate, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';

interface UpdateOptions extends ClientCommandOptions {
  allocationScope?: AllocationScope;
  friend?: string[];
}

export function registerComputerUpdate(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'computer')
    .command('update')
    .description(
      'set who may deploy on a compute node you own: its allocation scope (personal: you only; ' +
        'friend: you and the --friend users; open: anyone; closed: nothing new)',
    )
    .argument('<reference>', 'the compute node, e.g. COMP-12')
    .addOption(
      new Option('--allocation-scope <scope>', 'the allocation scope').choices([...ALLOCATION_SCOPES]),
    )
    .addOption(
      new Option('--friend <user...>', 'users who may deploy when the scope is friend (replaces the list)'),
    );
  addClientOptions(command).action((reference: string, options: UpdateOptions) =>
    computerUpdate(ctx, reference, options),
  );
}

async function computerUpdate(ctx: CliContext, reference: string, options: UpdateOptions): Promise<void> {
  if (options.allocationScope === undefined && options.friend === undefined) {
    throw new SlapError('SLAP_ERR_USAGE', 'nothing to update', {
      hint: 'pass --allocation-scope and/or --friend',
    });
  }
  const access: { allocationScope?: AllocationScope; friends?: string[] } = {};
  if (options.allocationScope !== undefined) access.allocationScope = options.allocationScope;
  if (options.friend !== undefined) access.friends = [...new Set(options.friend)];
  await withMasterClient(ctx, options, (client) => client.updateComputeNodeAccess(reference, access)).catch(
    restate(
      'SLAP_ERR_COMPUTE_NODE_NOT_FOUND',
      `Computer ${reference} does not exist, or is not yours.`,
      '`slapos computer list` shows the compute nodes you own',
    ),
  );
  if (options.json) ctx.printJson({ computer_guid: reference, ...access, updated: true });
  else ctx.print(`Computer ${reference} updated.`);
}

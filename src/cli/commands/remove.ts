/** `slapos remove URL NODE`: ask a compute node to remove a software release. */
import type { Command } from 'commander';
import { addClientOptions, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { changeSoftwareInstallation } from './supply.ts';

export function registerRemove(program: Command, ctx: CliContext): void {
  const command = program
    .command('remove')
    .description('remove a software release from a compute node')
    .argument('<software_url>', 'URL of the software release')
    .argument('<node>', 'the compute node, e.g. COMP-1234');
  addClientOptions(command).action((softwareUrl: string, node: string, options: ClientCommandOptions) =>
    changeSoftwareInstallation(ctx, options, { softwareUrl, node, state: 'destroyed' }),
  );
}

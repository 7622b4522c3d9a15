/** `slapos supply URL NODE`: ask a compute node to install a software release. */
import type { Command } from 'commander';
import type { SoftwareInstallationState } from '../../core/states.ts';
import { SlapError } from '../../core/errors.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';

export function registerSupply(program: Command, ctx: CliContext): void {
  const command = program
    .command('supply')
    .description('supply a software release to a compute node (the node installs it)')
    .argument('<software_url>', 'URL of the software release')
    .argument('<node>', 'the compute node, e.g. COMP-1234');
  addClientOptions(command).action((softwareUrl: string, node: string, options: ClientCommandOptions) =>
    changeSoftwareInstallation(ctx, options, { softwareUrl, node, state: 'available' }),
  );
}

/** Shared by `supply` and `remove`: sets the requested state of a software installation. */
export async function changeSoftwareInstallation(
  ctx: CliContext,
  options: ClientCommandOptions,
  request: { softwareUrl: string; node: string; state: SoftwareInstallationState },
): Promise<void> {
  const { softwareUrl, node, state } = request;
  if (softwareUrl.trim() === '') throw new SlapError('SLAP_ERR_USAGE', 'the software release URL is empty');
  if (node.trim() === '') throw new SlapError('SLAP_ERR_USAGE', 'the compute node is empty');
  const result = await withMasterClient(ctx, options, (client) => {
    ctx.note(
      state === 'available'
        ? `Requesting software installation of ${softwareUrl}...`
        : `Requesting deletion of ${softwareUrl} Software Release...`,
    );
    return client.supply({ softwareReleaseUri: softwareUrl, computerGuid: node, state });
  });
  if (options.json) ctx.printJson(result);
  else ctx.print('Done.');
}

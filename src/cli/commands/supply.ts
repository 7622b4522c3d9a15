/** `slapos supply URL NODE`: ask a compute node to install a software release. */
import type { Command } from 'commander';
import type { SoftwareInstallationState } from '../../core/states.ts';
import { SlapError } from '../../core/errors.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import type { MasterClient } from '../../client/master-client.ts';

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
  const { result, usedBy } = await withMasterClient(ctx, options, async (client) => {
    ctx.note(
      state === 'available'
        ? `Requesting software installation of ${softwareUrl}...`
        : `Requesting deletion of ${softwareUrl} Software Release...`,
    );
    const answer = await client.supply({ softwareReleaseUri: softwareUrl, computerGuid: node, state });
    return {
      result: answer,
      usedBy: state === 'destroyed' ? await instancesUsing(client, node, softwareUrl) : undefined,
    };
  });
  if (options.json)
    ctx.printJson(state === 'destroyed' ? { ...result, used_by_instances: usedBy ?? null } : result);
  else if (usedBy)
    ctx.print(
      `Done. ${softwareUrl} is still used by ${usedBy} instance${usedBy === 1 ? '' : 's'} on ${node}: the node keeps it until they are destroyed, then removes it.`,
    );
  else ctx.print('Done.');
}

/** How many instances of `node` use `url` (the node keeps it for them); undefined if the master does not say. */
async function instancesUsing(client: MasterClient, node: string, url: string): Promise<number | undefined> {
  try {
    const instances = await client.listComputeNodeInstances(node);
    return instances.filter((instance) => instance.software_release_uri === url).length;
  } catch {
    return undefined;
  }
}

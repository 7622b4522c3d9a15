/** `slapos service info NAME`: software release, state, parameters and connection parameters of a service. */
import type { Command } from 'commander';
import { addClientOptions, restate, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { pythonPformat } from '../python-format.ts';
import { readableConnectionParameters } from './request.ts';

export function registerServiceInfo(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service', 'list and inspect your services (instance trees)')
    .command('info')
    .description('get status, software release and parameters of a service (instance tree)')
    .argument('<reference>', 'your instance reference (its title)');
  addClientOptions(command).action((reference: string, options: ClientCommandOptions) =>
    serviceInfo(ctx, reference, options),
  );
}

async function serviceInfo(ctx: CliContext, reference: string, options: ClientCommandOptions): Promise<void> {
  const instance = await withMasterClient(ctx, options, (client) => client.getInstanceTree(reference)).catch(
    restate(
      'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
      `Instance ${reference} does not exist.`,
      '`slapos service list` shows your services',
    ),
  );
  if (options.json) {
    ctx.printJson(instance);
    return;
  }
  ctx.print(
    [
      `Software Release URL: ${instance.software_release_uri}`,
      `Instance state: ${instance.state}`,
      'Instance parameters:',
      pythonPformat(instance.parameters),
      'Connection parameters:',
      pythonPformat(readableConnectionParameters(instance.connection_parameters)),
    ].join('\n'),
  );
}

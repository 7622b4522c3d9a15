/** `slapos service list`: the instance trees (services) of the caller, with their software release. */
import type { Command } from 'commander';
import type { Instance } from '../../client/types.ts';
import { toSlapError } from '../../core/errors.ts';
import { mapConcurrent } from '../../lib/map-concurrent.ts';
import { addClientOptions, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';

export function registerServiceList(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('list')
    .description('list your services (instance trees) and their software release');
  addClientOptions(command).action((options: ClientCommandOptions) => listServices(ctx, options));
}

async function listServices(ctx: CliContext, options: ClientCommandOptions): Promise<void> {
  const services = await withMasterClient(ctx, options, async (client) => {
    const trees = await client.listInstanceTrees();
    const instances = await mapConcurrent(trees, 8, async ({ title }) => {
      try {
        return await client.getInstanceTree(title);
      } catch (error) {
        // One unreadable tree (e.g. a destroyed shared instance the master still lists) does not hide the others.
        ctx.note(`warning: cannot read service ${title}: ${toSlapError(error).message}`);
        return undefined;
      }
    });
    return instances.filter((instance): instance is Instance => instance !== undefined);
  });
  if (options.json) {
    ctx.printJson(services);
    return;
  }
  if (services.length === 0) {
    ctx.print('No existing service.');
    return;
  }
  ctx.print(['List of services:', ...services.map((s) => `${s.title} ${s.software_release_uri}`)].join('\n'));
}

/**
 * `slapos service info NAME`: software release, state, parameters and connection parameters of a
 * service, and the latest results of its promises when the master has them (our extension).
 */
import type { Command } from 'commander';
import type { MasterClient } from '../../client/master-client.ts';
import type { PromiseResults } from '../../client/types.ts';
import { toSlapError } from '../../core/errors.ts';
import { addClientOptions, restate, withMasterClient, type ClientCommandOptions } from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { pythonPformat } from '../python-format.ts';
import { readableConnectionParameters } from './request.ts';

export function registerServiceInfo(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'service')
    .command('info')
    .description('get status, software release, parameters and promise results of a service (instance tree)')
    .argument('<reference>', 'your instance reference (its title)');
  addClientOptions(command).action((reference: string, options: ClientCommandOptions) =>
    serviceInfo(ctx, reference, options),
  );
}

/** The promise results, or undefined when the master has none to give (no extension, or it failed: noted). */
async function promiseResultsOf(
  ctx: CliContext,
  client: MasterClient,
  instanceGuid: string,
): Promise<PromiseResults | undefined> {
  try {
    return await client.getPromiseResults(instanceGuid);
  } catch (error) {
    ctx.note(`warning: could not read the promise results: ${toSlapError(error).message}`);
    return undefined;
  }
}

async function serviceInfo(ctx: CliContext, reference: string, options: ClientCommandOptions): Promise<void> {
  const { instance, promises } = await withMasterClient(ctx, options, async (client) => {
    const instance = await client.getInstanceTree(reference);
    return { instance, promises: await promiseResultsOf(ctx, client, instance.instance_guid) };
  }).catch(
    restate(
      'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
      `Instance ${reference} does not exist.`,
      '`slapos service list` shows your services',
    ),
  );
  if (options.json) {
    // The instance document as the JSON API v0 gives it, plus our extension's key (null: not available).
    ctx.printJson({
      ...instance,
      promise_results: promises
        ? { reported_at: promises.reported_at, result_list: promises.result_list }
        : null,
    });
    return;
  }
  const lines = [
    `Software Release URL: ${instance.software_release_uri}`,
    `Instance state: ${instance.state}`,
    'Instance parameters:',
    pythonPformat(instance.parameters),
    'Connection parameters:',
    pythonPformat(readableConnectionParameters(instance.connection_parameters)),
  ];
  if (promises && promises.result_list.length > 0) {
    lines.push(`Promises (reported at ${promises.reported_at ?? 'an unknown date'}):`);
    for (const result of promises.result_list) {
      const message = result.message.replace(/\r?\n/g, '\n    ');
      lines.push(`  ${result.name}: ${result.status} (${result.date})${message ? ` ${message}` : ''}`);
    }
  }
  ctx.print(lines.join('\n'));
}

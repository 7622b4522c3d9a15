/**
 * `slapos service info NAME`: software release, state, parameters and connection parameters of a
 * service, what its node reported (status, error) and the latest results of its promises when the
 * master has them (our extensions).
 */
import type { Command } from 'commander';
import {
  addClientOptions,
  optionalAnswer,
  restate,
  withMasterClient,
  type ClientCommandOptions,
} from '../client-config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { instanceStatusLines, promiseResultLines, promiseResultsStale } from '../instance-status-text.ts';
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

async function serviceInfo(ctx: CliContext, reference: string, options: ClientCommandOptions): Promise<void> {
  const { instance, status, promises } = await withMasterClient(ctx, options, async (client) => {
    const instance = await client.getInstanceTree(reference);
    const guid = instance.instance_guid;
    const [status, promises] = await Promise.all([
      optionalAnswer(ctx, 'the instance status', () => client.getInstanceStatus(guid)),
      optionalAnswer(ctx, 'the promise results', () => client.getPromiseResults(guid)),
    ]);
    return { instance, status, promises };
  }).catch(
    restate(
      'SLAP_ERR_INSTANCE_TREE_NOT_FOUND',
      `Instance ${reference} does not exist.`,
      '`slapos service list` shows your services',
    ),
  );
  const stale = promiseResultsStale({
    requested_state: instance.state,
    reported_state: status?.reported_state ?? null,
  });
  if (options.json) {
    // The instance document as the JSON API v0 gives it, plus our extensions' keys (null: not available).
    ctx.printJson({
      ...instance,
      instance_status: status ?? null,
      promise_results: promises
        ? { reported_at: promises.reported_at, stale, result_list: promises.result_list }
        : null,
    });
    return;
  }
  const lines = [
    `Software Release URL: ${instance.software_release_uri}`,
    `Instance state: ${instance.state}`,
    ...(status ? instanceStatusLines(status) : []),
    'Instance parameters:',
    pythonPformat(instance.parameters),
    'Connection parameters:',
    pythonPformat(readableConnectionParameters(instance.connection_parameters)),
    ...(promises ? promiseResultLines(promises, stale) : []),
  ];
  ctx.print(lines.join('\n'));
}

/**
 * `slapos node instance`: deploy, start, stop or destroy the partitions as the master asks, run their
 * promises, report (node.md §4). Exit 0; 1 a partition failed; 2 a promise failed; 3 the master could
 * not be reached (what was deployed was started again).
 */
import { Option, type Command } from 'commander';
import type { InstancePassResult } from '../../node/instance/instance-pass.ts';
import { splitList } from '../../node/partitions.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import {
  addPartitionOptions,
  addPassOptions,
  PassRenderer,
  positiveInteger,
  runPassCommand,
  verbosity,
  type PassCommandOptions,
} from '../node-pass.ts';

interface InstanceCommandOptions extends PassCommandOptions {
  force?: boolean;
  all?: boolean;
  onlyCp?: string;
  only?: string;
  promiseTimeout?: number;
  partitionTimeout?: number;
  maximumPeriodicity?: number;
}

export function registerNodeInstance(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('instance')
    .description("deploy the partitions' instances as the master asks, run their promises, report")
    .option('--force', 'process every partition, even those where nothing changed')
    .addOption(new Option('--all', 'same as --force (deprecated)').hideHelp())
    .option('--partition-timeout <seconds>', "seconds allowed to a partition's profile run", positiveInteger)
    .option(
      '--maximum-periodicity <seconds>',
      'process an unchanged partition again after this long (default: maximum_periodicity, 86400)',
      positiveInteger,
    );
  addPassOptions(addPartitionOptions(command)).action(
    async (options: InstanceCommandOptions, self: Command) => {
      const only = splitList(options.onlyCp ?? options.only);
      const force = options.force === true || options.all === true;
      const onProgress = options.json ? undefined : new PassRenderer(ctx, verbosity(self) > 0).handle;
      const result = await runPassCommand<InstancePassResult>(
        ctx,
        options,
        {
          name: 'node instance',
          lock: 'pidfileInstance',
          delegate: {
            request: { command: 'instance', force, ...(only ? { only } : {}) },
            onEvent: onProgress,
          },
          overrides: {
            promise_timeout: options.promiseTimeout,
            partition_timeout: options.partitionTimeout,
            maximum_periodicity: options.maximumPeriodicity,
          },
        },
        async ({ config, master, logger }) => {
          const { connectSupervisor } = await import('../../node/node-supervisor.ts');
          const { runInstancePass } = await import('../../node/instance/instance-pass.ts');
          const { client } = await connectSupervisor(config);
          return runInstancePass(config, {
            master,
            supervisor: client,
            logger,
            force,
            ...(only === undefined ? {} : { onlyPartitions: only }),
            ...(onProgress ? { onProgress } : {}),
          });
        },
      );
      ctx.exitCode = result.exitCode;
      if (options.json) ctx.printJson(result);
      else ctx.print(summary(result));
    },
  );
}

function summary(result: InstancePassResult): string {
  const counts = new Map<string, number>();
  for (const item of result.items) counts.set(item.outcome, (counts.get(item.outcome) ?? 0) + 1);
  const parts = [...counts].map(([outcome, count]) => `${count} ${outcome}`);
  const lines = [
    `${result.items.length} partition${result.items.length === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''} (${(result.durationMs / 1000).toFixed(2)} s).`,
  ];
  const failed = result.items.filter((item) => item.outcome === 'failed');
  const promises = result.items.filter((item) => item.outcome === 'promise-failed');
  if (failed.length > 0) {
    lines.push('Error while processing the following partitions:');
    for (const item of failed)
      lines.push(`  ${item.partitionId}: ${item.error?.message.split('\n')[0] ?? ''}`);
  }
  if (promises.length > 0) {
    lines.push('Error with promises for the following partitions:');
    for (const item of promises) lines.push(`  ${item.partitionId}: ${item.error?.message ?? ''}`);
  }
  return lines.join('\n');
}

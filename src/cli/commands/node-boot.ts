/**
 * `slapos node boot`: run at machine start (node.md §7.6): wait for the network, format until it
 * works, bang the compute node, and clear the partitions' timestamps so that the next
 * `slapos node instance` deploys and starts everything again.
 */
import type { Command } from 'commander';
import { formatConfig } from '../../node/config.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addPassOptions, PassRenderer, runPassCommand, type PassCommandOptions } from '../node-pass.ts';

interface BootCommandOptions extends PassCommandOptions {
  message?: string;
}

export function registerNodeBoot(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('boot')
    .description('at machine start: format, bang the compute node, have every partition deployed again')
    .option('-m, --message <text>', 'message of the compute node bang', 'Reboot');
  addPassOptions(command).action(async (options: BootCommandOptions) => {
    const result = await runPassCommand(
      ctx,
      { ...options, now: true },
      { name: 'node boot', lock: undefined },
      async ({ config, master, logger }) => {
        const { runBootPass } = await import('../../node/boot.ts');
        const { formatComputeNode } = await import('../../node/format/format.ts');
        const { masterRegistrar } = await import('../../node/master.ts');
        const format = formatConfig(config, ctx.env);
        return runBootPass(config, {
          master,
          logger,
          message: options.message ?? 'Reboot',
          ipv6Interface: config.sandbox || !format.alterNetwork ? undefined : format.ipv6Interface,
          format: () =>
            formatComputeNode(config, { registrar: masterRegistrar(master), logger, env: ctx.env }),
          ...(options.json ? {} : { onProgress: new PassRenderer(ctx, true).handle }),
        });
      },
    );
    if (options.json) ctx.printJson(result);
    else
      ctx.print(
        `Boot done: ${result.cleared.length} partition(s) will be deployed again by slapos node instance.`,
      );
  });
}

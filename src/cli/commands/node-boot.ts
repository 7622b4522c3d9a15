/**
 * `slapos node boot`: run at machine start (node.md §7.6): wait for the network, format until it
 * works, bang the compute node, and clear the partitions' timestamps so that the next
 * `slapos node instance` deploys and starts everything again. Not while a node agent runs: it keeps
 * the partitions deployed itself, and its `node instance --force` is what redeploys them all.
 */
import type { Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import { lockHolder } from '../../lib/pid-lock.ts';
import { agentPaths } from '../../node/agent/settings.ts';
import { formatConfig, type NodeConfig } from '../../node/config.ts';
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
        await refuseWhileAgentRuns(config);
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

/**
 * Boot is for machine start, before the agent: its timestamps clearing means nothing to a running
 * agent (it remembers what it deployed), and its format would race with the agent's passes.
 */
async function refuseWhileAgentRuns(config: NodeConfig): Promise<void> {
  const pid = await lockHolder(agentPaths(config.instanceRoot).pidFile);
  if (pid === undefined) return;
  throw new SlapError(
    'SLAP_ERR_LOCKED',
    `a node agent is running (pid ${pid}): slapos node boot is for machine start, before the agent`,
    {
      hint: 'to have every partition deployed again, run slapos node instance --force (the agent does it); slapos node format and slapos node bang work beside the agent',
      details: { pid },
    },
  );
}

/**
 * `slapos node watchdog`: the supervisor's exit notifier (its `--notify-command`, through the wrapper
 * `<instance_root>/etc/slapos-watchdog` the node writes): reads the exit event as JSON on stdin and
 * bangs the partition's instance, once per successful deployment (node.md §7.4).
 */
import { Option, type Command } from 'commander';
import { text } from 'node:stream/consumers';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { addNodeOptions, loadCliNodeConfig, type NodeCommandOptions } from '../node-options.ts';

export function registerNodeWatchdog(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('watchdog')
    .description("bang a partition's instance when one of its services exits (run by the supervisor)")
    .addOption(new Option('--event <json>', 'the event (default: read from stdin)').hideHelp());
  addNodeOptions(command).action(async (options: NodeCommandOptions & { event?: string }) => {
    const { createNodeMasterClient } = await import('../../node/master.ts');
    const { handleServiceExit, parseServiceExitEvent } = await import('../../node/watchdog.ts');
    const config = await loadCliNodeConfig(ctx, options);
    const event = parseServiceExitEvent(options.event ?? (await text(process.stdin)));
    const logger = ctx.logger();
    const master = await createNodeMasterClient(config, { logger });
    try {
      const result = await handleServiceExit(config, event, { master, logger });
      if (options.json) ctx.printJson(result);
      else ctx.print(result.banged ? `Banged: ${result.message ?? ''}` : `Not banged: ${result.reason}.`);
    } finally {
      await master.close();
    }
  });
}

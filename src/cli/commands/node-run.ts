/**
 * `slapos node run`: the long-running node agent (src/node/agent), until SIGTERM or SIGINT. It takes
 * the software, instance and report locks for its lifetime (one-shot `node software|instance|report`
 * runs would race with it), starts the supervisor if needed (unless
 * `forbid_supervisord_automatic_launch`), and keeps its status in
 * `<instance_root>/var/run/slapos-node-run.json`. Stopping it leaves the services running.
 */
import type { Command } from 'commander';
import { SlapError } from '../../core/errors.ts';
import type { CliContext } from '../context.ts';
import { commandGroup } from '../group.ts';
import { DEFAULT_CONFIG_PATH } from '../../node/config.ts';
import { loadCliNodeConfig, type NodeCommandOptions } from '../node-options.ts';
import { watchStopSignals } from '../stop-signals.ts';

interface RunOptions extends NodeCommandOptions {
  masterUrl?: string;
  computerId?: string;
  pidfile?: string;
  grace?: string;
}

async function nodeRun(ctx: CliContext, options: RunOptions): Promise<void> {
  const graceMs = options.grace === undefined ? 10_000 : Number(options.grace) * 1000;
  if (!Number.isFinite(graceMs) || graceMs < 0)
    throw new SlapError('SLAP_ERR_USAGE', `--grace expects seconds, got ${JSON.stringify(options.grace)}`);
  const config = await loadCliNodeConfig(ctx, options, {
    master_url: options.masterUrl,
    computer_id: options.computerId,
  });
  const { runAgentProcess } = await import('../../node/agent/run-agent.ts');
  // Stop signals are watched before anything starts, so that a stop during startup is graceful too.
  const stop = watchStopSignals();
  try {
    await runAgentProcess(config, {
      logger: ctx.logger('daemon'),
      stop: stop.stopped,
      graceMs,
      ...(options.pidfile === undefined ? {} : { pidFile: options.pidfile }),
    });
  } finally {
    stop.dispose();
  }
}

export function registerNodeRun(program: Command, ctx: CliContext): void {
  const command = commandGroup(program, 'node')
    .command('run')
    .description(
      'run the node agent: build software, deploy instances and report as the master asks, woken by its ' +
        'change stream within milliseconds; stops on SIGTERM or SIGINT, leaving the services running',
    )
    .option('--master-url <url>', 'the master (default: master_url of slapos.cfg)')
    .option('--computer-id <id>', 'this compute node (default: computer_id)')
    .option(
      '--pidfile <path>',
      'pid file of the agent (default: <instance_root>/var/run/slapos-node-run.pid)',
    )
    .option(
      '--grace <seconds>',
      'on SIGTERM, let running passes finish this long before aborting them',
      '10',
    );
  command
    .option(
      '--cfg <path>',
      `node configuration file (default: $SLAPOS_CONFIGURATION or ${DEFAULT_CONFIG_PATH})`,
    )
    .action(async (options: RunOptions) => {
      await nodeRun(ctx, options);
    });
}
